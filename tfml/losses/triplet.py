"""Triplet losses on a batch of class labels and embeddings (and on explicit triplets).

All take ``labels`` (B,) or (B, 1) and ``embeddings`` (B, D); ``distance`` is "l2" (default),
"squared_l2" or "cosine". Positive pairs are (a, p) with a != p and equal labels; negatives have
another label.

- semi-hard (tensorflow-addons 0.23 ``triplet_semihard_loss``): for each positive pair (a, p), the
  negative is the closest n with d(a, n) > d(a, p), or, if there is none, the farthest negative of a;
  loss = sum over positive pairs of max(0, margin + d(a, p) - d(a, n)) / number of positive pairs.
  Deviations: a batch without positive pairs, or with a single class, gives 0 (not NaN).
- batch-hard: for each anchor with at least one positive and one negative, the farthest positive and
  the closest negative; max(0, margin + d_ap - d_an), or log1p(exp(d_ap - d_an)) when soft; mean over
  those anchors (0 if none).
- margin: explicit (anchor, positive, negative) triplets, y_pred (B, 3, D); mean of
  max(0, margin + d(a, p) - d(a, n)).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.distances import check_distance, paired_distances, pairwise_distances


def _label_masks(labels, dtype):
    labels = tf.reshape(labels, [-1])
    same = tf.equal(labels[:, None], labels[None, :])
    not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    return tf.logical_and(same, not_self), tf.logical_not(same)


def triplet_semihard_loss(labels, embeddings, margin: float = 1.0, distance: str = "l2"):
    embeddings = tf.convert_to_tensor(embeddings)
    dtype = embeddings.dtype
    d = pairwise_distances(embeddings, distance)
    positive, negative = _label_masks(labels, dtype)
    # Each anchor's negative distances sorted ascending (non-negatives pushed to the end): the
    # closest negative farther than d(a, p) is found by binary search, in O(B^2 log B), not O(B^3).
    big = tf.reduce_max(d) + 1.0
    sorted_negatives = tf.sort(tf.where(negative, d, big), axis=1)
    n_negatives = tf.reduce_sum(tf.cast(negative, tf.int32), axis=1, keepdims=True)
    first_farther = tf.searchsorted(sorted_negatives, d, side="right")  # (a, p)
    found = first_farther < n_negatives
    closest_semihard = tf.gather(sorted_negatives, tf.minimum(first_farther, tf.shape(d)[0] - 1), batch_dims=1)
    farthest_negative = tf.gather(sorted_negatives, tf.maximum(n_negatives - 1, 0), batch_dims=1)
    chosen = tf.where(found, closest_semihard, farthest_negative)
    hinge = tf.maximum(margin + d - chosen, 0.0)
    positive_f = tf.cast(positive, dtype)
    count = tf.reduce_sum(positive_f)
    has_negative = tf.reduce_any(negative)
    total = tf.reduce_sum(hinge * positive_f)
    return tf.where(tf.logical_and(count > 0, has_negative), total / tf.maximum(count, 1.0), tf.zeros([], dtype))


def triplet_hard_loss(labels, embeddings, margin: float = 1.0, soft: bool = False, distance: str = "l2"):
    embeddings = tf.convert_to_tensor(embeddings)
    dtype = embeddings.dtype
    d = pairwise_distances(embeddings, distance)
    positive, negative = _label_masks(labels, dtype)
    hardest_positive = tf.reduce_max(tf.where(positive, d, tf.zeros_like(d)), axis=1)
    big = tf.reduce_max(d) + 1.0
    hardest_negative = tf.reduce_min(tf.where(negative, d, big), axis=1)
    gap = hardest_positive - hardest_negative
    per_anchor = tf.math.softplus(gap) if soft else tf.maximum(margin + gap, 0.0)
    valid = tf.cast(tf.logical_and(tf.reduce_any(positive, axis=1), tf.reduce_any(negative, axis=1)), dtype)
    count = tf.reduce_sum(valid)
    return tf.where(count > 0, tf.reduce_sum(per_anchor * valid) / tf.maximum(count, 1.0), tf.zeros([], dtype))


def triplet_margin_loss(triplets, margin: float = 1.0, distance: str = "l2"):
    triplets = tf.convert_to_tensor(triplets)
    anchor, positive, negative = triplets[:, 0], triplets[:, 1], triplets[:, 2]
    gap = paired_distances(anchor, positive, distance) - paired_distances(anchor, negative, distance)
    return tf.reduce_mean(tf.maximum(margin + gap, 0.0))


class _BatchLoss(keras.losses.Loss):
    """A loss whose value is computed over the whole batch: y_true = labels, y_pred = embeddings."""

    def __init__(self, name, reduction="sum_over_batch_size", dtype=None, **options):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if "distance" in options:
            check_distance(options["distance"])
        self.options = options

    def get_config(self):
        return {**super().get_config(), **self.options}


@keras.saving.register_keras_serializable(package="tfml")
class TripletSemiHardLoss(_BatchLoss):
    """Semi-hard triplet loss (tensorflow-addons semantics; see the module docstring).

    >>> loss = TripletSemiHardLoss(margin=1.0)
    >>> value = loss(labels, embeddings)
    """

    def __init__(self, margin: float = 1.0, distance: str = "l2", name="triplet_semihard_loss", **kwargs):
        super().__init__(name, margin=margin, distance=distance, **kwargs)

    def call(self, y_true, y_pred):
        return triplet_semihard_loss(y_true, y_pred, **self.options)


@keras.saving.register_keras_serializable(package="tfml")
class TripletHardLoss(_BatchLoss):
    """Batch-hard triplet loss, hinge or soft (see the module docstring)."""

    def __init__(self, margin: float = 1.0, soft: bool = False, distance: str = "l2", name="triplet_hard_loss", **kwargs):
        super().__init__(name, margin=margin, soft=soft, distance=distance, **kwargs)

    def call(self, y_true, y_pred):
        return triplet_hard_loss(y_true, y_pred, **self.options)


@keras.saving.register_keras_serializable(package="tfml")
class TripletMarginLoss(_BatchLoss):
    """Margin loss on explicit triplets y_pred (B, 3, D) = (anchor, positive, negative); y_true unused."""

    def __init__(self, margin: float = 1.0, distance: str = "l2", name="triplet_margin_loss", **kwargs):
        super().__init__(name, margin=margin, distance=distance, **kwargs)

    def call(self, y_true, y_pred):
        return triplet_margin_loss(y_pred, **self.options)
