"""The accuracy figures of pytorch-metric-learning's AccuracyCalculator, on tfml's evaluation
contract (``evaluate_retrieval``: an index, a relevance, metrics by name).

``accuracy(query, query_labels, reference, reference_labels)`` gives, for queries searched in a
separate reference set, or in the query set itself (``reference=None``: each query left out of its
own results):

- ``precision_at_1``, ``r_precision``, ``mean_average_precision_at_r`` (MAP@R),
  ``mean_average_precision`` (over the whole ranking) and ``mean_reciprocal_rank``, over the
  queries whose class has an item in the reference set (a query without one has nothing to find:
  it is left out, as pytorch-metric-learning leaves out its "lone" queries);
- ``NMI`` and ``AMI``: normalised and adjusted mutual information between the query labels and a
  k-means clustering of the query embeddings into as many clusters as there are labels
  (scikit-learn's KMeans, ``n_init=10``, seeded).

``per_class=True`` averages each figure per class first, then over the classes
(pytorch-metric-learning's ``avg_of_avgs``). Neighbours are ranked by ``distance`` (Euclidean by
default). The tests compare every figure with pytorch-metric-learning 2.9's on fixed data.

>>> import numpy as np
>>> x = np.array([[0.0], [0.1], [5.0], [5.2], [9.0]], np.float32)
>>> figures = accuracy(x, np.array([0, 0, 1, 1, 2]))   # class 2 has one item: a lone query
>>> figures["precision_at_1"], figures["mean_average_precision_at_r"]
(1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

from tfml.retrieval.evaluate import evaluate_retrieval
from tfml.retrieval.index import ExactIndex
from tfml.retrieval.relevance import LabelRelevance

RANKING_FIGURES = {
    "precision_at_1": "precision@1",
    "r_precision": "r_precision",
    "mean_average_precision_at_r": "map@r",
    "mean_average_precision": "map",
    "mean_reciprocal_rank": "mrr",
}
CLUSTERING_FIGURES = ("NMI", "AMI")
FIGURES = (*RANKING_FIGURES, *CLUSTERING_FIGURES)


def accuracy(
    query,
    query_labels,
    reference=None,
    reference_labels=None,
    *,
    figures: Sequence[str] = FIGURES,
    per_class: bool = False,
    distance: str = "euclidean",
    seed: int = 0,
    memory_bytes: int | None = None,
) -> dict[str, float]:
    """{figure: value} (see the module docstring); a figure no query can score is NaN.
    ``memory_bytes`` streams the ranking figures in bounded memory (``evaluate_retrieval``)."""
    unknown = [f for f in figures if f not in FIGURES]
    if unknown:
        raise ValueError(f"unknown accuracy figures {unknown}; choose among {', '.join(FIGURES)}")
    query, query_labels = np.asarray(query), np.asarray(query_labels).reshape(-1)
    itself = reference is None
    reference = query if itself else np.asarray(reference)
    reference_labels = query_labels if itself else np.asarray(reference_labels).reshape(-1)
    if len(query) != len(query_labels) or len(reference) != len(reference_labels):
        raise ValueError("embeddings and labels must have the same length")
    values = {}
    ranking = [f for f in figures if f in RANKING_FIGURES]
    if ranking:
        values.update(
            _ranking(
                query, query_labels, reference, reference_labels, itself, ranking, per_class, distance, memory_bytes
            )
        )
    clustering = [f for f in figures if f in CLUSTERING_FIGURES]
    if clustering:
        clusters = KMeans(len(np.unique(query_labels)), n_init=10, random_state=seed).fit_predict(query)
        scores = {"NMI": normalized_mutual_info_score, "AMI": adjusted_mutual_info_score}
        values.update({f: float(scores[f](query_labels, clusters)) for f in clustering})
    return {f: values[f] for f in figures}


def _ranking(query, query_labels, reference, reference_labels, itself, figures, per_class, distance, memory_bytes):
    relevance = LabelRelevance(query_labels, reference_labels)
    exclude = np.arange(len(query)) if itself else None
    scored = np.flatnonzero(relevance.n_relevant(np.arange(len(query)), exclude) > 0)  # not lone
    if len(scored) == 0:
        return {f: float("nan") for f in figures}
    result = evaluate_retrieval(
        ExactIndex(reference, distance),
        query[scored],
        relevance,
        [RANKING_FIGURES[f] for f in figures],
        exclude=None if exclude is None else exclude[scored],
        rows=scored,
        memory_bytes=memory_bytes,
    )
    if not per_class:
        return {f: result.metrics[RANKING_FIGURES[f]] for f in figures}
    labels = query_labels[scored]
    classes = np.unique(labels)
    return {
        f: float(np.mean([np.nanmean(result.per_query[RANKING_FIGURES[f]][labels == c]) for c in classes]))
        for f in figures
    }
