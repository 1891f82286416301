"""Likes and co-like counts as sparse matrices.

A user likes a movie when their rating is at least ``threshold``. ``liked`` is the users x movies 0/1
matrix; ``X = liked^T liked`` with the diagonal set to 0 counts, for each pair of movies, the users
who liked both.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclasses.dataclass
class Likes:
    matrix: sp.csr_matrix  # users x movies, 1 where the user liked the movie (float32)
    users: np.ndarray  # user id of each row
    movies: np.ndarray  # movie id of each column, sorted; only movies liked at least min_likes times


def like_matrix(ratings: pd.DataFrame, threshold: float = 4.0, min_likes: int = 1) -> Likes:
    """The likes of ``ratings`` (columns user, movie, rating; one row per pair): rating >= threshold.
    Movies with fewer than ``min_likes`` likes (at least the movies nobody liked) get no column."""
    if min_likes < 1:
        raise ValueError(f"min_likes must be at least 1, got {min_likes}")
    liked = ratings[ratings["rating"] >= threshold]
    counts = liked["movie"].value_counts()
    liked = liked[liked["movie"].isin(counts.index[counts >= min_likes])]
    if liked.empty:
        raise ValueError(f"no movie has {min_likes} or more likes (ratings >= {threshold})")
    users, rows = np.unique(liked["user"].to_numpy(), return_inverse=True)
    movies, columns = np.unique(liked["movie"].to_numpy(), return_inverse=True)
    matrix = sp.csr_matrix((np.ones(len(liked), np.float32), (rows, columns)), shape=(len(users), len(movies)))
    return Likes(matrix, users, movies)


def colike_counts(liked: sp.spmatrix) -> sp.csr_matrix:
    """X = liked^T liked with a zero diagonal: X[i, j] = users who liked both i and j (i != j)."""
    liked = sp.csr_matrix(liked, dtype=np.float32)
    counts = (liked.T @ liked).tocsr()
    counts.setdiag(0)
    counts.eliminate_zeros()
    return counts


def ppmi(counts: sp.spmatrix) -> sp.csr_matrix:
    """Positive pointwise mutual information of co-like counts: max(0, log(X_ij * T / (n_i n_j))),
    with n_i = sum_j X_ij and T = sum_ij X_ij. It discounts pairs that co-occur only because both
    movies are popular."""
    counts = sp.csr_matrix(counts, dtype=np.float64)
    totals = np.asarray(counts.sum(axis=1)).ravel()
    coo = counts.tocoo()
    values = np.log(coo.data * counts.sum() / (totals[coo.row] * totals[coo.col]))
    result = sp.csr_matrix((np.maximum(values, 0).astype(np.float32), (coo.row, coo.col)), shape=counts.shape)
    result.eliminate_zeros()
    return result


def hold_out_likes(liked: sp.spmatrix, fraction: float, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Splits each user's likes: round(fraction * n) of them, picked by a seeded permutation, go to
    ``hidden`` (users with a single like keep it); the rest stay in ``kept``."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    liked = sp.csr_matrix(liked)
    rng = np.random.default_rng(seed)
    hide = np.zeros(liked.nnz, bool)
    for user in range(liked.shape[0]):
        start, stop = liked.indptr[user], liked.indptr[user + 1]
        n_hidden = int(round(fraction * (stop - start))) if stop - start > 1 else 0
        hide[start + rng.permutation(stop - start)[:n_hidden]] = True
    coo = liked.tocoo()
    split = lambda mask: sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=liked.shape)  # noqa: E731
    return split(~hide), split(hide)
