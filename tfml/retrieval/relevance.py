"""What is relevant to a query: the one evaluation contract behind every study.

A relevance definition answers, for query rows ``rows`` (indices into the queries) and the base
indices each retrieved (Q, K):

- ``gains(rows, retrieved)`` (Q, K): relevance of what was retrieved (bool, or float gains);
- ``n_relevant(rows, exclude)`` (Q,): relevant items in the base, leaving out each query's
  excluded base item (the query itself when it is in the base);
- ``ideal(rows, k, exclude)`` (Q, k): the k best gains the base holds, in descending order.

Three kinds cover the studies: ``LabelRelevance`` (same class label), ``match_relevance`` (item i
of one modality matches item i of the other: poster i <-> synopsis i), and ``GradedRelevance``
(a gain per (query, base item), e.g. ``jaccard_relevance`` of genre sets).

>>> import numpy as np
>>> relevance = LabelRelevance(query_labels=[0, 1], base_labels=[0, 0, 1])
>>> relevance.gains(np.arange(2), np.array([[1, 2], [2, 0]])).tolist()
[[True, False], [True, False]]
>>> relevance.n_relevant(np.arange(2)).tolist()
[2, 1]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tfml.pipelines.jaccard import jaccard


def _exclude(rows, exclude) -> np.ndarray:
    return np.full(len(rows), -1, np.int64) if exclude is None else np.asarray(exclude, np.int64).reshape(-1)


class LabelRelevance:
    """Binary: base item j is relevant to query i when base_labels[j] == query_labels[i]."""

    def __init__(self, query_labels, base_labels):
        self.query_labels = np.asarray(query_labels).reshape(-1)
        self.base_labels = np.asarray(base_labels).reshape(-1)
        values, counts = np.unique(self.base_labels, return_counts=True)
        self._count = dict(zip(values.tolist(), counts.tolist()))

    def gains(self, rows, retrieved) -> np.ndarray:
        return self.base_labels[retrieved] == self.query_labels[rows][:, None]

    def n_relevant(self, rows, exclude=None) -> np.ndarray:
        labels = self.query_labels[rows]
        counts = np.array([self._count.get(label, 0) for label in labels.tolist()], np.int64)
        excluded = _exclude(rows, exclude)
        return counts - ((excluded >= 0) & (self.base_labels[np.maximum(excluded, 0)] == labels))

    def ideal(self, rows, k: int, exclude=None) -> np.ndarray:
        return np.arange(k)[None, :] < self.n_relevant(rows, exclude)[:, None]

    def labels_of(self, retrieved) -> np.ndarray:
        """The base labels of retrieved items, for k-NN classification."""
        return self.base_labels[retrieved]


def match_relevance(n_items: int) -> LabelRelevance:
    """Identity matching: query i's only relevant base item is item i (e.g. poster i <-> synopsis i)."""
    return LabelRelevance(np.arange(n_items), np.arange(n_items))


class GradedRelevance:
    """Graded: ``gain_rows(rows)`` returns the gains (len(rows), n_base) of those queries against
    every base item (non-negative; > 0 counts as relevant for binary metrics)."""

    def __init__(self, gain_rows: Callable[[np.ndarray], np.ndarray], n_base: int):
        self.gain_rows, self.n_base = gain_rows, n_base

    def _rows(self, rows, exclude=None) -> np.ndarray:
        gains = np.asarray(self.gain_rows(np.asarray(rows)), np.float64).copy()
        excluded = _exclude(rows, exclude)
        inside = excluded >= 0
        gains[np.flatnonzero(inside), excluded[inside]] = -np.inf
        return gains

    def gains(self, rows, retrieved) -> np.ndarray:
        return np.take_along_axis(
            np.asarray(self.gain_rows(np.asarray(rows)), np.float64), np.asarray(retrieved), axis=1
        )

    def n_relevant(self, rows, exclude=None) -> np.ndarray:
        return (self._rows(rows, exclude) > 0).sum(axis=1)

    def ideal(self, rows, k: int, exclude=None) -> np.ndarray:
        gains = -np.sort(-self._rows(rows, exclude), axis=1)[:, :k]
        return np.maximum(gains, 0.0)


def jaccard_relevance(query_sets, base_sets) -> GradedRelevance:
    """Graded relevance = the Jaccard index of the query's and the item's label sets (multi-hot)."""
    query_sets, base_sets = np.asarray(query_sets), np.asarray(base_sets)
    return GradedRelevance(lambda rows: jaccard(query_sets[rows], base_sets), len(base_sets))
