"""Exact k-nearest-neighbour search over any embeddings, in bounded memory.

Distances: any of tfml's vocabulary (``tfml.losses.distances``; aliases accepted): "euclidean",
"sqeuclidean", "cosine" (1 - cosine similarity; a zero vector has similarity 0 with everything),
"manhattan", "chebyshev", "dot" (-u.v: maximum inner product search).

Results are sorted by ascending distance; ties go to the lower base index. Queries are processed in
chunks and each chunk's scores against the base (in base chunks for the element-wise distances) are
reduced to k candidates at once, so memory stays near the size of the base plus ``memory_bytes``.

Selection of the k best of n scores is exact and cheap: scores are cut into blocks of ``block``
columns; the blocks holding the k best scores are among the k blocks with the largest maxima (a
block ranked above the block of a top-k score holds a score that beats it), so only those k blocks
are searched. Euclidean and cosine scores come from a matrix product with augmented vectors,
q' = [2q, -1], b' = [b, |b|^2] (score = 2 q.b - |b|^2 = |q|^2 - |q - b|^2; for dot, b' = [b, 0] and
q' = [q, -1]), taken one base tile of
TILE_ROWS rows at a time and reduced at once to block maxima, so the full score matrix is never
held; the scores of the k best blocks are then recomputed from their vectors. (A base of one tile,
or of vectors so long that the best blocks' vectors would force small query chunks, is scored
whole per query chunk instead.) The k winners' distances are recomputed exactly (from the scores
when k x dim exceeds EXACT_RECOMPUTE_LIMIT, to bound memory).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from tfml.distances import canonical_distance

# Above this many values per query (k x dim), the winners' distances come from the scores, not the vectors.
EXACT_RECOMPUTE_LIMIT = 1 << 16
_MATMUL_DISTANCES = ("euclidean", "sqeuclidean", "cosine", "dot")
# Base rows per tile of the matrix-product pass; one tile's scores for a query chunk stay small.
TILE_ROWS = 8192
MAX_QUERY_CHUNK = 1024  # a larger chunk does not make the products faster
MIN_TILED_QUERY_CHUNK = 64  # below this the products are inefficient: score the whole base per chunk instead


def check_embeddings(x, name: str, dim: int | None = None) -> np.ndarray:
    """A finite 2-D float array (float32 unless float64), or a ValueError naming ``name``."""
    x = np.asarray(x)
    if x.dtype != np.float64:
        x = x.astype(np.float32, copy=False)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, dim), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} have dimension {x.shape[1]}, the index holds dimension {dim}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{name} contain NaN or inf in {len(rows)} row(s), first row {rows[0]}")
    return x


def _normalise(x: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis; zero vectors stay zero."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


@tf.function(reduce_retracing=True)
def _select(scores, k, block):
    """Exact top-k (values, column indices) of each row of ``scores`` (c, n) with n % block == 0;
    equal scores keep the lower column first."""
    c = tf.shape(scores)[0]
    blocks = tf.reshape(scores, [c, -1, block])
    n_blocks = tf.shape(blocks)[1]
    _, best_blocks = tf.math.top_k(tf.reduce_max(blocks, axis=2), k=tf.minimum(k, n_blocks))
    best_blocks = tf.sort(best_blocks, axis=1)  # keep index order so ties stay lower-index first
    candidates = tf.gather(blocks, best_blocks, batch_dims=1)  # (c, kb, block)
    columns = best_blocks[:, :, None] * block + tf.range(block)[None, None, :]
    values, positions = tf.math.top_k(tf.reshape(candidates, [c, -1]), k=k)
    return values, tf.gather(tf.reshape(columns, [c, -1]), positions, batch_dims=1)


@tf.function(reduce_retracing=True)
def _matmul_topk_direct(queries, base, k, block, exclude, any_excluded):
    """Top-k of the full score matrix of a query chunk against the whole base (small bases, high dimensions)."""
    scores = tf.matmul(queries, base, transpose_b=True)
    return _mask_and_select(scores, k, block, exclude, tf.constant(0, exclude.dtype), any_excluded)


@tf.function(reduce_retracing=True)
def _matmul_topk(queries, base, k, block, tile, exclude):
    """Top-k (scores, columns) of queries (c, d') against base (n, d'), n % tile == 0, tile % block
    == 0: block maxima tile by tile, then exact scores inside the k best blocks; exclude[i] (or -1)
    is left out of row i."""
    c = tf.shape(queries)[0]
    tiles = tf.reshape(base, [-1, tile, tf.shape(base)[1]])
    maxima = tf.map_fn(
        lambda rows: tf.reduce_max(tf.reshape(tf.matmul(queries, rows, transpose_b=True), [c, -1, block]), axis=2),
        tiles,
        parallel_iterations=2,
        fn_output_signature=queries.dtype,
    )  # (tiles, c, tile / block)
    maxima = tf.reshape(tf.transpose(maxima, [1, 0, 2]), [c, -1])
    _, best_blocks = tf.math.top_k(maxima, k=tf.minimum(k, tf.shape(maxima)[1]))
    best_blocks = tf.sort(best_blocks, axis=1)  # index order, so equal scores keep the lower column first
    candidates = tf.gather(tf.reshape(base, [-1, block, tf.shape(base)[1]]), best_blocks)  # (c, kb, block, d')
    scores = tf.reshape(tf.einsum("qd,qkbd->qkb", queries, candidates), [c, -1])
    columns = tf.reshape(
        tf.cast(best_blocks[:, :, None] * block + tf.range(block)[None, None, :], exclude.dtype), [c, -1]
    )
    scores = tf.where(columns == exclude[:, None], tf.constant(-np.inf, scores.dtype), scores)
    values, positions = tf.math.top_k(scores, k=k)
    return values, tf.gather(columns, positions, batch_dims=1)


@tf.function(reduce_retracing=True)
def _elementwise_topk(queries, base, k, block, exclude, offset, chebyshev, any_excluded):
    differences = tf.abs(queries[:, None, :] - base[None, :, :])
    if chebyshev:
        scores = -tf.reduce_max(differences, axis=2)
    else:
        scores = -tf.reduce_sum(differences, axis=2)
    return _mask_and_select(scores, k, block, exclude, offset, any_excluded)


def _mask_and_select(scores, k, block, exclude, offset, any_excluded):
    """Sets each row's excluded column (exclude[i] - offset, if inside this chunk) to -inf, then
    selects; returned columns are shifted by offset. any_excluded=False skips the masking pass."""
    if not any_excluded:
        values, columns = _select(scores, k, block)
        return values, tf.cast(columns, exclude.dtype) + offset
    local = exclude - offset
    inside = (local >= 0) & (local < tf.shape(scores, out_type=exclude.dtype)[1])
    rows = tf.cast(tf.where(inside)[:, 0], exclude.dtype)
    coordinates = tf.stack([rows, tf.boolean_mask(local, inside)], axis=1)
    minus_inf = tf.fill(tf.shape(rows), tf.constant(-np.inf, scores.dtype))
    scores = tf.tensor_scatter_nd_update(scores, coordinates, minus_inf)
    values, columns = _select(scores, k, block)
    return values, tf.cast(columns, exclude.dtype) + offset


class ExactIndex:
    """Exact k-NN index over ``base`` (n, dim) with a distance of tfml's vocabulary.

    >>> index = ExactIndex(np.eye(3), distance="euclidean")
    >>> distances, indices = index.search(np.eye(3)[:1], k=2)
    >>> indices.tolist(), distances.round(3).tolist()
    ([[0, 1]], [[0.0, 1.414]])

    memory_bytes bounds the working memory of one query chunk (for the matrix-product metrics: two
    tiles of scores, the block maxima and the best blocks' vectors; for the element-wise ones:
    queries x base columns x dim); block is the selection block size (see the module docstring).
    """

    def __init__(self, base, distance: str = "euclidean", memory_bytes: int = 256 << 20, block: int = 128):
        self.distance = canonical_distance(distance)
        self.base = check_embeddings(base, "base embeddings")
        self.memory_bytes, self.block = int(memory_bytes), int(block)
        self.size, self.dim = self.base.shape
        self._padded = self._prepare_base()

    def __len__(self) -> int:
        return self.size

    def _prepare_base(self) -> tf.Tensor:
        n_padded = math.ceil(self.size / self.block) * self.block
        if self.distance in _MATMUL_DISTANCES:
            self.tile = min(n_padded, max(self.block, TILE_ROWS // self.block * self.block))
            n_padded = math.ceil(n_padded / self.tile) * self.tile
            vectors = _normalise(self.base) if self.distance == "cosine" else self.base
            no_offset = self.distance in ("cosine", "dot")
            extra = np.zeros((self.size, 1), self.base.dtype) if no_offset else (vectors**2).sum(1, keepdims=True)
            augmented = np.zeros((n_padded, self.dim + 1), self.base.dtype)
            augmented[: self.size] = np.concatenate([vectors, extra], axis=1)
            augmented[self.size :, -1] = np.inf  # padded rows score -inf
            return tf.constant(augmented)
        padded = np.full((n_padded, self.dim), np.inf, self.base.dtype)  # padded rows are infinitely far
        padded[: self.size] = self.base
        return tf.constant(padded)

    def _augment_queries(self, queries: np.ndarray) -> np.ndarray:
        if self.distance in ("cosine", "dot"):
            scaled = _normalise(queries) if self.distance == "cosine" else queries
            return np.concatenate([scaled, -np.ones((len(queries), 1), queries.dtype)], axis=1)
        return np.concatenate([2 * queries, -np.ones((len(queries), 1), queries.dtype)], axis=1)

    def _exact_distances(self, queries: np.ndarray, indices: np.ndarray) -> np.ndarray:
        neighbours = self.base[indices]  # (q, k, dim)
        if self.distance == "cosine":
            return 1 - np.einsum("qd,qkd->qk", _normalise(queries), _normalise(neighbours))
        if self.distance == "dot":
            return -np.einsum("qd,qkd->qk", queries, neighbours)
        squared = ((queries[:, None, :] - neighbours) ** 2).sum(axis=2)
        return squared if self.distance == "sqeuclidean" else np.sqrt(squared)

    def _distances_from_scores(self, queries: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self.distance == "cosine":
            return 1 - scores
        if self.distance == "dot":
            return -scores
        squared = np.maximum((queries.astype(np.float64) ** 2).sum(1, keepdims=True) - scores, 0).astype(
            self.base.dtype
        )
        return squared if self.distance == "sqeuclidean" else np.sqrt(squared)

    def search(self, queries, k: int, exclude=None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Returns (distances, indices), each (n_queries, k), sorted ascending, ties lower index first.

        exclude: optional (n_queries,) base indices, one per query, left out of its results
        (e.g. the query itself); -1 excludes nothing.
        """
        queries = check_embeddings(queries, "queries", self.dim).astype(self.base.dtype, copy=False)
        n_excluded = 0 if exclude is None else 1
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if k > self.size - n_excluded:
            raise ValueError(f"k={k} is larger than the {self.size - n_excluded} base items available per query")
        exclude = np.full(len(queries), -1, np.int64) if exclude is None else np.asarray(exclude, np.int64).reshape(-1)
        if exclude.shape != (len(queries),):
            raise ValueError(f"exclude must hold one base index per query ({len(queries)}), got {exclude.shape[0]}")
        any_excluded = bool((exclude >= 0).any())
        itemsize = self.base.dtype.itemsize
        n_padded = self._padded.shape[0]
        if self.distance in _MATMUL_DISTANCES:
            # tiled: per query two tiles of scores in flight, the block maxima, the best blocks' vectors and scores;
            # worth it for a base of several tiles whose candidate vectors leave room for large query chunks
            tiled_per_query = itemsize * (
                2 * self.tile + n_padded // self.block + (k + n_excluded) * self.block * (self.dim + 2)
            )
            tiled = n_padded > self.tile and self.memory_bytes // tiled_per_query >= MIN_TILED_QUERY_CHUNK
            per_query = tiled_per_query if tiled else itemsize * n_padded
            query_chunk = max(1, min(len(queries), MAX_QUERY_CHUNK, self.memory_bytes // per_query))
        else:
            query_chunk = max(1, min(len(queries), 64))
            base_chunk = max(
                self.block, self.memory_bytes // (query_chunk * self.dim * itemsize) // self.block * self.block
            )
        distances = np.empty((len(queries), k), self.base.dtype)
        indices = np.empty((len(queries), k), np.int64)
        kept = tf.constant(k + n_excluded)
        steps = range(0, len(queries), query_chunk)
        for start in tqdm(
            steps, desc=f"{self.distance} k-NN", unit="chunk", disable=None if progress else True
        ):  # None: only on a terminal
            q = queries[start : start + query_chunk]
            e = tf.constant(exclude[start : start + query_chunk])
            if self.distance in _MATMUL_DISTANCES:
                augmented = tf.constant(self._augment_queries(q))
                if tiled:
                    values, columns = _matmul_topk(augmented, self._padded, kept, self.block, self.tile, e)
                else:
                    values, columns = _matmul_topk_direct(augmented, self._padded, kept, self.block, e, any_excluded)
                columns = columns.numpy()[:, :k]
                if k * self.dim <= EXACT_RECOMPUTE_LIMIT:
                    found = self._exact_distances(q, columns)
                else:
                    found = self._distances_from_scores(q, values.numpy()[:, :k])
            else:
                values, columns = self._elementwise_chunks(q, e, kept, base_chunk, any_excluded)
                found, columns = -values[:, :k], columns[:, :k]
            order = np.lexsort((columns, found), axis=1)
            distances[start : start + len(q)] = np.take_along_axis(found, order, axis=1)
            indices[start : start + len(q)] = np.take_along_axis(columns, order, axis=1)
        return distances, indices

    def _elementwise_chunks(self, q, exclude, kept, base_chunk, any_excluded):
        best_values = best_columns = None
        q = tf.constant(q)
        for offset in range(0, self._padded.shape[0], base_chunk):
            base = self._padded[offset : offset + base_chunk]
            values, columns = _elementwise_topk(
                q,
                base,
                tf.minimum(kept, base.shape[0]),
                self.block,
                exclude,
                tf.constant(offset, tf.int64),
                self.distance == "chebyshev",
                any_excluded,
            )
            if best_values is not None:  # earlier chunks first, so equal scores keep the lower index
                values = tf.concat([best_values, values], axis=1)
                columns = tf.concat([best_columns, columns], axis=1)
                values, positions = tf.math.top_k(values, k=tf.minimum(kept, tf.shape(values)[1]))
                columns = tf.gather(columns, positions, batch_dims=1)
            best_values, best_columns = values, columns
        return best_values.numpy(), best_columns.numpy()
