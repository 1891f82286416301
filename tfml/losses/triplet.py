"""Triplet losses over a batch of labels and embeddings, and over explicit triplets.

Label losses take ``labels`` (B,) or (B, 1) and embeddings (B, D), or (B, 2, D) queries and keys
(see ``tfml.losses.base``). A positive of anchor a is another item with its label, a negative an
item with another label; d is the loss's distance.

- ``TripletSemiHardLoss`` (tensorflow-addons 0.23 ``triplet_semihard_loss``): for each positive
  pair (a, p), the negative is the closest n with d(a, n) > d(a, p), or, if there is none, the
  farthest negative of a; term max(0, margin + d(a, p) - d(a, n)). With the "mean" reducer the
  value is tensorflow-addons' (the mean over positive pairs), except that a batch without positive
  pairs or without negatives gives 0, not NaN.
- ``TripletHardLoss`` (batch-hard): for each anchor with a positive and a negative, the farthest
  positive and the closest negative; term max(0, margin + d_ap - d_an), or log(1 + exp(d_ap - d_an))
  when ``soft``.
- ``TripletLoss`` (pytorch-metric-learning's TripletMarginLoss with a TripletMarginMiner): every
  triplet (a, p, n) of the batch that ``triplets`` selects, term max(0, d(a, p) - d(a, n) + margin);
  with m = d(a, n) - d(a, p): "all" keeps m <= margin (the triplets that violate it), "semihard"
  0 < m <= margin, "hard" m <= 0, "easy" m > margin; "indexed" takes one triplet per anchor given
  by y_true (B, 3) = (label, index of the positive in the batch, index of the negative), e.g. drawn
  at random by ``tfml.pipelines.random_in_batch_triplets``. pytorch-metric-learning averages over
  the triplets with a non-zero term (``reducer="mean_nonzero"``, its default).
- ``TripletMarginLoss``: explicit (anchor, positive, negative) triplets, y_pred (B, 3, D), y_true
  unused; term max(0, margin + d(a, p) - d(a, n)) per triplet.

>>> import numpy as np
>>> labels = np.array([0, 0, 1, 1])
>>> points = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
>>> round(float(TripletHardLoss(margin=1.0)(labels, points)), 4)   # anchors: 0, 0.5, 1, 0
0.375
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import MetricLoss, label_masks
from tfml.losses.distances import paired_distances, pairwise_distances


def semihard_negatives(d, negative):
    """For each (a, p) of the distances d (B, M): the distance of the closest negative key farther
    from a than p, or of a's farthest negative when none is (tensorflow-addons' rule). Negatives of
    each anchor are sorted once and searched, so this is O(B M log M), not O(B M^2)."""
    big = tf.reduce_max(d) + 1.0
    sorted_negatives = tf.sort(tf.where(negative, d, big), axis=1)
    n_negatives = tf.reduce_sum(tf.cast(negative, tf.int32), axis=1, keepdims=True)
    first_farther = tf.searchsorted(sorted_negatives, d, side="right")
    closest = tf.gather(sorted_negatives, tf.minimum(first_farther, tf.shape(d)[1] - 1), batch_dims=1)
    farthest = tf.gather(sorted_negatives, tf.maximum(n_negatives - 1, 0), batch_dims=1)
    return tf.where(first_farther < n_negatives, closest, farthest)


@keras.saving.register_keras_serializable(package="tfml")
class TripletSemiHardLoss(MetricLoss):
    """Semi-hard triplet loss with tensorflow-addons semantics (see the module docstring)."""

    def __init__(self, margin: float = 1.0, name="triplet_semihard_loss", **kwargs):
        super().__init__(name, margin=margin, **kwargs)

    def terms(self, y_true, y_pred):
        labels, queries, keys = self.split(y_true, y_pred)
        d = pairwise_distances(queries, keys, self.distance)
        positive, negative = label_masks(labels, None if keys is None else labels)
        hinge = tf.maximum(self.options["margin"] + d - semihard_negatives(d, negative), 0.0)
        return {"triplets": (hinge, positive & tf.reduce_any(negative))}


@keras.saving.register_keras_serializable(package="tfml")
class TripletHardLoss(MetricLoss):
    """Batch-hard triplet loss, hinge or soft (see the module docstring)."""

    def __init__(self, margin: float = 1.0, soft: bool = False, name="triplet_hard_loss", **kwargs):
        super().__init__(name, margin=margin, soft=soft, **kwargs)

    def terms(self, y_true, y_pred):
        labels, queries, keys = self.split(y_true, y_pred)
        d = pairwise_distances(queries, keys, self.distance)
        positive, negative = label_masks(labels, None if keys is None else labels)
        hardest_positive = tf.reduce_max(tf.where(positive, d, tf.zeros_like(d)), axis=1)
        hardest_negative = tf.reduce_min(tf.where(negative, d, tf.reduce_max(d) + 1.0), axis=1)
        gap = hardest_positive - hardest_negative
        values = tf.math.softplus(gap) if self.options["soft"] else tf.maximum(self.options["margin"] + gap, 0.0)
        valid = tf.reduce_any(positive, axis=1) & tf.reduce_any(negative, axis=1)
        return {"anchors": (values[:, None], valid[:, None])}


TRIPLETS = ("all", "semihard", "hard", "easy", "indexed")


@keras.saving.register_keras_serializable(package="tfml")
class TripletLoss(MetricLoss):
    """Triplet margin loss over the triplets of a batch a miner selects (see the module docstring).

    >>> import numpy as np
    >>> labels = np.array([0, 0, 1, 1])
    >>> points = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
    >>> semihard = TripletLoss(margin=1.0, triplets="semihard")   # selects (1, 0, 2): term 0.5, and (2, 3, 0): term 0
    >>> float(semihard(labels, points)), float(TripletLoss(margin=1.0, triplets="semihard", reducer="mean_nonzero")(labels, points))
    (0.25, 0.5)
    """

    def __init__(self, margin: float = 0.2, triplets: str = "all", name="triplet_loss", **kwargs):
        if triplets not in TRIPLETS:
            raise ValueError(f"triplets must be one of {', '.join(TRIPLETS)}, got {triplets!r}")
        super().__init__(name, margin=margin, triplets=triplets, **kwargs)

    def terms(self, y_true, y_pred):
        margin, selection = self.options["margin"], self.options["triplets"]
        if selection == "indexed":
            y_true = tf.reshape(tf.convert_to_tensor(y_true), [-1, 3])
            _, queries, keys = self.split(y_true[:, 0], y_pred)
            d = pairwise_distances(queries, keys, self.distance)
            rows = tf.range(tf.shape(d)[0])
            ap = tf.gather_nd(d, tf.stack([rows, tf.cast(y_true[:, 1], tf.int32)], axis=1))
            an = tf.gather_nd(d, tf.stack([rows, tf.cast(y_true[:, 2], tf.int32)], axis=1))
            values = tf.maximum(ap - an + margin, 0.0)[:, None]
            return {"triplets": (values, tf.ones_like(values, tf.bool))}
        labels, queries, keys = self.split(y_true, y_pred)
        d = pairwise_distances(queries, keys, self.distance)
        positive, negative = label_masks(labels, None if keys is None else labels)
        gap = d[:, None, :] - d[:, :, None]  # (a, p, n): d(a, n) - d(a, p)
        valid = positive[:, :, None] & negative[:, None, :]
        keep = {"all": gap <= margin, "semihard": (gap > 0) & (gap <= margin), "hard": gap <= 0, "easy": gap > margin}[selection]
        batch = tf.shape(d)[0]
        values = tf.reshape(tf.maximum(margin - gap, 0.0), [batch, -1])
        return {"triplets": (values, tf.reshape(valid & keep, [batch, -1]))}


@keras.saving.register_keras_serializable(package="tfml")
class TripletMarginLoss(MetricLoss):
    """Margin loss on explicit triplets y_pred (B, 3, D) = (anchor, positive, negative); y_true unused."""

    def __init__(self, margin: float = 1.0, name="triplet_margin_loss", **kwargs):
        super().__init__(name, margin=margin, **kwargs)

    def terms(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        gap = paired_distances(y_pred[:, 0], y_pred[:, 1], self.distance) - paired_distances(y_pred[:, 0], y_pred[:, 2], self.distance)
        values = tf.maximum(self.options["margin"] + gap, 0.0)[:, None]
        return {"triplets": (values, tf.ones_like(values, tf.bool))}
