"""Approximate k-NN on a graph: HNSW (Malkov and Yashunin, TPAMI 2018) through faiss, in memory.

``HNSWIndex(base, distance)`` links every vector to ``links`` neighbours on each layer of a
hierarchy of proximity graphs (built with a candidate list of ``ef_construction``); a search walks
the graph greedily from the top layer, keeping the ``ef_search`` best candidates on the bottom one.
Larger ``ef_search``: slower and closer to exact. Ask for a recall, not for the knob:
``target_recall`` picks the smallest ``ef_search`` (k x 2^(i/4), i = 0, 1, ...) whose recall@k against
the exact neighbours (``ExactIndex``) of held-out queries clears it by two standard errors of that
mean (so that other queries from the same distribution reach it too): at construction,
``tuning_queries`` base vectors drawn at random are added to the graph only after it is tuned on
them (a vector already in the graph finds its neighbours through its own links, far more easily
than a new query would); ``tune(queries, target_recall)`` takes queries of the user's.
Distances: "euclidean" (the distances returned are Euclidean), "cosine" (the vectors are
normalised and searched by inner product; the distances returned are 1 - cosine similarity).
RAM per vector: the vector (4 dim bytes) and its links (about 2 ``links`` x 4 bytes on the bottom
layer). Choose it over ``IVFPQIndex`` when the vectors fit in memory and the recall must be high;
IVF-PQ keeps tens of bytes per vector in RAM and its lists on disk.

>>> vectors = np.random.default_rng(0).normal(size=(500, 8)).astype(np.float32)
>>> index = HNSWIndex(vectors, target_recall=0.99, tuning_queries=50)
>>> index.search(vectors[:2], k=3, exclude=np.arange(2))[1].shape
(2, 3)
"""

from __future__ import annotations

import numpy as np

from tfml.losses.distances import canonical_distance
from tfml.retrieval.index import ExactIndex, _normalise, check_embeddings
from tfml.retrieval.metrics import neighbour_recall
from tfml.retrieval.shards import require_faiss

DISTANCES = ("euclidean", "cosine")
TUNING_K = 10  # recall@k that target_recall is about
TUNING_LADDER = 2**0.25  # ef_search tried: k, k x 2^(1/4), k x 2^(2/4), ...
TUNING_MARGIN = 2.0  # standard errors of the tuning recall by which it must clear the target


class HNSWIndex:
    """Approximate k-NN with faiss's IndexHNSWFlat (see the module docstring)."""

    def __init__(
        self,
        base,
        distance: str = "euclidean",
        links: int = 32,
        ef_construction: int = 200,
        ef_search: int = 64,
        target_recall: float | None = None,
        tuning_queries: int = 1000,
        seed: int = 0,
    ):
        faiss = require_faiss()
        self.distance = canonical_distance(distance)
        if self.distance not in DISTANCES:
            raise ValueError(f"HNSWIndex searches {' or '.join(DISTANCES)} distances, not {distance!r}")
        for name, value in (("links", links), ("ef_construction", ef_construction), ("ef_search", ef_search)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        self.base = check_embeddings(base, "base embeddings").astype(np.float32, copy=False)
        self.size, self.dim = self.base.shape
        metric = faiss.METRIC_INNER_PRODUCT if self.distance == "cosine" else faiss.METRIC_L2
        self.index = faiss.IndexHNSWFlat(self.dim, links, metric)
        self.index.hnsw.efConstruction = ef_construction
        self.links, self.ef_search = links, ef_search
        held_out = np.zeros(0, np.int64)
        if target_recall is not None:
            count = min(tuning_queries, self.size // 2)
            held_out = np.sort(np.random.default_rng(seed).choice(self.size, count, replace=False))
        self._rows = np.concatenate([np.setdiff1d(np.arange(self.size), held_out), held_out])  # graph id -> row
        graph_rows = self._rows[: self.size - len(held_out)]
        self.index.add(self._prepared(self.base[graph_rows]))
        if target_recall is not None:
            exact = graph_rows[
                ExactIndex(self.base[graph_rows], distance=self.distance).search(self.base[held_out], TUNING_K)[1]
            ]
            self._tune(self.base[held_out], exact, target_recall)
            self.index.add(self._prepared(self.base[held_out]))

    def __len__(self) -> int:
        return self.size

    def _prepared(self, vectors: np.ndarray) -> np.ndarray:
        vectors = _normalise(vectors) if self.distance == "cosine" else vectors
        return np.ascontiguousarray(vectors, np.float32)

    def resident_bytes_per_vector(self) -> float:
        """RAM per vector: the vector and its bottom-layer links (upper layers add about 1 / links)."""
        return 4 * self.dim + 2 * self.links * 4 * (1 + 1 / self.links)

    def search(self, queries, k: int, exclude=None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices), each (n_queries, k), nearest first; ``exclude`` as for ExactIndex."""
        queries = check_embeddings(queries, "queries", self.dim)
        if k > self.size - (exclude is not None):
            raise ValueError(f"k={k} is larger than the {self.size} base items")
        extra = int(exclude is not None)
        self.index.hnsw.efSearch = max(self.ef_search, k + extra)
        scores, ids = self.index.search(self._prepared(queries), k + extra)
        rows = np.where(ids >= 0, self._rows[np.maximum(ids, 0)], -1)
        if exclude is not None:
            keep = rows != np.asarray(exclude).reshape(-1, 1)
            order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # the kept ones first, in rank order
            scores, rows = np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)
        distances = 1 - scores if self.distance == "cosine" else np.sqrt(np.maximum(scores, 0))
        return distances.astype(np.float32), rows.astype(np.int64)

    def tune(self, queries, target_recall: float, k: int = TUNING_K, exclude=None) -> dict:
        """Sets ``ef_search`` to the smallest of the ladder whose recall@k on ``queries`` (held out from
        any later measurement) clears ``target_recall`` (see the module docstring); returns {"ef_search",
        "recall"}. A ValueError names the best recall reachable when even ef_search = base size falls short."""
        queries = check_embeddings(queries, "queries", self.dim)
        exact = ExactIndex(self.base, distance=self.distance).search(queries, k, exclude=exclude)[1]
        return self._tune(queries, exact, target_recall, exclude)

    def _tune(self, queries, exact: np.ndarray, target_recall: float, exclude=None) -> dict:
        if not 0 < target_recall <= 1:
            raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
        k = exact.shape[1]
        steps = range(int(4 * np.log2(self.size)) + 5)  # enough to pass the base size
        for ef in sorted({min(round(k * TUNING_LADDER**step), self.size) for step in steps}):
            self.ef_search = ef
            per_query = neighbour_recall(self.search(queries, k, exclude=exclude)[1], exact, per_query=True)
            reached = float(per_query.mean())
            margin = TUNING_MARGIN * per_query.std(ddof=1) / np.sqrt(len(per_query)) if len(per_query) > 1 else 0.0
            widest = ef == self.size
            if reached - margin >= target_recall or (widest and reached >= target_recall):
                return {"ef_search": ef, "recall": reached}
            if widest:
                raise ValueError(
                    f"recall@{k} {reached:.3f} with ef_search = {self.size} is below the target {target_recall}: "
                    "build with more links or a larger ef_construction"
                )
