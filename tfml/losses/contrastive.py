"""Contrastive loss on a batch of class labels and embeddings (and on explicit pairs).

Over the pairs i < j of the batch: mean over the selected positive pairs (same label) of d^2, plus
mean over the selected negative pairs of max(margin - d, 0)^2; a term with no selected pair is 0.
pairs="all" selects every pair. pairs="hard" selects the positive pairs farther apart than the
closest negative of either of their two members, and the negative pairs closer than the margin.
``distance``: "l2" (default), "squared_l2" or "cosine".

``contrastive_pair_loss`` takes explicit pairs y_pred (B, 2, D) with y_true 1 (similar) or 0:
mean over the pairs of y d^2 + (1 - y) max(margin - d, 0)^2.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.distances import paired_distances, pairwise_distances
from tfml.losses.triplet import _BatchLoss, _label_masks

PAIRS = ("all", "hard")


def _masked_mean(values, mask):
    mask = tf.cast(mask, values.dtype)
    count = tf.reduce_sum(mask)
    return tf.where(count > 0, tf.reduce_sum(values * mask) / tf.maximum(count, 1.0), tf.zeros([], values.dtype))


def contrastive_loss(labels, embeddings, margin: float = 1.0, pairs: str = "all", distance: str = "l2"):
    if pairs not in PAIRS:
        raise ValueError(f"pairs must be one of {PAIRS}, got {pairs!r}")
    embeddings = tf.convert_to_tensor(embeddings)
    d = pairwise_distances(embeddings, distance)
    positive, negative = _label_masks(labels, embeddings.dtype)
    if pairs == "hard":
        closest_negative = tf.reduce_min(tf.where(negative, d, tf.reduce_max(d) + 1.0), axis=1)  # no negative: never hard
        positive &= d > tf.minimum(closest_negative[:, None], closest_negative[None, :])
        negative &= d < margin
    upper = tf.linalg.band_part(tf.ones_like(d, dtype=tf.bool), 0, -1) & ~tf.eye(tf.shape(d)[0], dtype=tf.bool)
    positive, negative = positive & upper, negative & upper
    return _masked_mean(tf.square(d), positive) + _masked_mean(tf.square(tf.maximum(margin - d, 0.0)), negative)


def contrastive_pair_loss(similar, pairs, margin: float = 1.0, distance: str = "l2"):
    pairs = tf.convert_to_tensor(pairs)
    d = paired_distances(pairs[:, 0], pairs[:, 1], distance)
    similar = tf.cast(tf.reshape(similar, [-1]), d.dtype)
    return tf.reduce_mean(similar * tf.square(d) + (1.0 - similar) * tf.square(tf.maximum(margin - d, 0.0)))


@keras.saving.register_keras_serializable(package="tfml")
class ContrastiveLoss(_BatchLoss):
    """Contrastive loss over the pairs of a batch (see the module docstring).

    >>> loss = ContrastiveLoss(margin=1.0, pairs="hard")
    >>> value = loss(labels, embeddings)
    """

    def __init__(self, margin: float = 1.0, pairs: str = "all", distance: str = "l2", name="contrastive_loss", **kwargs):
        if pairs not in PAIRS:
            raise ValueError(f"pairs must be one of {PAIRS}, got {pairs!r}")
        super().__init__(name, margin=margin, pairs=pairs, distance=distance, **kwargs)

    def call(self, y_true, y_pred):
        return contrastive_loss(y_true, y_pred, **self.options)


@keras.saving.register_keras_serializable(package="tfml")
class ContrastivePairLoss(_BatchLoss):
    """Contrastive loss on explicit pairs: y_pred (B, 2, D), y_true 1 for similar pairs, 0 otherwise."""

    def __init__(self, margin: float = 1.0, distance: str = "l2", name="contrastive_pair_loss", **kwargs):
        super().__init__(name, margin=margin, distance=distance, **kwargs)

    def call(self, y_true, y_pred):
        return contrastive_pair_loss(y_true, y_pred, **self.options)
