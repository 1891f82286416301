"""Proxy and classifier losses, as pytorch-metric-learning 2.9 computes them with its default
cosine similarities. Each reads y_pred = the (B, C) class similarities cos(e_i, w_c) of a
``tfml.models.ClassProxies`` layer (which holds the proxies w_c; see its module for why) and
y_true = the labels; y_c is sample i's class, onehot its indicator:

- ``ProxyAnchorLoss(margin=0.1, alpha=32)`` (Kim et al. 2020): with P the proxies of the classes in
  the batch, 1/|P| sum_{c in P} log(1 + sum_{i: y_i = c} exp(-alpha (cos_ic - margin))) + 1/C
  sum_c log(1 + sum_{i: y_i != c} exp(alpha (cos_ic + margin))). One value for the batch.
- ``ProxyNCALoss(softmax_scale=1)`` (Movshovitz-Attias et al. 2017): -log softmax_c(-scale
  |e_i/|e_i| - w_c/|w_c||^2) at y_i, the squared distances of unit vectors (2 - 2 cos); mean over
  the samples whose probability is not 0.
- ``NormalizedSoftmaxLoss(temperature=0.05)`` (Zhai and Wu 2018): cross-entropy of cos / T.
- ``CosFaceLoss(margin=0.35, scale=64)`` (Wang et al. 2018): cross-entropy of scale (cos - margin
  onehot).
- ``ArcFaceLoss(margin=28.6 degrees, scale=64)`` (Deng et al. 2019): cross-entropy of scale cos with
  the target's cos(theta) replaced by cos(theta + m) (by cos(theta) - m sin(m) past theta = pi - m,
  keeping it decreasing); ``SubCenterArcFaceLoss`` is the same loss on a ``ClassProxies`` layer
  with ``sub_centers`` (3 in the paper).

The softmax losses are averaged over the samples (reducer "mean"); ProxyAnchor's value is the
batch's (every sample carries it to Keras). None of them takes a miner.

>>> import numpy as np
>>> cosines = np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)
>>> round(float(NormalizedSoftmaxLoss(temperature=1.0)(np.array([0, 1]), cosines)), 4)   # mean of two cross-entropies
0.4043
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfml.losses.base import MetricLoss, masked_logsumexp, per_sample
from tfml.losses.reducers import Terms


class ClassSimilarityLoss(MetricLoss):
    """Base: ``class_terms(labels, cosine, onehot)`` on the (B, C) class similarities of a
    ``ClassProxies`` layer. ``proxy_initializer``: how pytorch-metric-learning initialises this
    loss's weights (a Keras initializer config, for ``ClassProxies(initializer=...)``): a standard
    normal, Proxy Anchor's Kaiming normal apart."""

    proxy_initializer = {"class_name": "RandomNormal", "config": {"stddev": 1.0}}

    def __init__(self, name: str, **kwargs):
        if kwargs.pop("miner", None) is not None:
            raise ValueError(f"{type(self).__name__} takes no miner")
        super().__init__(name, **kwargs)

    def inputs(self, y_true, y_pred):
        cosine = tf.convert_to_tensor(y_pred)
        if cosine.shape.rank != 2:
            raise ValueError(
                f"{type(self).__name__} reads the (batch, classes) similarities of a ClassProxies layer, got shape "
                f"{cosine.shape}"
            )
        labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        return labels, cosine, tf.one_hot(labels, tf.shape(cosine)[1], dtype=cosine.dtype)

    def terms(self, y_true, y_pred):
        return self.class_terms(*self.inputs(y_true, y_pred))

    def class_terms(self, labels, cosine, onehot) -> dict[str, Terms]:
        raise NotImplementedError


def _cross_entropy(labels, logits) -> Terms:
    values = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)[:, None]
    return Terms(values, tf.ones_like(values, tf.bool))


@keras.saving.register_keras_serializable(package="tfml")
class ProxyAnchorLoss(ClassSimilarityLoss):
    """Proxy Anchor: 1/|P| sum_{c in P} log(1 + sum_{y_i = c} e^(-alpha (cos_ic - margin))) + 1/C sum_c
    log(1 + sum_{y_i != c} e^(alpha (cos_ic + margin))), P the classes present in the batch.

    >>> import numpy as np
    >>> cosines = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)   # each sample on its proxy
    >>> round(float(ProxyAnchorLoss(margin=0.0, alpha=1.0)(np.array([0, 1]), cosines)), 4)   # log(1 + 1/e) + log 2
    1.0064
    """

    # torch's kaiming_normal_(mode="fan_out") on (C, D): std sqrt(2 / C), Keras's fan_in of a (C, D) kernel
    proxy_initializer = {
        "class_name": "VarianceScaling",
        "config": {"scale": 2.0, "mode": "fan_in", "distribution": "untruncated_normal"},
    }

    def __init__(self, margin: float = 0.1, alpha: float = 32.0, name="proxy_anchor_loss", **kwargs):
        super().__init__(name, **kwargs)
        self.margin, self.alpha = float(margin), float(alpha)

    def anchor_values(self, y_true, y_pred):
        labels, cosine, onehot = self.inputs(y_true, y_pred)
        members = tf.cast(onehot, tf.bool)
        positive = masked_logsumexp(-self.alpha * (cosine - self.margin), members, axis=0, add_one=True)
        negative = masked_logsumexp(self.alpha * (cosine + self.margin), ~members, axis=0, add_one=True)
        present = tf.reduce_sum(tf.cast(tf.reduce_any(members, axis=0), cosine.dtype))
        value = tf.reduce_sum(positive) / present + tf.reduce_sum(negative) / tf.cast(tf.shape(cosine)[1], cosine.dtype)
        return per_sample(value, tf.shape(cosine)[0])

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "alpha": self.alpha}


@keras.saving.register_keras_serializable(package="tfml")
class ProxyNCALoss(ClassSimilarityLoss):
    """ProxyNCA: -log softmax_c(-scale d_ic^2) at y_i with d_ic^2 = 2 - 2 cos_ic (unit vectors); mean
    over the samples whose probability is not 0.

    >>> import numpy as np
    >>> cosines = np.array([[1.0, 0.0]], np.float32)
    >>> round(float(ProxyNCALoss()(np.array([0]), cosines)), 4)   # log(1 + e^-2)
    0.1269
    """

    def __init__(self, softmax_scale: float = 1.0, name="proxy_nca_loss", **kwargs):
        super().__init__(name, **kwargs)
        self.softmax_scale = float(softmax_scale)

    def class_terms(self, labels, cosine, onehot):
        probability = tf.reduce_sum(tf.nn.softmax(self.softmax_scale * -(2.0 - 2.0 * cosine), axis=1) * onehot, axis=1)
        positive = probability > 0
        values = -tf.math.log(tf.where(positive, probability, 1.0))
        return {"samples": Terms(values[:, None], positive[:, None])}

    def get_config(self):
        return {**super().get_config(), "softmax_scale": self.softmax_scale}


@keras.saving.register_keras_serializable(package="tfml")
class NormalizedSoftmaxLoss(ClassSimilarityLoss):
    """Normalised softmax: cross-entropy of cos / temperature; mean over the samples.

    >>> import numpy as np
    >>> round(float(NormalizedSoftmaxLoss(temperature=1.0)(np.array([0]), np.array([[1.0, 0.0]], np.float32))), 4)
    0.3133
    """

    def __init__(self, temperature: float = 0.05, name="normalized_softmax_loss", **kwargs):
        super().__init__(name, **kwargs)
        self.temperature = float(temperature)

    def class_terms(self, labels, cosine, onehot):
        return {"samples": _cross_entropy(labels, cosine / self.temperature)}

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="tfml")
class CosFaceLoss(ClassSimilarityLoss):
    """CosFace (large-margin cosine loss): cross-entropy of scale (cos - margin onehot).

    >>> import numpy as np
    >>> round(float(CosFaceLoss(margin=0.5, scale=1.0)(np.array([0]), np.array([[1.0, 0.0]], np.float32))), 4)
    0.4741
    """

    def __init__(self, margin: float = 0.35, scale: float = 64.0, name="cosface_loss", **kwargs):
        super().__init__(name, **kwargs)
        self.margin, self.scale = float(margin), float(scale)

    def class_terms(self, labels, cosine, onehot):
        return {"samples": _cross_entropy(labels, self.scale * (cosine - self.margin * onehot))}

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "scale": self.scale}


@keras.saving.register_keras_serializable(package="tfml")
class ArcFaceLoss(ClassSimilarityLoss):
    """ArcFace (additive angular margin): cross-entropy of scale cos with the target's
    cos(theta) replaced by cos(theta + m), or cos(theta) - m sin(m) past theta = pi - m; margin in
    degrees.

    >>> import numpy as np
    >>> cosines = np.array([[1.0, 0.0]], np.float32)
    >>> round(float(ArcFaceLoss(margin=90.0, scale=1.0)(np.array([0]), cosines)), 4)   # logits 0, 0
    0.6931
    """

    def __init__(self, margin: float = 28.6, scale: float = 64.0, name="arcface_loss", **kwargs):
        super().__init__(name, **kwargs)
        self.margin, self.scale = float(margin), float(scale)

    def class_terms(self, labels, cosine, onehot):
        margin = math.radians(self.margin)
        target = tf.reduce_sum(cosine * onehot, axis=1)
        angle = tf.acos(tf.clip_by_value(target, -1.0, 1.0))
        modified = tf.where(
            angle <= math.pi - margin, tf.cos(angle + margin), tf.cos(angle) - margin * math.sin(margin)
        )
        logits = cosine + onehot * (modified - target)[:, None]
        return {"samples": _cross_entropy(labels, self.scale * logits)}

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "scale": self.scale}


@keras.saving.register_keras_serializable(package="tfml")
class SubCenterArcFaceLoss(ArcFaceLoss):
    """SubCenter ArcFace (Deng et al. 2020): ArcFace on the similarities of a ``ClassProxies`` layer
    with ``sub_centers`` K > 1, whose class similarity is the largest of the class's K proxies.

    >>> import numpy as np
    >>> round(float(SubCenterArcFaceLoss(margin=90.0, scale=1.0)(np.array([0]), np.array([[1.0, 0.0]], np.float32))), 4)
    0.6931
    """

    def __init__(self, margin: float = 28.6, scale: float = 64.0, name="subcenter_arcface_loss", **kwargs):
        super().__init__(margin, scale, name=name, **kwargs)
