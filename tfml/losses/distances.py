"""Pairwise distances between the rows of an embedding batch, with finite gradients everywhere.

"l2": Euclidean (not squared); "squared_l2"; "cosine": 1 - cosine similarity.
Where an l2 distance is 0 (the diagonal, duplicate embeddings) its gradient is 0, not NaN: the
square root is taken of max(d^2, 0) + eps on those entries and the result is masked to 0.
"""

from __future__ import annotations

import tensorflow as tf

DISTANCES = ("l2", "squared_l2", "cosine")


def check_distance(distance: str) -> str:
    if distance not in DISTANCES:
        raise ValueError(f"unknown distance {distance!r}; choose one of {', '.join(DISTANCES)}")
    return distance


def pairwise_distances(embeddings: tf.Tensor, distance: str = "l2") -> tf.Tensor:
    """(B, D) -> (B, B) distances between every pair of rows; the diagonal is exactly 0."""
    check_distance(distance)
    embeddings = tf.convert_to_tensor(embeddings)
    size = tf.shape(embeddings)[0]
    off_diagonal = 1.0 - tf.eye(size, dtype=embeddings.dtype)
    if distance == "cosine":
        unit = tf.math.l2_normalize(embeddings, axis=1)
        return (1.0 - tf.matmul(unit, unit, transpose_b=True)) * off_diagonal
    squared_norms = tf.reduce_sum(tf.square(embeddings), axis=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * tf.matmul(embeddings, embeddings, transpose_b=True)
    squared = tf.maximum(squared, 0.0) * off_diagonal
    if distance == "squared_l2":
        return squared
    is_zero = tf.cast(squared <= 0.0, embeddings.dtype)
    return tf.sqrt(squared + is_zero * 1e-16) * (1.0 - is_zero)


def paired_distances(a: tf.Tensor, b: tf.Tensor, distance: str = "l2") -> tf.Tensor:
    """(B, D), (B, D) -> (B,) distance between a[i] and b[i], finite gradient at 0."""
    check_distance(distance)
    if distance == "cosine":
        return 1.0 - tf.reduce_sum(tf.math.l2_normalize(a, axis=1) * tf.math.l2_normalize(b, axis=1), axis=1)
    squared = tf.reduce_sum(tf.square(a - b), axis=1)
    if distance == "squared_l2":
        return squared
    is_zero = tf.cast(squared <= 0.0, squared.dtype)
    return tf.sqrt(squared + is_zero * 1e-16) * (1.0 - is_zero)
