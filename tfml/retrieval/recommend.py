"""Item-to-item and user recommendations: the items closest to an item (or a movie title) in an
embedding, and users' recommendations from an item-item similarity matrix.

A user's score for item j is sum over the items i they liked of S[i, j]; items they already liked
are never recommended. Ties go to the lower item index.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfml.data.movielens import resolve_title
from tfml.distances import canonical_distance
from tfml.models.embedding_matrix import embedding_table
from tfml.retrieval.index import ExactIndex


def similar_items(vectors: np.ndarray, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cosine similarities) of the k rows of ``vectors`` most cosine-similar to ``row``
    (itself excluded), best first, ties to the lower row."""
    distances, rows = ExactIndex(vectors, "cosine").search(vectors[row : row + 1], k, exclude=[row])
    return rows[0], 1 - distances[0]


def movie_row(movies: pd.DataFrame, item_ids: np.ndarray, title: str, threshold: float = 4.0) -> int:
    """The row of an embedding matrix (rows carrying MovieLens ids ``item_ids``) for a title (see
    ``resolve_title``); a movie without a row (too few likes) is a KeyError."""
    movie = resolve_title(movies, title)
    rows = np.flatnonzero(item_ids == movie)
    if not len(rows):
        raise KeyError(f"{movies['title'][movie]!r} has no embedding: too few users liked it (rating >= {threshold})")
    return int(rows[0])


def check_movie_ids(model, movies: pd.DataFrame, model_name: str, data: str) -> None:
    """A ValueError unless every row of the embedding ``model`` carries a movie id of ``movies`` (the
    ids of another MovieLens release name other movies)."""
    _, item_ids = embedding_table(model)
    unknown = np.setdiff1d(item_ids, movies.index.to_numpy())
    if len(unknown):
        raise ValueError(
            f"{model_name}'s rows carry movie ids that {data} does not list ({len(unknown):,} of "
            f"{len(item_ids):,}, e.g. {int(unknown[0])}): it was trained on other MovieLens data; pass "
            "--data with the data it was trained on (the zoo's movielens-embedding: 'small')"
        )


def closest_movies(model, movies: pd.DataFrame, title: str, k: int = 10, threshold: float = 4.0) -> pd.DataFrame:
    """The k movies closest to ``title`` by cosine similarity of a movie embedding matrix (a tfml
    ``EmbeddingMatrix`` model), the movie itself excluded: columns rank, title, cosine."""
    vectors, item_ids = embedding_table(model)
    rows, cosine = similar_items(vectors, movie_row(movies, item_ids, title, threshold), k)
    return pd.DataFrame(
        {"rank": np.arange(1, k + 1), "title": movies["title"][item_ids[rows]].to_numpy(), "cosine": cosine}
    )


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
