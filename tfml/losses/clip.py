"""Two-tower losses on matched pairs: symmetric InfoNCE (CLIP, Radford et al. 2021) and the
sigmoid loss (SigLIP, Zhai et al. 2023).

y_pred (B, 2, D): row i holds the scaled query s u_i (e.g. a poster's embedding times the learned
logit scale s) and its key v_i (its synopsis'); logits L[i, j] = sim(s u_i, v_j), the similarity
of ``distance`` (default ``DotProductSimilarity``: L = (s U) V^T; a distance d gives -d), and item
i's match is column i:

    loss = 1/2 [ mean_i CE(softmax(L[i, :]), i)  +  mean_j CE(softmax(L[:, j]), j) ]

(cross-entropy over the keys for each query, and over the queries for each key). y_true is unused.

SigLIP, as open_clip computes it: every (query, key) pair is its own binary problem, z_ij = +1 for
a match (i = j) and -1 otherwise, with logits L[i, j] = t u_i . v_j + b (scale t and bias b
learned, from 10 and -10):

    loss = 1/B sum_i sum_j -log sigmoid(z_ij L[i, j])

With ``tfml.models.LogitBias`` the aligner appends b to the scaled query and 1 to the key, so that
the dot product of the rows in y_pred is already t u . v + b.

``SymmetricLoss(loss)`` takes any batch loss of ``tfml.losses`` both ways on matched pairs (the
queries as anchors against every key, then the keys against every query) and averages: e.g.
multi-label SupCon of posters and synopses whose positives are a movie's own synopsis and the
synopses of movies with similar genres (``JaccardLabels(graded=True)`` on multi-hot y_true).

>>> import numpy as np
>>> pair = np.array([[[3.0, 0.0], [1.0, 0.0]], [[0.0, 3.0], [0.0, 1.0]]])   # scale 3, each item nearest its match
>>> round(float(ClipLoss()(np.zeros(2), pair)), 6) == round(float(np.log1p(np.exp(-3.0))), 6)   # log(1 + e^-3)
True
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import BatchMetricLoss, MetricLoss
from tfml.losses.distances import DotProductSimilarity
from tfml.losses.reducers import Terms


class MatchedPairsLoss(MetricLoss):
    """Base of the two-tower losses: ``pair_terms(logits)`` on the (B, B) logits L[i, j] =
    sim(query i, key j) of matched pairs y_pred (B, 2, D) (the negated distance for a distance)."""

    def __init__(self, name, distance=None, **kwargs):
        super().__init__(name, distance=DotProductSimilarity() if distance is None else distance, **kwargs)

    def terms(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        matrix = self.distance(y_pred[:, 0], y_pred[:, 1])
        return self.pair_terms(matrix if self.distance.is_inverted else -matrix)

    def pair_terms(self, logits) -> dict[str, Terms]:
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="tfml")
class ClipLoss(MatchedPairsLoss):
    """Symmetric InfoNCE over a batch of matched pairs y_pred (B, 2, D): with logits L[i, j] =
    sim(query i, key j), 1/2 [mean_i CE(softmax(L[i, :]), i) + mean_j CE(softmax(L[:, j]), j)].

    >>> import numpy as np
    >>> pairs = np.array([[[3.0, 0.0], [1.0, 0.0]], [[0.0, 3.0], [0.0, 1.0]]])
    >>> round(float(ClipLoss()(np.zeros(2), pairs)), 4)   # log(1 + e^-3)
    0.0486
    """

    def __init__(self, distance=None, name="clip_loss", **kwargs):
        super().__init__(name, distance, **kwargs)

    def pair_terms(self, logits):
        labels = tf.range(tf.shape(logits)[0])
        rows = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)[:, None]
        columns = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.transpose(logits))[:, None]
        every = tf.ones_like(rows, tf.bool)
        return {"query_to_key": Terms(rows, every, weight=0.5), "key_to_query": Terms(columns, every, weight=0.5)}


@keras.saving.register_keras_serializable(package="tfml")
class SigLipLoss(MatchedPairsLoss):
    """Sigmoid loss over a batch of matched pairs y_pred (B, 2, D): with logits L[i, j] =
    sim(query i, key j) (the bias included in the rows, see the module docstring) and z = 2 I - 1,
    1/B sum_i sum_j softplus(-z_ij L[i, j]) (= -log sigmoid(z_ij L[i, j])).

    >>> import numpy as np
    >>> pairs = np.array([[[2.0, 0.0], [1.0, 0.0]], [[0.0, 2.0], [0.0, 1.0]]])   # L = 2 I
    >>> round(float(SigLipLoss()(np.zeros(2), pairs)), 4)   # log(1 + e^-2) + log 2
    0.8201
    """

    def __init__(self, distance=None, name="siglip_loss", **kwargs):
        super().__init__(name, distance, **kwargs)

    def pair_terms(self, logits):
        signs = 2.0 * tf.eye(tf.shape(logits)[0], dtype=logits.dtype) - 1.0
        rows = tf.reduce_sum(tf.math.softplus(-signs * logits), axis=1, keepdims=True)
        return {"pairs": Terms(rows, tf.ones_like(rows, tf.bool))}


@keras.saving.register_keras_serializable(package="tfml")
class SymmetricLoss(MetricLoss):
    """``loss`` (a batch loss of ``tfml.losses``) both ways on matched pairs y_pred (B, 2, D):
    1/2 [loss(y, (queries, keys)) + loss(y, (keys, queries))], each direction reduced as ``loss``
    reduces it. Row i's key is always row i's positive (``tfml.losses.batch``), so with one label
    per pair and ``SupConLoss(temperature=1, distance="dot")`` this is CLIP's symmetric InfoNCE.

    >>> import numpy as np
    >>> from tfml.losses import SupConLoss
    >>> pairs = np.array([[[3.0, 0.0], [1.0, 0.0]], [[0.0, 3.0], [0.0, 1.0]]])
    >>> both = SymmetricLoss(SupConLoss(temperature=1.0, distance="dot"))(np.arange(2), pairs)
    >>> round(float(both), 4) == round(float(ClipLoss()(np.zeros(2), pairs)), 4)
    True
    """

    def __init__(self, loss: BatchMetricLoss | dict, name=None, dtype=None, **kwargs):
        self.loss = keras.saving.deserialize_keras_object(loss) if isinstance(loss, dict) else loss
        if not isinstance(self.loss, BatchMetricLoss):
            raise TypeError(f"SymmetricLoss takes a pair or triplet loss of tfml.losses, not {self.loss!r}")
        super().__init__(name or f"symmetric_{self.loss.name}", dtype=dtype, **kwargs)

    def anchor_values(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        if y_pred.shape.rank != 3 or y_pred.shape[1] != 2:
            raise ValueError(f"SymmetricLoss needs matched pairs (batch, 2, dim), got shape {y_pred.shape}")
        total, valid = None, None
        for pairs in (y_pred, tf.reverse(y_pred, axis=[1])):
            values, anchors = self.loss.anchor_values(y_true, pairs)
            share = tf.where(anchors, values, tf.zeros_like(values)) / (
                2.0 * tf.maximum(tf.reduce_sum(tf.cast(anchors, values.dtype)), 1.0)
            )
            total = share if total is None else total + share
            valid = anchors if valid is None else valid | anchors
        return total * tf.reduce_sum(tf.cast(valid, total.dtype)), valid

    def get_config(self):
        config = super().get_config()
        config.pop("reducer", None)
        return {**config, "loss": keras.saving.serialize_keras_object(self.loss)}
