"""Item-to-item and user recommendations from an item-item similarity matrix.

A user's score for item j is sum over the items i they liked of S[i, j]; items they already liked
are never recommended. Ties go to the lower item index.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tfml.losses.distances import canonical_distance


def similarity_matrix(vectors, distance: str = "cosine") -> np.ndarray:
    """S[i, j] between the rows of a dense or sparse matrix, for a distance of tfml's vocabulary:
    "dot" gives v_i . v_j, "cosine" the cosine similarity (a zero row has similarity 0 to
    everything); the diagonal is 0 (an item never recommends itself)."""
    measure = canonical_distance(distance, supported=("cosine", "dot"))
    if sp.issparse(vectors):
        vectors = sp.csr_matrix(vectors, dtype=np.float64)
        if measure == "cosine":
            norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1)).ravel())
            vectors = sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ vectors
        similarity = (vectors @ vectors.T).toarray()
    else:
        vectors = np.asarray(vectors, np.float64)
        if measure == "cosine":
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, 0.0)
    return similarity.astype(np.float32)


def top_k(scores: np.ndarray, k: int, exclude=None) -> np.ndarray:
    """Indices of the k highest scores of each row, best first, ties to the lower index; entries
    where the boolean ``exclude`` (same shape) is True are skipped."""
    scores = np.atleast_2d(np.asarray(scores, np.float64))
    if exclude is not None:
        scores = np.where(np.asarray(exclude, bool), -np.inf, scores)
    available = np.isfinite(scores).sum(axis=1).min()
    if k > available:
        raise ValueError(f"k={k} is larger than the {available} items some row can still be given")
    order = np.argsort(-scores, axis=1, kind="stable")
    return order[:, :k]


def recommend_for_users(liked: sp.spmatrix, similarity: np.ndarray, k: int) -> np.ndarray:
    """(users, k) item indices: the k best items by sum of similarities to each user's liked items,
    excluding those items."""
    liked = sp.csr_matrix(liked, dtype=np.float32)
    scores = np.asarray(liked @ similarity)
    return top_k(scores, k, exclude=liked.toarray() > 0)


def recommend_popular(liked: sp.spmatrix, k: int) -> np.ndarray:
    """(users, k): the most-liked items that each user has not liked yet."""
    liked = sp.csr_matrix(liked, dtype=np.float32)
    popularity = np.asarray(liked.sum(axis=0)).ravel()
    return top_k(np.broadcast_to(popularity, liked.shape), k, exclude=liked.toarray() > 0)
