"""Distance objects for losses and miners, over the distance vocabulary of ``tfml.distances``.

Losses and miners take a distance object, or one of the names LOSS_DISTANCES (``get_distance``).
An object knows whether it is a distance (smaller is closer) or a similarity (``is_inverted``:
larger is closer), as in pytorch-metric-learning:

- ``LpDistance(p=2, power=1, normalize_embeddings=True)``: (sum |u_i - v_i|^p)^(1/p), raised to
  ``power``, on L2-normalised embeddings when ``normalize_embeddings`` (pytorch-metric-learning's
  default distance). "euclidean" is ``LpDistance(normalize_embeddings=False)``, "sqeuclidean"
  ``LpDistance(power=2, normalize_embeddings=False)``.
- ``CosineSimilarity()``: u.v / (|u| |v|), a similarity.
- ``DotProductSimilarity(normalize_embeddings=False)``: u.v, a similarity ("dot").
- ``CosineDistance()``: 1 - u.v / (|u| |v|) ("cosine").

>>> import numpy as np
>>> x = np.array([[3.0, 4.0], [0.0, 1.0]])
>>> LpDistance(normalize_embeddings=False)(x).numpy().round(4).tolist()
[[0.0, 4.2426], [4.2426, 0.0]]
>>> CosineSimilarity()(x).numpy().round(2).tolist(), CosineSimilarity().is_inverted
([[1.0, 0.8], [0.8, 1.0]], True)

Where a Euclidean distance is 0 (an embedding and itself, duplicates) its gradient is 0, not NaN:
the square root is taken of max(d^2, 0) + eps on those entries and the result is masked to 0.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfml.distances import ALIASES, DISTANCES, LOSS_DISTANCES, canonical_distance  # noqa: F401  (the vocabulary)


def _safe_sqrt(squared: tf.Tensor) -> tf.Tensor:
    is_zero = tf.cast(squared <= 0.0, squared.dtype)
    return tf.sqrt(squared + is_zero * 1e-16) * (1.0 - is_zero)


def _without_diagonal(matrix: tf.Tensor) -> tf.Tensor:
    return matrix * (1.0 - tf.eye(tf.shape(matrix)[0], dtype=matrix.dtype))


class Distance:
    """A distance (``is_inverted`` False: smaller is closer) or a similarity (True) between
    embeddings: ``distance(queries (B, D), keys (M, D) or None) -> (B, M)`` (without keys the
    queries are the keys), ``distance.paired(a, b) -> (B,)`` between rows i of a and b. Options are
    attributes; ``get_config`` / ``from_config`` serialise them inside a loss."""

    is_inverted = False

    def __init__(self, normalize_embeddings: bool = False, power: float = 1.0):
        self.normalize_embeddings = bool(normalize_embeddings)
        self.power = float(power)

    def prepare(self, embeddings: tf.Tensor) -> tf.Tensor:
        return tf.math.l2_normalize(embeddings, axis=1) if self.normalize_embeddings else embeddings

    def __call__(self, queries, keys=None) -> tf.Tensor:
        queries = self.prepare(tf.convert_to_tensor(queries))
        matrix = self.matrix(queries, None if keys is None else self.prepare(tf.convert_to_tensor(keys, queries.dtype)))
        return matrix if self.power == 1.0 else matrix**self.power

    def paired(self, a, b) -> tf.Tensor:
        a = self.prepare(tf.convert_to_tensor(a))
        value = self.pairs(a, self.prepare(tf.convert_to_tensor(b, a.dtype)))
        return value if self.power == 1.0 else value**self.power

    def matrix(self, queries: tf.Tensor, keys: tf.Tensor | None) -> tf.Tensor:
        raise NotImplementedError

    def pairs(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def margin(self, x, y):
        """How much farther apart x is than y: x - y for a distance, y - x for a similarity."""
        return y - x if self.is_inverted else x - y

    def closer(self, x, y):
        """Whether x is closer than y."""
        return x > y if self.is_inverted else x < y

    def get_config(self) -> dict:
        return {"normalize_embeddings": self.normalize_embeddings, "power": self.power}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({options})"

    def __eq__(self, other):
        return type(other) is type(self) and other.get_config() == self.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


@keras.saving.register_keras_serializable(package="tfml")
class LpDistance(Distance):
    """(sum_i |u_i - v_i|^p)^(1/p) (p >= 1, or math.inf for max_i |u_i - v_i|), raised to ``power``,
    of L2-normalised embeddings when ``normalize_embeddings``; pytorch-metric-learning's default
    distance is ``LpDistance()`` (p = 2, normalised embeddings).

    >>> LpDistance(p=1, normalize_embeddings=False)([[0.0, 0.0]], [[3.0, 4.0]]).numpy().tolist()
    [[7.0]]
    >>> round(float(LpDistance()([[0.0, 2.0]], [[3.0, 0.0]])[0, 0]), 4)   # unit vectors at a right angle: sqrt(2)
    1.4142
    """

    def __init__(self, p: float = 2, power: float = 1.0, normalize_embeddings: bool = True):
        super().__init__(normalize_embeddings, power)
        if not p >= 1:
            raise ValueError(f"LpDistance needs p >= 1, got {p}")
        self.p = float(p)

    def __call__(self, queries, keys=None) -> tf.Tensor:
        if self.p == 2 and self.power == 2:  # the squared distance directly: no square root to undo
            queries = self.prepare(tf.convert_to_tensor(queries))
            return self._squared(
                queries, None if keys is None else self.prepare(tf.convert_to_tensor(keys, queries.dtype))
            )
        return super().__call__(queries, keys)

    def paired(self, a, b) -> tf.Tensor:
        if self.p == 2 and self.power == 2:
            a = self.prepare(tf.convert_to_tensor(a))
            return tf.reduce_sum(tf.square(a - self.prepare(tf.convert_to_tensor(b, a.dtype))), axis=1)
        return super().paired(a, b)

    @staticmethod
    def _squared(queries, keys):
        self_pairs = keys is None
        keys = queries if self_pairs else keys
        squared = (
            tf.reduce_sum(tf.square(queries), axis=1)[:, None]
            + tf.reduce_sum(tf.square(keys), axis=1)[None, :]
            - 2.0 * tf.matmul(queries, keys, transpose_b=True)
        )
        squared = tf.maximum(squared, 0.0)
        return _without_diagonal(squared) if self_pairs else squared

    def matrix(self, queries, keys):
        if self.p == 2:
            return _safe_sqrt(self._squared(queries, keys))
        self_pairs = keys is None
        difference = tf.abs(queries[:, None, :] - (queries if self_pairs else keys)[None, :, :])
        return self._norm(difference)

    def pairs(self, a, b):
        if self.p == 2:
            return _safe_sqrt(tf.reduce_sum(tf.square(a - b), axis=1))
        return self._norm(tf.abs(a - b))

    def _norm(self, difference):
        if math.isinf(self.p):
            return tf.reduce_max(difference, axis=-1)
        if self.p == 1:
            return tf.reduce_sum(difference, axis=-1)
        total = tf.reduce_sum(difference**self.p, axis=-1)
        return tf.where(total > 0, tf.maximum(total, 1e-30) ** (1.0 / self.p), tf.zeros_like(total))

    def get_config(self):
        return {"p": self.p, **super().get_config()}


@keras.saving.register_keras_serializable(package="tfml")
class DotProductSimilarity(Distance):
    """u.v, a similarity (larger is closer); of L2-normalised embeddings with ``normalize_embeddings``.

    >>> DotProductSimilarity()([[1.0, 2.0]], [[3.0, 4.0]]).numpy().tolist()
    [[11.0]]
    """

    is_inverted = True

    def __init__(self, normalize_embeddings: bool = False, power: float = 1.0):
        super().__init__(normalize_embeddings, power)

    def matrix(self, queries, keys):
        return tf.matmul(queries, queries if keys is None else keys, transpose_b=True)

    def pairs(self, a, b):
        return tf.reduce_sum(a * b, axis=1)


@keras.saving.register_keras_serializable(package="tfml")
class CosineSimilarity(DotProductSimilarity):
    """u.v / (|u| |v|), a similarity (pytorch-metric-learning's CosineSimilarity).

    >>> round(float(CosineSimilarity()([[1.0, 0.0]], [[3.0, 3.0]])[0, 0]), 4)
    0.7071
    """

    def __init__(self, power: float = 1.0, normalize_embeddings: bool = True):
        if not normalize_embeddings:
            raise ValueError(
                "CosineSimilarity normalises the embeddings; use DotProductSimilarity for raw inner products"
            )
        super().__init__(True, power)

    def get_config(self):
        return {"power": self.power}


@keras.saving.register_keras_serializable(package="tfml")
class CosineDistance(Distance):
    """1 - u.v / (|u| |v|), a distance (tfml's "cosine"); 0 between an embedding and itself.

    >>> CosineDistance()([[1.0, 0.0]], [[0.0, 2.0]]).numpy().tolist()
    [[1.0]]
    """

    def __init__(self, power: float = 1.0):
        super().__init__(True, power)

    def matrix(self, queries, keys):
        distances = 1.0 - tf.matmul(queries, queries if keys is None else keys, transpose_b=True)
        return _without_diagonal(distances) if keys is None else distances

    def pairs(self, a, b):
        return 1.0 - tf.reduce_sum(a * b, axis=1)

    def get_config(self):
        return {"power": self.power}


NAMED = {
    "euclidean": lambda: LpDistance(normalize_embeddings=False),
    "sqeuclidean": lambda: LpDistance(power=2, normalize_embeddings=False),
    "cosine": CosineDistance,
    "dot": DotProductSimilarity,
}


def get_distance(distance: str | Distance | dict) -> Distance:
    """A distance object from a name of LOSS_DISTANCES (aliases accepted), a serialised one (a dict)
    or an object (returned as it is)."""
    if isinstance(distance, Distance):
        return distance
    if isinstance(distance, dict):
        restored = keras.saving.deserialize_keras_object(distance)
        if not isinstance(restored, Distance):
            raise ValueError(f"not a distance: {distance!r}")
        return restored
    if not isinstance(distance, str):
        raise TypeError(f"distance must be a name ({', '.join(LOSS_DISTANCES)}) or a Distance object, got {distance!r}")
    return NAMED[canonical_distance(distance, LOSS_DISTANCES)]()


def pairwise_distances(queries, keys=None, distance: str | Distance = "euclidean") -> tf.Tensor:
    """(B, D) queries and (M, D) keys -> (B, M) values of ``distance``; without ``keys`` the
    queries are their own keys and the diagonal of a distance is exactly 0."""
    return get_distance(distance)(queries, keys)


def paired_distances(a, b, distance: str | Distance = "euclidean") -> tf.Tensor:
    """(B, D), (B, D) -> (B,) value of ``distance`` between a[i] and b[i], with a finite gradient at 0."""
    return get_distance(distance).paired(a, b)
