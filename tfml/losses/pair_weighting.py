"""Losses that weigh every pair of a batch through a log-sum-exp, as pytorch-metric-learning 2.9
computes them (its defaults: cosine similarity, and the reducer named below).

With s the similarity matrix (for a distance d, the margins below are taken on d the other way
round: ``Distance.margin``), P_a and N_a the positive and negative keys of anchor a kept by the
miner (every pair without one), and lse_K(x) = log(sum over K of exp(x_k)) (0 for an empty K;
lse+ adds exp(0) = 1 inside):

- ``MultiSimilarityLoss(alpha=2, beta=50, base=0.5)`` (Wang et al. 2019), per anchor:
  1/alpha lse+_{P_a}(-alpha (s - base)) + 1/beta lse+_{N_a}(beta (s - base)); mean over anchors.
- ``CircleLoss(m=0.4, gamma=80)`` (Sun et al. 2020), per anchor with a positive and a negative:
  softplus(lse_{P_a}(-gamma [1 + m - s]+ (s - 1 + m)) + lse_{N_a}(gamma [s + m]+ (s - m))), the
  weights [.]+ held constant in the gradient; mean over the non-zero anchors.
- ``GeneralizedLiftedStructureLoss(neg_margin=1, pos_margin=0)`` (Hermans et al. 2017), per
  anchor: [lse_{P_a}(d - pos_margin) + lse_{N_a}(neg_margin - d)]+, on L2-normalised Euclidean
  distances by default; mean over anchors.
- ``TupletMarginLoss(margin=5.73 degrees, scale=64)`` (Yu and Tao 2019), per positive pair
  (a, p) with theta its angle: lse+_{N_a}(scale (s(a, n) - cos(theta - margin))); mean over the
  positive pairs.

Like pytorch-metric-learning, a selection with at most one positive pair and at most one negative
pair gives 0.

>>> import numpy as np
>>> labels, x = np.array([0, 0, 1, 1]), np.array([[1.0, 0.1], [1.0, 0.2], [0.1, 1.0], [0.2, 1.0]], np.float32)
>>> round(float(MultiSimilarityLoss()(labels, x)), 4)
0.158
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfml.losses.base import BatchMetricLoss, masked_logsumexp
from tfml.losses.distances import CosineSimilarity, LpDistance
from tfml.losses.miners import Pairs, pairs_of
from tfml.losses.reducers import Terms


def enough_pairs(pairs: Pairs) -> tf.Tensor:
    """False when the selection holds at most one positive and at most one negative pair
    (pytorch-metric-learning's pair losses then give 0)."""
    count = lambda mask: tf.reduce_sum(tf.cast(mask, tf.int32))  # noqa: E731
    return (count(pairs.positive) > 1) | (count(pairs.negative) > 1)


def per_anchor(values, keep) -> Terms:
    """One term per anchor (row), kept where ``keep`` (B,)."""
    return Terms(values[:, None], tf.reshape(keep, [-1, 1]))


class PairLoss(BatchMetricLoss):
    """A loss of ``batch_pairs(batch, pairs, s)`` with the pairs the miner kept and the matrix of the
    loss's distance; 0 for a selection of at most one positive and one negative pair."""

    def batch_terms(self, batch, selection):
        pairs = pairs_of(selection)
        enough = enough_pairs(pairs)
        pairs = Pairs(pairs.positive & enough, pairs.negative & enough)
        return self.batch_pairs(batch, pairs, batch.matrix(self.distance))

    def batch_pairs(self, batch, pairs: Pairs, matrix) -> dict[str, Terms]:
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="tfml")
class MultiSimilarityLoss(PairLoss):
    """Multi-similarity loss: per anchor a, 1/alpha log(1 + sum_{p in P_a} exp(-alpha (s_ap - base)))
    + 1/beta log(1 + sum_{n in N_a} exp(beta (s_an - base))); mean over anchors.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1]), np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    >>> round(float(MultiSimilarityLoss(alpha=1.0, beta=1.0, base=0.5)(labels, x)), 4)
    1.2337
    """

    def __init__(
        self, alpha: float = 2.0, beta: float = 50.0, base: float = 0.5, name="multi_similarity_loss", **kwargs
    ):
        kwargs.setdefault("distance", CosineSimilarity())
        super().__init__(name, **kwargs)
        self.alpha, self.beta, self.base = float(alpha), float(beta), float(base)

    def batch_pairs(self, batch, pairs, s):
        positive = masked_logsumexp(self.alpha * self.distance.margin(s, self.base), pairs.positive, add_one=True)
        negative = masked_logsumexp(self.beta * self.distance.margin(self.base, s), pairs.negative, add_one=True)
        values = positive / self.alpha + negative / self.beta
        return {"anchors": per_anchor(values, tf.ones_like(values, tf.bool))}

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta, "base": self.base}


@keras.saving.register_keras_serializable(package="tfml")
class CircleLoss(PairLoss):
    """Circle loss (cosine similarity only): per anchor with a positive and a negative,
    softplus(lse_p(-gamma [1 + m - s_ap]+ (s_ap - 1 + m)) + lse_n(gamma [s_an + m]+ (s_an - m))), the
    weights [.]+ constant in the gradient; mean over the non-zero anchors.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1]), np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    >>> round(float(CircleLoss(m=0.25, gamma=1.0)(labels, x)), 4)
    0.8987
    """

    def __init__(self, m: float = 0.4, gamma: float = 80.0, name="circle_loss", **kwargs):
        kwargs.setdefault("distance", CosineSimilarity())
        kwargs.setdefault("reducer", "mean_nonzero")
        super().__init__(name, **kwargs)
        if not isinstance(self.distance, CosineSimilarity):
            raise ValueError(f"CircleLoss is defined on cosine similarities, not {self.distance!r}")
        self.m, self.gamma = float(m), float(gamma)

    def batch_pairs(self, batch, pairs, s):
        fixed = tf.stop_gradient(s)
        positive_logits = -self.gamma * tf.nn.relu(1.0 + self.m - fixed) * (s - (1.0 - self.m))
        negative_logits = self.gamma * tf.nn.relu(fixed + self.m) * (s - self.m)
        total = masked_logsumexp(positive_logits, pairs.positive) + masked_logsumexp(negative_logits, pairs.negative)
        both = tf.reduce_any(pairs.positive, axis=1) & tf.reduce_any(pairs.negative, axis=1)
        values = tf.where(both, tf.math.softplus(total), tf.zeros_like(total))
        return {"anchors": per_anchor(values, tf.ones_like(both))}

    def get_config(self):
        return {**super().get_config(), "m": self.m, "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="tfml")
class GeneralizedLiftedStructureLoss(PairLoss):
    """Generalised lifted structure loss: per anchor, [lse_{p in P_a}(d_ap - pos_margin) +
    lse_{n in N_a}(neg_margin - d_an)]+; mean over anchors (default distance: ``LpDistance()``).

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1]), np.array([[0.0], [1.0], [3.0]], np.float32)
    >>> loss = GeneralizedLiftedStructureLoss(neg_margin=2.5, distance="euclidean")
    >>> round(float(loss(labels, x)), 4)   # (0.5 + 1.5 + log(e^-0.5 + e^0.5)) / 3
    0.9378
    """

    def __init__(
        self, neg_margin: float = 1.0, pos_margin: float = 0.0, name="generalized_lifted_structure_loss", **kwargs
    ):
        kwargs.setdefault("distance", LpDistance())
        super().__init__(name, **kwargs)
        self.neg_margin, self.pos_margin = float(neg_margin), float(pos_margin)

    def batch_pairs(self, batch, pairs, d):
        positive = masked_logsumexp(self.distance.margin(d, self.pos_margin), pairs.positive)
        negative = masked_logsumexp(self.distance.margin(self.neg_margin, d), pairs.negative)
        values = tf.nn.relu(positive + negative)
        return {"anchors": per_anchor(values, tf.ones_like(values, tf.bool))}

    def get_config(self):
        return {**super().get_config(), "neg_margin": self.neg_margin, "pos_margin": self.pos_margin}


@keras.saving.register_keras_serializable(package="tfml")
class TupletMarginLoss(PairLoss):
    """Tuplet margin loss (cosine similarity only): per positive pair (a, p) at angle theta,
    log(1 + sum_{n in N_a} exp(scale (s_an - cos(theta - margin)))), margin in degrees; mean over
    the positive pairs.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1]), np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    >>> round(float(TupletMarginLoss(margin=0.0, scale=1.0)(labels, x)), 4)   # log(1 + e^(0 - 1))
    0.3133
    """

    def __init__(self, margin: float = 5.73, scale: float = 64.0, name="tuplet_margin_loss", **kwargs):
        kwargs.setdefault("distance", CosineSimilarity())
        super().__init__(name, **kwargs)
        if not isinstance(self.distance, CosineSimilarity):
            raise ValueError(f"TupletMarginLoss is defined on cosine similarities, not {self.distance!r}")
        self.margin, self.scale = float(margin), float(scale)

    def batch_pairs(self, batch, pairs, s):
        angle = tf.acos(tf.clip_by_value(tf.where(pairs.positive, s, 0.0), -1.0, 1.0))  # only where defined
        shifted = tf.cos(angle - math.radians(self.margin))  # (a, p)
        logits = self.scale * (s[:, None, :] - shifted[:, :, None])  # (a, p, n)
        negatives = tf.broadcast_to(pairs.negative[:, None, :], tf.shape(logits))
        values = masked_logsumexp(logits, negatives, axis=2, add_one=True)
        return {"positive_pairs": Terms(values, pairs.positive & tf.reduce_any(pairs.negative))}

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "scale": self.scale}
