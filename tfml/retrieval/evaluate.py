"""Search an index and evaluate what came back: the one helper every study uses.

Metric names: ``precision@K``, ``recall@K``, ``hit_rate@K`` (for a match relevance: R@K),
``ndcg@K``, ``r_precision``, ``map@r``, ``map`` (mean average precision over the whole ranking),
``mrr`` (mean reciprocal rank of the first relevant item), ``knn@K`` (k-NN classification accuracy,
majority vote of the first K), ``balanced_knn@K`` (the same, balanced over classes),
``mean_gain@K`` (mean gain of the first K: precision@K for binary relevance, e.g. mean genre
Jaccard for graded). ``map`` and ``mrr`` rank the whole base.
``knn@K`` and ``balanced_knn@K`` need a ``LabelRelevance``.

>>> import numpy as np
>>> from tfml.retrieval import ExactIndex, LabelRelevance
>>> base = np.array([[0.0], [0.1], [5.0], [5.2]], np.float32)
>>> labels = np.array([0, 0, 1, 1])
>>> result = evaluate_retrieval(ExactIndex(base), base, LabelRelevance(labels, labels),
...                             ["precision@1", "map@r", "knn@1"], exclude=np.arange(4))
>>> result.metrics
{'precision@1': 1.0, 'map@r': 1.0, 'knn@1': 1.0}
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import balanced_accuracy_score

from tfml.retrieval import metrics as m
from tfml.retrieval.relevance import LabelRelevance

LABEL_METRICS = ("knn@1", "knn@5", "balanced_knn@1", "precision@1", "r_precision", "map@r")
"""The figures of retrieval with class labels: k-NN classification (k = 1, 5; balanced over
classes) and the retrieval figures pytorch-metric-learning reports."""

_PATTERN = re.compile(
    r"^(precision|recall|hit_rate|ndcg|knn|balanced_knn|mean_gain)@(\d+)$|^(r_precision|map@r|map|mrr)$"
)
WHOLE_RANKING = ("map", "mrr")


@dataclasses.dataclass
class Retrieval:
    metrics: dict[str, float]
    per_query: dict[str, np.ndarray]  # per-query values (NaN where a metric skips the query)
    distances: np.ndarray | None  # (Q, k) of the search, ascending; None when streamed (memory_bytes)
    indices: np.ndarray | None  # (Q, k) base indices; None when streamed
    skipped: dict[str, int]  # per metric, queries it could not score (e.g. ideal DCG 0)


def parse_metric(name: str) -> tuple[str, int | None]:
    """("precision", 10) for "precision@10", ("map@r", None) for "map@r"; a ValueError otherwise."""
    match = _PATTERN.match(name)
    if not match:
        raise ValueError(
            f"unknown retrieval metric {name!r}; use precision@K, recall@K, hit_rate@K, ndcg@K, knn@K, "
            "balanced_knn@K, mean_gain@K, r_precision, map@r, map or mrr"
        )
    if match.group(3):
        return match.group(3), None
    k = int(match.group(2))
    if k < 1:
        raise ValueError(f"{name}: K must be at least 1")
    return match.group(1), k


BYTES_PER_NEIGHBOUR = 40
"""What the evaluation holds per (query, neighbour) at once: distance and index (8 + 8 bytes), gain
(8) and the metrics' temporary arrays (about 16): the unit of a ``memory_bytes`` budget."""


def evaluate_retrieval(
    index,
    queries,
    relevance,
    metrics: Sequence[str],
    *,
    exclude=None,
    rows=None,
    progress: bool = False,
    memory_bytes: int | None = None,
) -> Retrieval:
    """Searches ``index`` (``search(queries, k, exclude)``) for the query vectors and computes
    ``metrics`` under ``relevance`` (see ``tfml.retrieval.relevance``). ``rows`` are the queries'
    indices in the relevance definition (default 0 .. Q - 1); ``exclude`` one base index per query
    to leave out (the query itself), or None. The search depth is the largest K asked, or, for
    R-based metrics, the largest number of relevant items of any query.

    ``memory_bytes``: stream the queries in blocks whose neighbour lists fit the budget (about
    ``BYTES_PER_NEIGHBOUR`` per query and neighbour; the index's own search memory comes on top):
    the same values, in bounded memory, without the (Q, k) neighbour lists in the result."""
    parsed = [(name, *parse_metric(name)) for name in metrics]
    n_queries = len(queries)
    if n_queries == 0:
        raise ValueError("no queries to evaluate")
    rows = np.arange(n_queries) if rows is None else np.asarray(rows)
    exclude = None if exclude is None else np.asarray(exclude)
    depth, n_relevant = search_depth(parsed, index, relevance, rows, exclude)
    block = n_queries if memory_bytes is None else memory_bytes // (BYTES_PER_NEIGHBOUR * depth)
    if block < 1:
        raise ValueError(
            f"memory_bytes={memory_bytes:,} holds less than one query's {depth:,} neighbours "
            f"({BYTES_PER_NEIGHBOUR * depth:,} bytes); raise it"
        )
    collected, searched = {name: [] for name, _, _ in parsed}, (None, None)
    for start in range(0, n_queries, block):
        part = slice(start, min(start + block, n_queries))
        excluded = None if exclude is None else exclude[part]
        distances, indices = index.search(queries[part], depth, exclude=excluded, progress=progress)
        relevant = None if n_relevant is None else n_relevant[part]
        for name, scores in score_queries(parsed, relevance, rows[part], indices, relevant, excluded).items():
            collected[name].append(scores)
        if memory_bytes is None:
            searched = (distances, indices)
    values, per_query, skipped = {}, {}, {}
    for name, kind, _ in parsed:
        joined = np.concatenate(collected[name])
        if kind == "balanced_knn":
            values[name] = float(balanced_accuracy_score(relevance.query_labels[rows], joined))
            continue
        per_query[name], skipped[name] = joined, int(np.isnan(joined).sum())
        if skipped[name] == n_queries:
            raise ValueError(f"{name}: no query can be scored")
        values[name] = float(np.nanmean(joined))
    return Retrieval(values, per_query, *searched, skipped)


def search_depth(parsed, index, relevance, rows, exclude) -> tuple[int, np.ndarray | None]:
    """(neighbours to search per query, relevant items per query or None) for the parsed metrics;
    a ValueError when the base cannot offer them."""
    depth = max([k for _, _, k in parsed if k is not None], default=1)
    n_relevant = None
    available = len(index) - (0 if exclude is None else 1)
    if any(kind in WHOLE_RANKING for _, kind, _ in parsed):
        depth = max(depth, available)
    if any(kind in ("recall", "r_precision", "map@r", "map") for _, kind, _ in parsed):
        n_relevant = relevance.n_relevant(rows, exclude)
        if any(kind in ("r_precision", "map@r") for _, kind, _ in parsed):
            if (n_relevant < 1).any():
                raise ValueError(
                    f"{int((n_relevant < 1).sum())} queries have no relevant item in the base; R-based metrics need one"
                )
            depth = max(depth, int(n_relevant.max()))
    if depth > available:
        raise ValueError(f"the metrics need the {depth} nearest items, but the base offers {available} per query")
    return depth, n_relevant


def score_queries(parsed, relevance, rows, indices, n_relevant, exclude) -> dict[str, np.ndarray]:
    """Per-query values of each parsed metric for queries ``rows`` with neighbours ``indices``; for
    balanced k-NN, the predicted labels (its score needs every query)."""
    gains = relevance.gains(rows, indices)
    out = {}
    for name, kind, k in parsed:
        if kind in ("knn", "balanced_knn"):
            if not isinstance(relevance, LabelRelevance):
                raise ValueError(f"{name} classifies by labels and needs a LabelRelevance")
            neighbour_labels, query_labels = relevance.labels_of(indices), relevance.query_labels[rows]
            if kind == "knn":
                out[name] = m.knn_accuracy(neighbour_labels, query_labels, k, per_query=True)
            else:
                out[name] = m.knn_predict(neighbour_labels, k)
        elif kind in ("precision", "mean_gain"):
            out[name] = m.precision_at_k(gains, k, per_query=True)
        elif kind == "recall":
            out[name] = m.recall_at_k(gains, k, n_relevant, per_query=True)
        elif kind == "hit_rate":
            out[name] = m.hit_rate_at_k(gains, k, per_query=True)
        elif kind == "ndcg":
            out[name] = m.ndcg_at_k(gains, relevance.ideal(rows, k, exclude), k, per_query=True)
        elif kind == "r_precision":
            out[name] = m.r_precision(gains, n_relevant, per_query=True)
        elif kind == "map":
            out[name] = m.average_precision(gains, n_relevant, per_query=True)
        elif kind == "mrr":
            out[name] = m.reciprocal_rank(gains, per_query=True)
        else:
            out[name] = m.map_at_r(gains, n_relevant, per_query=True)
    return out


def bootstrap_interval(per_query, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-query values (NaN skipped), resampling queries."""
    values = np.asarray(per_query, np.float64)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError("no per-query values to resample")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@dataclasses.dataclass(frozen=True)
class Difference:
    """The mean per-query difference of two models on the same queries, with its paired bootstrap
    interval; ``sentence`` says it in words, calling a difference whose interval holds 0 a tie."""

    mean: float
    low: float
    high: float
    level: float
    queries: int

    def sentence(self, first: str, second: str, figure: str) -> str:
        interval = (
            f"{self.mean:+.3f}, {self.level:.0%} interval [{self.low:+.3f}, {self.high:+.3f}] over {self.queries:,} "
            "queries"
        )
        if self.low > 0:
            return f"{first} is ahead of {second} by {figure} ({interval})"
        if self.high < 0:
            return f"{first} is behind {second} by {figure} ({interval})"
        return f"{first} and {second} cannot be told apart by {figure} ({interval}: the interval holds 0)"


def paired_difference(first, second, level: float = 0.95, resamples: int = 2000, seed: int = 0) -> Difference:
    """mean(first - second) over the queries both score, with a percentile bootstrap interval that
    resamples queries (the same ones for both models, so what the queries share cancels out).

    >>> paired_difference([1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0]).mean
    0.5
    """
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if first.shape != second.shape:
        raise ValueError(f"paired values must score the same queries: {first.shape} and {second.shape}")
    both = ~(np.isnan(first) | np.isnan(second))
    differences = first[both] - second[both]
    if len(differences) == 0:
        raise ValueError("no query is scored by both")
    low, high = bootstrap_interval(differences, level, resamples, seed)
    return Difference(float(differences.mean()), low, high, level, len(differences))


def chance_precision(relevance: LabelRelevance, rows=None, exclude=None) -> float:
    """The expected precision@K of a random ranking (any K): the mean over queries of the share of
    the base that is relevant to the query (its own item left out when ``exclude`` names it).

    >>> labels = np.array([0, 0, 0, 1])
    >>> chance_precision(LabelRelevance(labels, labels), exclude=np.arange(4))
    0.5
    """
    rows = np.arange(len(relevance.query_labels)) if rows is None else np.asarray(rows)
    available = len(relevance.base_labels) - (0 if exclude is None else 1)
    return float(np.mean(relevance.n_relevant(rows, exclude) / available))
