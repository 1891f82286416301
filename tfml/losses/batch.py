"""What a batch loss and its miner look at: labels, query and key embeddings, which query/key pairs
are positives and negatives, and distance matrices computed once per distance.

Embeddings are (B, D), one per row, compared with each other (a row is never its own positive),
or (B, 2, D): a query and a key per row (a poster and its synopsis; an image under two
augmentations), each query compared with every key (row i's key is its positive).
"""

from __future__ import annotations

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
    """Labels (B,), queries (B, D), keys (M, D) or None (the queries are the keys), the positive
    and negative masks (B, M), extra ``targets`` a miner reads (e.g. given triplets), and
    ``matrix(distance)``: the (B, M) values of a distance, computed once per distance."""

    def __init__(self, labels, queries, keys=None, key_labels=None, targets=None):
        self.labels = tf.reshape(labels, [-1])
        self.queries, self.keys, self.targets = queries, keys, targets
        self.key_labels = self.labels if keys is not None and key_labels is None else key_labels
        self.positive, self.negative = label_masks(self.labels, None if keys is None else self.key_labels)
        self._matrices: dict[Distance, tf.Tensor] = {}

    def matrix(self, distance: Distance) -> tf.Tensor:
        if distance not in self._matrices:
            self._matrices[distance] = distance(self.queries, self.keys)
        return self._matrices[distance]
