"""The base of tfml's metric-learning losses: loss terms per anchor, a reducer, Keras reduction.

A loss is a set of *terms* (a triplet's hinge, a pair's contrastive value, a row's cross-entropy),
each belonging to one anchor (a row of the batch). A subclass's ``terms(y_true, y_pred)`` returns
named parts, each (values (B, M), mask (B, M)): the terms of anchor a are values[a, mask[a]].
The *reducer* makes one number of each part, and the loss is their weighted sum:

- ``"mean"``: the mean of the part's terms;
- ``"mean_nonzero"``: the mean of its terms that are > 0 (pytorch-metric-learning's
  AvgNonZeroReducer: easy triplets or pairs, already at zero, do not dilute the hard ones);
- ``"sum"``: their sum.

A part with no term (no counted term, for "mean_nonzero") is 0, so a degenerate batch (one class,
no positive pair) gives 0, never NaN.

Per-sample values for Keras: ``call`` returns, for each anchor a,
l_a = |V| sum_parts w_part sum_t v_t[a] / n_part, with V the anchors that have a term and n_part
the part's divisor (its term count, non-zero term count or 1), and marks anchors outside V as
masked. Keras's default reduction, "sum_over_batch_size", averages over the unmasked anchors, which
gives exactly the reduced loss; ``sample_weight`` weights anchors; ``reduction=None`` returns l_a.

Query and key embeddings: ``y_pred`` is (B, D), one embedding per row, or (B, 2, D), a query and a
key per row (e.g. a poster and its synopsis; the same image under two augmentations). Losses over
labels compare each query with every key (``split``); without keys, the queries are the keys.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras.src.backend.common.masking import set_keras_mask  # how a Keras loss says which values count

from tfml.losses.distances import LOSS_DISTANCES, canonical_distance

REDUCERS = ("mean", "mean_nonzero", "sum")


def label_masks(labels, key_labels=None) -> tuple[tf.Tensor, tf.Tensor]:
    """(positive, negative), boolean (B, M): same label (not the item itself when the keys are the
    queries) / other label."""
    labels = tf.reshape(labels, [-1])
    if key_labels is None:
        same = tf.equal(labels[:, None], labels[None, :])
        positive = same & ~tf.eye(tf.shape(labels)[0], dtype=tf.bool)
        return positive, ~same
    same = tf.equal(labels[:, None], tf.reshape(key_labels, [-1])[None, :])
    return same, ~same


def masked_mean(values, mask):
    """Mean of values[mask], 0 where mask selects nothing."""
    mask = tf.cast(mask, values.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(values * mask), tf.reduce_sum(mask))


def reduce_terms(parts: dict, reducer: str) -> tuple[tf.Tensor, tf.Tensor]:
    """(per-anchor values l_a (B,), anchors with a term (B,) bool) from the named parts
    {name: (values (B, M), mask (B, M)[, weight])} (see the module docstring)."""
    total, valid = None, None
    for part in parts.values():
        values, mask = part[0], tf.cast(part[1], tf.bool)
        weight = part[2] if len(part) > 2 else 1.0
        counted = mask & (values > 0) if reducer == "mean_nonzero" else mask
        divisor = tf.ones([], values.dtype) if reducer == "sum" else tf.reduce_sum(tf.cast(counted, values.dtype))
        share = tf.math.divide_no_nan(tf.reduce_sum(tf.where(mask, values, tf.zeros_like(values)), axis=1), divisor) * weight
        has = tf.reduce_any(mask, axis=1)
        total = share if total is None else total + share
        valid = has if valid is None else valid | has
    return total * tf.reduce_sum(tf.cast(valid, total.dtype)), valid


class MetricLoss(keras.losses.Loss):
    """Base class: subclasses implement ``terms(y_true, y_pred)`` (see the module docstring) and pass
    their options to ``__init__`` as keywords, which ``get_config`` returns.

    distance: a name of tfml's distance vocabulary among LOSS_DISTANCES (aliases accepted).
    reducer: "mean", "mean_nonzero" or "sum".
    """

    def __init__(self, name: str, *, distance: str = "euclidean", reducer: str = "mean", reduction="sum_over_batch_size",
                 dtype=None, **options):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if reducer not in REDUCERS:
            raise ValueError(f"reducer must be one of {', '.join(REDUCERS)}, got {reducer!r}")
        self.distance = canonical_distance(distance, LOSS_DISTANCES)
        self.reducer = reducer
        self.options = options

    def terms(self, y_true, y_pred) -> dict:
        raise NotImplementedError

    def call(self, y_true, y_pred):
        values, valid = reduce_terms(self.terms(y_true, y_pred), self.reducer)
        set_keras_mask(values, valid)
        return values

    @staticmethod
    def split(y_true, y_pred) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """(labels (B,), queries (B, D), keys (B, D) or None) from labels and (B, D) or (B, 2, D)
        embeddings."""
        y_pred = tf.convert_to_tensor(y_pred)
        labels = tf.reshape(y_true, [-1])
        if y_pred.shape.rank == 3:
            return labels, y_pred[:, 0], y_pred[:, 1]
        return labels, y_pred, None

    def get_config(self):
        return {**super().get_config(), "distance": self.distance, "reducer": self.reducer, **self.options}
