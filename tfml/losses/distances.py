"""The distance vocabulary of tfml, and pairwise distances between embeddings with finite gradients.

One canonical name per distance, used by losses, indexes and recommendations alike (a smaller
distance is always more similar):

- ``"euclidean"`` (alias ``"l2"``): |u - v|
- ``"sqeuclidean"`` (``"squared_l2"``, ``"squared_euclidean"``): |u - v|^2
- ``"cosine"``: 1 - u.v / (|u| |v|); a zero vector has similarity 0 with everything
- ``"manhattan"`` (``"l1"``, ``"cityblock"``): sum |u_i - v_i|
- ``"chebyshev"`` (``"linf"``): max |u_i - v_i|
- ``"dot"`` (``"inner_product"``): -u.v, the negated inner product

>>> canonical_distance("l2")
'euclidean'
>>> canonical_distance("manhattan", supported=LOSS_DISTANCES)
Traceback (most recent call last):
...
ValueError: distance 'manhattan' is not available here; choose one of euclidean, sqeuclidean, cosine, dot

Where a Euclidean distance is 0 (an embedding and itself, duplicates) its gradient is 0, not NaN:
the square root is taken of max(d^2, 0) + eps on those entries and the result is masked to 0.
"""

from __future__ import annotations

import tensorflow as tf

DISTANCES = ("euclidean", "sqeuclidean", "cosine", "manhattan", "chebyshev", "dot")
ALIASES = {
    "l2": "euclidean", "squared_l2": "sqeuclidean", "squared_euclidean": "sqeuclidean", "l1": "manhattan",
    "cityblock": "manhattan", "linf": "chebyshev", "inner_product": "dot",
}
LOSS_DISTANCES = ("euclidean", "sqeuclidean", "cosine", "dot")  # differentiable from one matrix product


def canonical_distance(name: str, supported: tuple[str, ...] = DISTANCES) -> str:
    """The canonical name of ``name`` (an alias is accepted); a ValueError when it is unknown or not
    among ``supported``."""
    canonical = ALIASES.get(name, name)
    if canonical not in DISTANCES:
        known = ", ".join(DISTANCES)
        aliases = ", ".join(f"{alias} = {target}" for alias, target in ALIASES.items())
        raise ValueError(f"unknown distance {name!r}; choose one of {known} (aliases: {aliases})")
    if canonical not in supported:
        raise ValueError(f"distance {name!r} is not available here; choose one of {', '.join(supported)}")
    return canonical


def _safe_sqrt(squared: tf.Tensor) -> tf.Tensor:
    is_zero = tf.cast(squared <= 0.0, squared.dtype)
    return tf.sqrt(squared + is_zero * 1e-16) * (1.0 - is_zero)


def pairwise_distances(queries: tf.Tensor, keys: tf.Tensor | None = None, distance: str = "euclidean") -> tf.Tensor:
    """(B, D) queries and (M, D) keys -> (B, M) distances; without ``keys`` the queries are their
    own keys and the diagonal is exactly 0."""
    distance = canonical_distance(distance, LOSS_DISTANCES)
    queries = tf.convert_to_tensor(queries)
    self_pairs = keys is None
    keys = queries if self_pairs else tf.convert_to_tensor(keys, queries.dtype)
    if distance == "cosine":
        similarity = tf.matmul(tf.math.l2_normalize(queries, axis=1), tf.math.l2_normalize(keys, axis=1), transpose_b=True)
        distances = 1.0 - similarity
    elif distance == "dot":
        distances = -tf.matmul(queries, keys, transpose_b=True)
    else:
        squared = (tf.reduce_sum(tf.square(queries), axis=1)[:, None] + tf.reduce_sum(tf.square(keys), axis=1)[None, :]
                   - 2.0 * tf.matmul(queries, keys, transpose_b=True))
        squared = tf.maximum(squared, 0.0)
        if self_pairs:
            squared = squared * (1.0 - tf.eye(tf.shape(queries)[0], dtype=queries.dtype))
        return squared if distance == "sqeuclidean" else _safe_sqrt(squared)
    if self_pairs and distance == "cosine":
        distances = distances * (1.0 - tf.eye(tf.shape(queries)[0], dtype=queries.dtype))
    return distances


def paired_distances(a: tf.Tensor, b: tf.Tensor, distance: str = "euclidean") -> tf.Tensor:
    """(B, D), (B, D) -> (B,) distance between a[i] and b[i], with a finite gradient at 0."""
    distance = canonical_distance(distance, LOSS_DISTANCES)
    if distance == "cosine":
        return 1.0 - tf.reduce_sum(tf.math.l2_normalize(a, axis=1) * tf.math.l2_normalize(b, axis=1), axis=1)
    if distance == "dot":
        return -tf.reduce_sum(a * b, axis=1)
    squared = tf.reduce_sum(tf.square(a - b), axis=1)
    return squared if distance == "sqeuclidean" else _safe_sqrt(squared)
