"""Retrieval and k-NN classification metrics from ranked neighbour labels.

Inputs are the labels of each query's neighbours in rank order, ``neighbour_labels`` (Q, K), and the
query labels (Q,). A neighbour is relevant when its label equals the query's. ``n_relevant`` (Q,)
is the number of relevant items in the searched base for each query (the query itself excluded).
Every metric is the mean over queries of a per-query value.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _check(neighbour_labels, query_labels, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    neighbour_labels = np.asarray(neighbour_labels)
    query_labels = np.asarray(query_labels).reshape(-1)
    if neighbour_labels.ndim != 2 or neighbour_labels.shape[0] != query_labels.shape[0]:
        raise ValueError(
            f"neighbour_labels must be (n_queries, K) with n_queries = {query_labels.shape[0]}, got {neighbour_labels.shape}"
        )
    if query_labels.shape[0] == 0:
        raise ValueError("no queries")
    if k is not None and not 1 <= k <= neighbour_labels.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the {neighbour_labels.shape[1]} neighbours given")
    return neighbour_labels, query_labels


def relevance(neighbour_labels, query_labels) -> np.ndarray:
    """Boolean (Q, K): neighbour_labels[i, j] == query_labels[i]."""
    neighbour_labels, query_labels = _check(neighbour_labels, query_labels)
    return neighbour_labels == query_labels[:, None]


def count_relevant(query_labels, base_labels, query_in_base: bool = True) -> np.ndarray:
    """Per query, how many base items share its label (minus one when the query itself is in the
    base and excluded from its results)."""
    values, counts = np.unique(np.asarray(base_labels).reshape(-1), return_counts=True)
    lookup = dict(zip(values.tolist(), counts.tolist()))
    n = np.array([lookup.get(label, 0) for label in np.asarray(query_labels).reshape(-1).tolist()], np.int64)
    return n - 1 if query_in_base else n


def precision_at_k(neighbour_labels, query_labels, k: int) -> float:
    """mean_i |relevant among the first k| / k."""
    rel = relevance(*_check(neighbour_labels, query_labels, k))[:, :k]
    return float(rel.mean(axis=1).mean())


def recall_at_k(neighbour_labels, query_labels, k: int, n_relevant) -> float:
    """mean_i |relevant among the first k| / n_relevant_i, over queries with n_relevant_i > 0."""
    rel = relevance(*_check(neighbour_labels, query_labels, k))[:, :k]
    n_relevant = np.asarray(n_relevant).reshape(-1)
    has = n_relevant > 0
    if not has.any():
        raise ValueError("no query has a relevant item in the base")
    return float((rel.sum(axis=1)[has] / n_relevant[has]).mean())


def hit_rate_at_k(neighbour_labels, query_labels, k: int) -> float:
    """Share of queries with at least one relevant item among the first k."""
    rel = relevance(*_check(neighbour_labels, query_labels, k))[:, :k]
    return float(rel.any(axis=1).mean())


def _ranked_r(neighbour_labels, query_labels, n_relevant):
    rel = relevance(neighbour_labels, query_labels)
    r = np.asarray(n_relevant).reshape(-1)
    if r.shape[0] != rel.shape[0]:
        raise ValueError(f"n_relevant has {r.shape[0]} entries for {rel.shape[0]} queries")
    if (r < 1).any():
        raise ValueError(f"{int((r < 1).sum())} queries have no relevant item; drop them first")
    if r.max() > rel.shape[1]:
        raise ValueError(f"R-based metrics need R = {r.max()} neighbours per query, got {rel.shape[1]}")
    within_r = np.arange(rel.shape[1])[None, :] < r[:, None]
    return rel & within_r, r


def r_precision(neighbour_labels, query_labels, n_relevant) -> float:
    """mean_i |relevant among the first R_i| / R_i with R_i = n_relevant_i."""
    rel, r = _ranked_r(neighbour_labels, query_labels, n_relevant)
    return float((rel.sum(axis=1) / r).mean())


def map_at_r(neighbour_labels, query_labels, n_relevant) -> float:
    """MAP@R (Musgrave et al. 2020): mean_i (1/R_i) sum_{j<=R_i} rel_ij * precision@j."""
    rel, r = _ranked_r(neighbour_labels, query_labels, n_relevant)
    precision = np.cumsum(rel, axis=1) / np.arange(1, rel.shape[1] + 1)
    return float(((precision * rel).sum(axis=1) / r).mean())


def knn_predict(neighbour_labels, k: int) -> np.ndarray:
    """Majority vote of the first k neighbour labels; a tie goes to the tied class whose
    neighbour comes first (the nearest)."""
    neighbour_labels = np.asarray(neighbour_labels)
    if neighbour_labels.ndim != 2 or not 1 <= k <= neighbour_labels.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the neighbours given, shape {neighbour_labels.shape}")
    top = neighbour_labels[:, :k]
    votes = (top[:, :, None] == top[:, None, :]).sum(axis=2)  # votes for the class of each position
    return top[np.arange(len(top)), votes.argmax(axis=1)]  # argmax takes the first (nearest) maximum


def knn_accuracy(neighbour_labels, query_labels, k: int) -> float:
    """Share of queries whose k-NN majority vote (knn_predict) is their label."""
    neighbour_labels, query_labels = _check(neighbour_labels, query_labels, k)
    return float((knn_predict(neighbour_labels, k) == query_labels).mean())


def held_out_recall_at_k(recommended, hidden, k: int) -> float:
    """mean over users with hidden items of |hidden among the first k recommended| / |hidden|;
    ``recommended`` (users, >= k) item indices, ``hidden`` a users x items 0/1 (sparse) matrix."""
    recommended = np.asarray(recommended)
    hidden = sp.csr_matrix(hidden)
    if recommended.ndim != 2 or recommended.shape[0] != hidden.shape[0] or recommended.shape[1] < k:
        raise ValueError(f"recommended must be (users={hidden.shape[0]}, >= {k}), got {recommended.shape}")
    n_hidden = np.diff(hidden.indptr)
    if not (n_hidden > 0).any():
        raise ValueError("no user has a hidden item")
    hits = np.asarray(hidden[np.arange(len(recommended))[:, None], recommended[:, :k]].sum(axis=1)).ravel()
    has = n_hidden > 0
    return float((hits[has] / n_hidden[has]).mean())
