"""Contrastive losses over a batch of labels and embeddings, and over explicit pairs.

``ContrastiveLoss`` takes every ordered pair (a, k) of the batch, a != k (or every query x key
pair, see ``tfml.losses.base``); with m+ = ``positive_margin``, m- = ``margin`` and p = 2 when
``squared`` (Hadsell et al. 2006, the default) or 1 (pytorch-metric-learning's ContrastiveLoss):

    positive pair (same label):  max(d - m+, 0)^p
    negative pair:               max(m- - d, 0)^p

and the loss is reducer(positive terms) + reducer(negative terms). Which pairs count (``pairs``):

- ``"all"``: every pair;
- ``"hard"``: positive pairs farther apart than the closest negative of either member, negative
  pairs closer than m-;
- ``"margin"``: pytorch-metric-learning's PairMarginMiner with ``miner_margins`` = (mp, mn):
  positive pairs with d > mp, negative pairs with d < mn.

pytorch-metric-learning's defaults are ``ContrastiveLoss(margin=1.0, squared=False,
reducer="mean_nonzero")`` on plain Euclidean distances.

``ContrastivePairLoss`` takes explicit pairs y_pred (B, 2, D) with y_true 1 (similar) or 0: the
term of a pair is y max(d - m+, 0)^p + (1 - y) max(m- - d, 0)^p.

>>> import numpy as np
>>> labels = np.array([0, 0, 1, 1])
>>> points = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
>>> float(ContrastiveLoss(margin=2.0)(labels, points))   # (1 + 2.25) / 2 + (0.5^2) / 4
1.6875
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import MetricLoss, label_masks
from tfml.losses.distances import paired_distances, pairwise_distances

PAIRS = ("all", "hard", "margin")


def _terms(d, margin, positive_margin, squared):
    power = 2.0 if squared else 1.0
    return tf.maximum(d - positive_margin, 0.0) ** power, tf.maximum(margin - d, 0.0) ** power


@keras.saving.register_keras_serializable(package="tfml")
class ContrastiveLoss(MetricLoss):
    """Contrastive loss over the pairs of a batch (see the module docstring)."""

    def __init__(self, margin: float = 1.0, pairs: str = "all", positive_margin: float = 0.0, squared: bool = True,
                 miner_margins: tuple[float, float] = (0.2, 0.8), name="contrastive_loss", **kwargs):
        if pairs not in PAIRS:
            raise ValueError(f"pairs must be one of {', '.join(PAIRS)}, got {pairs!r}")
        super().__init__(name, margin=margin, pairs=pairs, positive_margin=positive_margin, squared=squared,
                         miner_margins=tuple(miner_margins), **kwargs)

    def terms(self, y_true, y_pred):
        labels, queries, keys = self.split(y_true, y_pred)
        d = pairwise_distances(queries, keys, self.distance)
        positive, negative = label_masks(labels, None if keys is None else labels)
        options = self.options
        if options["pairs"] == "hard":
            closest_negative = tf.reduce_min(tf.where(negative, d, tf.reduce_max(d) + 1.0), axis=1)  # none: never hard
            closest_of_key = closest_negative if keys is None else tf.reduce_min(
                tf.where(tf.transpose(negative), tf.transpose(d), tf.reduce_max(d) + 1.0), axis=1)
            positive &= d > tf.minimum(closest_negative[:, None], closest_of_key[None, :])
            negative &= d < options["margin"]
        elif options["pairs"] == "margin":
            low, high = options["miner_margins"]
            positive &= d > low
            negative &= d < high
        positive_terms, negative_terms = _terms(d, options["margin"], options["positive_margin"], options["squared"])
        return {"positive": (positive_terms, positive), "negative": (negative_terms, negative)}


@keras.saving.register_keras_serializable(package="tfml")
class ContrastivePairLoss(MetricLoss):
    """Contrastive loss on explicit pairs: y_pred (B, 2, D), y_true 1 for similar pairs, 0 otherwise."""

    def __init__(self, margin: float = 1.0, positive_margin: float = 0.0, squared: bool = True,
                 name="contrastive_pair_loss", **kwargs):
        super().__init__(name, margin=margin, positive_margin=positive_margin, squared=squared, **kwargs)

    def terms(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        d = paired_distances(y_pred[:, 0], y_pred[:, 1], self.distance)
        similar = tf.cast(tf.reshape(y_true, [-1]), d.dtype)
        positive_terms, negative_terms = _terms(d, self.options["margin"], self.options["positive_margin"], self.options["squared"])
        values = (similar * positive_terms + (1.0 - similar) * negative_terms)[:, None]
        return {"pairs": (values, tf.ones_like(values, tf.bool))}
