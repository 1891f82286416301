"""What a batch loss and its miner look at: labels, query and key embeddings, which query/key pairs
are positives and negatives, and distance matrices computed once per distance.

Embeddings are (B, D), one per row, compared with each other (a row is never its own positive),
or (B, 2, D): a query and a key per row (a poster and its synopsis; an image under two
augmentations), each query compared with every key (row i's key is always its positive, of weight
1, whatever the labels say: a movie without a genre shares no label with its own synopsis, yet
they are a match).

Which pairs are positives and negatives is a *label comparison*: ``SameLabel`` (the default: one
label per item, positives share it) or ``JaccardLabels`` (multi-hot labels (B, L): positives have a
Jaccard index |a & b| / |a | b| of at least ``positive_at``, negatives at most ``negative_at``,
pairs between are neither; ``graded`` gives each positive pair the weight J, which SupCon and the
contrastive loss use). Every loss and miner that looks at a ``Batch`` follows it.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.distances import Distance


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


@keras.saving.register_keras_serializable(package="tfml")
class SameLabel:
    """One label per item (B,): positives share it (an item is not its own positive), negatives do
    not; no pair weights."""

    def labels(self, y_true) -> tf.Tensor:
        return tf.reshape(y_true, [-1])

    def compare(self, labels, key_labels=None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """(positive, negative (B, M) bool, positive pair weights (B, M) or None)."""
        return (*label_masks(labels, key_labels), None)

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfml")
class JaccardLabels(SameLabel):
    """Multi-hot labels (B, L) compared by their Jaccard index J = |a & b| / |a | b| (0 for two empty
    sets): positives J >= ``positive_at``, negatives J <= ``negative_at`` (default: J < positive_at),
    the pairs between neither; ``graded``: each positive pair weighs J.

    >>> import numpy as np
    >>> labels = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1]], np.float32)   # J(0, 1) = 1/2
    >>> positive, negative, weight = JaccardLabels(0.5, negative_at=0.0, graded=True).compare(labels)
    >>> positive.numpy().astype(int).tolist(), negative.numpy().astype(int).tolist()
    ([[0, 1, 0], [1, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    >>> float(weight[0, 1])
    0.5
    """

    def __init__(self, positive_at: float = 0.5, negative_at: float | None = None, graded: bool = False):
        if not 0 < positive_at <= 1 or (negative_at is not None and not 0 <= negative_at < positive_at):
            raise ValueError(
                f"JaccardLabels needs 0 < positive_at <= 1 and 0 <= negative_at < positive_at, "
                f"got {positive_at} and {negative_at}"
            )
        self.positive_at, self.graded = float(positive_at), bool(graded)
        self.negative_at = None if negative_at is None else float(negative_at)

    def labels(self, y_true) -> tf.Tensor:
        y_true = tf.convert_to_tensor(y_true)
        if y_true.shape.rank != 2:
            raise ValueError(f"JaccardLabels compares multi-hot labels (batch, labels), got shape {y_true.shape}")
        return y_true

    def compare(self, labels, key_labels=None):
        a = tf.cast(tf.cast(labels, tf.bool), tf.float32)
        b = a if key_labels is None else tf.cast(tf.cast(key_labels, tf.bool), tf.float32)
        shared = tf.matmul(a, b, transpose_b=True)
        union = tf.reduce_sum(a, axis=1)[:, None] + tf.reduce_sum(b, axis=1)[None, :] - shared
        jaccard = tf.math.divide_no_nan(shared, union)
        positive = jaccard >= self.positive_at
        negative = jaccard < self.positive_at if self.negative_at is None else jaccard <= self.negative_at
        if key_labels is None:
            itself = tf.eye(tf.shape(a)[0], dtype=tf.bool)
            positive, negative = positive & ~itself, negative & ~itself
        return positive, negative, jaccard if self.graded else None

    def get_config(self) -> dict:
        return {"positive_at": self.positive_at, "negative_at": self.negative_at, "graded": self.graded}


def get_label_comparison(spec) -> SameLabel:
    """None or "same" -> SameLabel(), "jaccard" -> JaccardLabels(), an object as it is, a dict
    deserialised."""
    if spec is None or spec == "same":
        return SameLabel()
    if spec == "jaccard":
        return JaccardLabels()
    if isinstance(spec, dict):
        return keras.saving.deserialize_keras_object(spec)
    if isinstance(spec, SameLabel):
        return spec
    raise ValueError(f"label comparison {spec!r}: expected 'same', 'jaccard' or a SameLabel / JaccardLabels object")


def split_embeddings(y_pred) -> tuple[tf.Tensor, tf.Tensor | None]:
    """(queries (B, D), keys (B, D) or None) from (B, D) or (B, 2, D) embeddings."""
    y_pred = tf.convert_to_tensor(y_pred)
    if y_pred.shape.rank == 3:
        return y_pred[:, 0], y_pred[:, 1]
    if y_pred.shape.rank != 2:
        raise ValueError(
            f"embeddings must be (batch, dim) or (batch, 2, dim) query/key pairs, got shape {y_pred.shape}"
        )
    return y_pred, None


class Batch:
    """Labels (B,) (or (B, L) for a multi-label ``comparison``), queries (B, D), keys (M, D) or None
    (the queries are the keys), the positive and negative masks (B, M) and positive pair weights
    (B, M) or None of the label ``comparison``, extra ``targets`` a miner reads (e.g. given
    triplets), and ``matrix(distance)``: the (B, M) values of a distance, computed once per distance."""

    def __init__(self, labels, queries, keys=None, key_labels=None, targets=None, comparison: SameLabel | None = None):
        self.comparison = comparison or SameLabel()
        self.labels = self.comparison.labels(labels)
        self.queries, self.keys, self.targets = queries, keys, targets
        self.key_labels = self.labels if keys is not None and key_labels is None else key_labels
        self.positive, self.negative, self.positive_weight = self.comparison.compare(
            self.labels, None if keys is None else self.key_labels
        )
        if keys is not None and key_labels is None:  # matched pairs: row i's key is its positive, weight 1
            own = tf.eye(tf.shape(self.positive)[0], tf.shape(self.positive)[1], dtype=tf.bool)
            self.positive, self.negative = self.positive | own, self.negative & ~own
            if self.positive_weight is not None:
                weight = self.positive_weight
                self.positive_weight = tf.where(own, tf.ones_like(weight), weight)
        self._matrices: dict[Distance, tf.Tensor] = {}

    def matrix(self, distance: Distance) -> tf.Tensor:
        if distance not in self._matrices:
            self._matrices[distance] = distance(self.queries, self.keys)
        return self._matrices[distance]
