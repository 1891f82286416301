"""Retrieval metrics from what was retrieved and how relevant it is.

Ranking metrics take ``relevance`` (Q, K): for each query, the relevance of its K retrieved items
in rank order. Booleans (or 0/1) for binary relevance (same label; the true match across
modalities), non-negative gains for graded relevance (e.g. the Jaccard index of genre sets); a
gain > 0 counts as relevant where a metric is binary. ``n_relevant`` (Q,) is, for each query, how
many relevant items the searched base holds (the query itself left out when it is excluded from its
results). ``tfml.retrieval.relevance`` builds both from labels, gains or matches, and
``tfml.retrieval.evaluate`` searches an index and computes any of these by name.

Each metric is the mean over queries of a per-query value; ``per_query=True`` returns the values
(Q,) instead, NaN for a query the metric skips (for bootstrap intervals, or per-class views).

>>> import numpy as np
>>> relevance = np.array([[1, 0, 1], [0, 0, 1]], bool)
>>> precision_at_k(relevance, 2)
0.25
>>> map_at_r(relevance, n_relevant=[2, 1])   # query 0: (1/1) / 2; query 1: 0
0.25
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _relevance(relevance, k: int | None = None) -> np.ndarray:
    relevance = np.asarray(relevance)
    if relevance.ndim != 2:
        raise ValueError(f"relevance must be (n_queries, K), got shape {relevance.shape}")
    if relevance.shape[0] == 0:
        raise ValueError("no queries")
    if k is not None and (isinstance(k, bool) or not 1 <= k <= relevance.shape[1]):
        raise ValueError(f"k={k} must be between 1 and the {relevance.shape[1]} retrieved items given")
    if relevance.dtype != bool and np.isnan(relevance.astype(np.float64)).any():
        raise ValueError("relevance contains NaN")
    return relevance


def _binary(relevance: np.ndarray) -> np.ndarray:
    return relevance if relevance.dtype == bool else relevance > 0


def _counts(n_relevant, n_queries: int) -> np.ndarray:
    n_relevant = np.asarray(n_relevant).reshape(-1)
    if n_relevant.shape[0] != n_queries:
        raise ValueError(f"n_relevant has {n_relevant.shape[0]} entries for {n_queries} queries")
    return n_relevant


def _mean(values: np.ndarray, per_query: bool, what: str):
    if per_query:
        return values
    if np.isnan(values).all():
        raise ValueError(f"no query can be scored for {what}")
    return float(np.nanmean(values))


def precision_at_k(relevance, k: int, per_query: bool = False):
    """mean_i (1/k) sum_{j<=k} rel_ij (the mean gain of the first k for graded relevance)."""
    rel = _relevance(relevance, k)[:, :k].astype(np.float64)
    return _mean(rel.mean(axis=1), per_query, "precision")


def recall_at_k(relevance, k: int, n_relevant, per_query: bool = False):
    """mean_i |relevant among the first k| / n_relevant_i, over queries with n_relevant_i > 0."""
    rel = _binary(_relevance(relevance, k))[:, :k]
    n_relevant = _counts(n_relevant, len(rel)).astype(np.float64)
    values = np.where(n_relevant > 0, rel.sum(axis=1) / np.where(n_relevant > 0, n_relevant, 1), np.nan)
    return _mean(values, per_query, "recall (no query has a relevant item in the base)")


def neighbour_recall(found, exact, per_query: bool = False):
    """Recall@k of an approximate search (ann-benchmarks'): mean over queries of
    |found_q & exact_q| / k, with exact (Q, k) the true k nearest and found (Q, k) the returned rows."""
    found, exact = np.asarray(found), np.asarray(exact)
    relevance = (found[:, :, None] == exact[:, None, :]).any(axis=2) & (found >= 0)
    return recall_at_k(relevance, exact.shape[1], np.full(len(exact), exact.shape[1]), per_query=per_query)


def hit_rate_at_k(relevance, k: int, per_query: bool = False):
    """Share of queries with at least one relevant item among the first k (for identity matching:
    recall@k of the true match, R@k)."""
    rel = _binary(_relevance(relevance, k))[:, :k]
    return _mean(rel.any(axis=1).astype(np.float64), per_query, "hit rate")


def _within_r(relevance, n_relevant):
    rel = _binary(_relevance(relevance))
    r = _counts(n_relevant, len(rel))
    if (r < 1).any():
        raise ValueError(f"{int((r < 1).sum())} queries have no relevant item; drop them first")
    if r.max() > rel.shape[1]:
        raise ValueError(f"R-based metrics need R = {r.max()} retrieved items per query, got {rel.shape[1]}")
    return rel & (np.arange(rel.shape[1])[None, :] < r[:, None]), r


def r_precision(relevance, n_relevant, per_query: bool = False):
    """mean_i |relevant among the first R_i| / R_i with R_i = n_relevant_i."""
    rel, r = _within_r(relevance, n_relevant)
    return _mean(rel.sum(axis=1) / r, per_query, "R-precision")


def map_at_r(relevance, n_relevant, per_query: bool = False):
    """MAP@R (Musgrave et al. 2020): mean_i (1/R_i) sum_{j<=R_i} rel_ij precision@j."""
    rel, r = _within_r(relevance, n_relevant)
    precision = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
    return _mean((precision * rel).sum(axis=1) / r, per_query, "MAP@R")


def average_precision(relevance, n_relevant, per_query: bool = False):
    """Mean average precision over the whole retrieved list: mean_i (1/R_i) sum_j rel_ij precision@j,
    R_i = n_relevant_i (a relevant item not retrieved counts as 0); NaN for a query with R_i = 0.

    >>> round(average_precision(np.array([[0, 1, 1]], bool), [3]), 6)   # (1/2 + 2/3) / 3
    0.388889
    """
    rel = _binary(_relevance(relevance))
    r = _counts(n_relevant, len(rel)).astype(np.float64)
    precision = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
    values = np.where(r > 0, (precision * rel).sum(axis=1) / np.maximum(r, 1), np.nan)
    return _mean(values, per_query, "mean average precision")


def reciprocal_rank(relevance, per_query: bool = False):
    """Mean reciprocal rank: mean_i 1 / (rank of the first relevant item), 0 when none is retrieved.

    >>> reciprocal_rank(np.array([[0, 1, 1], [0, 0, 0]], bool))   # (1/2 + 0) / 2
    0.25
    """
    rel = _binary(_relevance(relevance))
    first = np.argmax(rel, axis=1)
    return _mean(np.where(rel.any(axis=1), 1.0 / (first + 1), 0.0), per_query, "reciprocal rank")


def dcg(gains, k: int) -> np.ndarray:
    """Per query, sum_{j<=k} gain_ij / log2(j + 1) (ranks j from 1)."""
    gains = np.asarray(gains, np.float64)[:, :k]
    return (gains / np.log2(np.arange(2, gains.shape[1] + 2))).sum(axis=1)


def ndcg_at_k(gains, ideal_gains, k: int, per_query: bool = False):
    """mean_i DCG@k(gains_i) / DCG@k(ideal_i), where ideal_gains (Q, >= k) are the query's best
    possible gains in descending order (the gallery sorted by true gain, the query itself excluded).
    A query whose ideal DCG is 0 (nothing in the gallery has a gain) is skipped (NaN per query)."""
    gains = _relevance(gains, k)
    ideal = np.asarray(ideal_gains, np.float64)
    if ideal.ndim != 2 or ideal.shape[0] != gains.shape[0] or ideal.shape[1] < k:
        raise ValueError(f"ideal_gains must be (n_queries={gains.shape[0]}, >= {k}), got {ideal.shape}")
    if (np.asarray(gains, np.float64) < 0).any() or (ideal < 0).any():
        raise ValueError("gains must be non-negative")
    best = dcg(ideal, k)
    values = np.where(best > 0, dcg(gains, k) / np.where(best > 0, best, 1), np.nan)
    return _mean(values, per_query, "nDCG (every query has ideal DCG 0)")


def knn_predict(neighbour_labels, k: int) -> np.ndarray:
    """Majority vote of the first k neighbour labels; a tie goes to the tied class whose
    neighbour comes first (the nearest)."""
    neighbour_labels = np.asarray(neighbour_labels)
    if neighbour_labels.ndim != 2 or isinstance(k, bool) or not 1 <= k <= neighbour_labels.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the neighbours given, shape {neighbour_labels.shape}")
    top = neighbour_labels[:, :k]
    votes = (top[:, :, None] == top[:, None, :]).sum(axis=2)  # votes for the class of each position
    return top[np.arange(len(top)), votes.argmax(axis=1)]  # argmax takes the first (nearest) maximum


def knn_accuracy(neighbour_labels, query_labels, k: int, per_query: bool = False):
    """Share of queries whose k-NN majority vote (knn_predict) is their label."""
    query_labels = np.asarray(query_labels).reshape(-1)
    if np.asarray(neighbour_labels).shape[:1] != query_labels.shape:
        raise ValueError(
            f"neighbour_labels has {np.asarray(neighbour_labels).shape[0]} rows for {len(query_labels)} queries"
        )
    return _mean((knn_predict(neighbour_labels, k) == query_labels).astype(np.float64), per_query, "k-NN accuracy")


def match_ranks(distances, dim: int = 1) -> np.ndarray:
    """Rank (1 = closest) of each item's own match in a square distance matrix D: dim=1 ranks the
    entries of row i (D[i, i] among D[i, :]), dim=0 those of column j. Ties are pessimistic: an
    entry equal to the match's distance ranks before it."""
    d = _square(distances)
    d = d if dim == 1 else d.T
    diagonal = np.diagonal(d)[:, None]
    return (d < diagonal).sum(axis=1) + (d == diagonal).sum(axis=1)


def top_ratio_accuracy(distances, ratio: float, dim: int = 1, per_query: bool = False):
    """For a square distance matrix D (N x N), D[i, j] between item i of one modality and item j of
    the other: k = int(ratio * N); dim=1: the share of rows i whose own index is among the k
    smallest entries of row i; dim=0: the same for columns. Ties count against the match (see
    ``match_ranks``); D and the ratio are used as given."""
    d = _square(distances)
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio}")
    k = int(ratio * len(d))
    if k < 1:
        raise ValueError(f"ratio {ratio} of N = {len(d)} keeps no item (k = int(ratio * N) = 0)")
    return _mean((match_ranks(d, dim) <= k).astype(np.float64), per_query, "top-ratio accuracy")


def _square(distances) -> np.ndarray:
    d = np.asarray(distances)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] == 0:
        raise ValueError(f"distances must be a non-empty square matrix (N x N), got shape {d.shape}")
    if np.isnan(d).any():
        raise ValueError("distances contain NaN")
    return d


def held_out_recall_at_k(recommended, hidden, k: int, per_user: bool = False):
    """mean over users with hidden items of |hidden among the first k recommended| / |hidden|;
    ``recommended`` (users, >= k) item indices, ``hidden`` a users x items 0/1 (sparse) matrix.
    ``per_user``: each user's value instead (NaN for a user with nothing hidden)."""
    recommended = np.asarray(recommended)
    hidden = sp.csr_matrix(hidden)
    if recommended.ndim != 2 or recommended.shape[0] != hidden.shape[0] or recommended.shape[1] < k:
        raise ValueError(f"recommended must be (users={hidden.shape[0]}, >= {k}), got {recommended.shape}")
    n_hidden = np.diff(hidden.indptr)
    if not (n_hidden > 0).any():
        raise ValueError("no user has a hidden item")
    hits = np.asarray(hidden[np.arange(len(recommended))[:, None], recommended[:, :k]].sum(axis=1)).ravel()
    has = n_hidden > 0
    if per_user:
        return np.where(has, hits / np.maximum(n_hidden, 1), np.nan)
    return float((hits[has] / n_hidden[has]).mean())
