"""The one search-and-score helper, and bootstrap intervals."""

import numpy as np
import pytest

from tests.helpers import TestCase
from tests.retrieval.references import ref_map_at_r, ref_precision, same
from tfml.retrieval import (
    ExactIndex,
    GradedRelevance,
    LabelRelevance,
    bootstrap_interval,
    chance_precision,
    evaluate_retrieval,
    match_relevance,
    paired_difference,
    r_precision,
)


class CountingIndex(ExactIndex):
    """An ExactIndex that records how many queries each search took."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.searches = []

    def search(self, queries, k, exclude=None, progress=False):
        self.searches.append(len(queries))
        return super().search(queries, k, exclude=exclude, progress=progress)


class EvaluateRetrievalTest(TestCase):
    def test_evaluate_retrieval_joins_search_and_metrics(self):
        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(3), 20)
        vectors = (rng.normal(size=(60, 4)) + labels[:, None] * 2).astype(np.float32)
        index = ExactIndex(vectors)
        result = evaluate_retrieval(
            index,
            vectors,
            LabelRelevance(labels, labels),
            ["precision@5", "recall@5", "map@r", "r_precision", "knn@1", "balanced_knn@1", "ndcg@5"],
            exclude=np.arange(60),
        )
        _, found = index.search(vectors, 19, exclude=np.arange(60))
        rel = same(labels[found], labels)
        assert result.metrics["precision@5"] == pytest.approx(ref_precision(labels[found], labels, 5))
        assert result.metrics["map@r"] == pytest.approx(ref_map_at_r(labels[found], labels, [19] * 60))
        assert result.metrics["r_precision"] == pytest.approx(r_precision(rel, [19] * 60))
        assert result.metrics["knn@1"] == pytest.approx(np.mean(labels[found[:, 0]] == labels))
        assert result.indices.shape == (60, 19)  # R = 19 set the depth
        # identity matching across two "modalities": item i of one matches item i of the other
        other = vectors + rng.normal(scale=0.01, size=vectors.shape).astype(np.float32)
        matched = evaluate_retrieval(ExactIndex(other), vectors, match_relevance(60), ["hit_rate@1", "hit_rate@5"])
        assert matched.metrics["hit_rate@1"] == 1.0
        # graded: a gain function
        graded = evaluate_retrieval(
            index, vectors[:5], GradedRelevance(lambda rows: np.ones((len(rows), 60)), 60), ["ndcg@3"]
        )
        assert graded.metrics["ndcg@3"] == pytest.approx(1.0)
        with pytest.raises(ValueError, match="unknown retrieval metric 'precision'"):
            evaluate_retrieval(index, vectors, LabelRelevance(labels, labels), ["precision"])
        with pytest.raises(ValueError, match="knn@1 classifies by labels"):
            evaluate_retrieval(
                index, vectors[:5], GradedRelevance(lambda rows: np.ones((len(rows), 60)), 60), ["knn@1"]
            )
        with pytest.raises(ValueError, match="need the 61 nearest items"):
            evaluate_retrieval(index, vectors, LabelRelevance(labels, labels), ["precision@61"])

    def test_streamed_evaluation_gives_the_in_memory_values_in_blocks(self):
        rng = np.random.default_rng(1)
        labels = rng.integers(0, 5, 300)
        base = (rng.normal(size=(300, 6)) + labels[:, None]).astype(np.float32)
        queries, query_labels = base[:120], labels[:120]
        every = [
            "precision@5", "recall@10", "hit_rate@3", "ndcg@10", "mean_gain@4", "knn@1", "knn@5",
            "balanced_knn@3", "r_precision", "map@r", "map", "mrr",
        ]  # fmt: skip
        relevances = {
            "labels": (LabelRelevance(query_labels, labels), every),
            "graded": (
                GradedRelevance(lambda rows: 1.0 / (1.0 + np.abs(labels[rows][:, None] - labels[None, :])), 300),
                ["ndcg@10", "mean_gain@5", "precision@3"],
            ),
        }
        for kind, (relevance, metrics) in relevances.items():
            whole = evaluate_retrieval(ExactIndex(base), queries, relevance, metrics, exclude=np.arange(120))
            index = CountingIndex(base)
            depth = 299 if kind == "labels" else 10  # map and mrr rank the whole base
            streamed = evaluate_retrieval(
                index, queries, relevance, metrics, exclude=np.arange(120), memory_bytes=7 * 40 * depth
            )
            self.assertEqual(index.searches, [7] * 17 + [1], kind)  # blocks of 7 queries
            self.assertEqual(streamed.metrics, pytest.approx(whole.metrics, rel=1e-12), kind)
            for name in whole.per_query:
                np.testing.assert_allclose(streamed.per_query[name], whole.per_query[name], rtol=1e-12)
            self.assertIsNone(streamed.indices)
        with pytest.raises(ValueError, match="memory_bytes=100 holds less than one query's 10 neighbours"):
            evaluate_retrieval(ExactIndex(base), queries, LabelRelevance(query_labels, labels), ["precision@10"],
                               memory_bytes=100)  # fmt: skip
        with pytest.raises(ValueError, match="no queries to evaluate"):
            evaluate_retrieval(ExactIndex(base), base[:0], LabelRelevance(query_labels[:0], labels), ["precision@1"])

    def test_bootstrap_interval_brackets_the_mean(self):
        values = np.random.default_rng(0).random(500)
        low, high = bootstrap_interval(values)
        assert low < values.mean() < high and high - low < 0.1
        assert bootstrap_interval(np.r_[values, np.nan]) == (low, high)  # NaN (skipped queries) left out

    def test_paired_difference_resamples_the_same_queries_for_both(self):
        rng = np.random.default_rng(0)
        shared = rng.random(400)  # what the queries share (easy and hard queries) cancels out in the pairs
        first, second = shared + 0.02, shared + rng.normal(0, 0.01, 400)
        difference = paired_difference(first, second, seed=1)
        # independent reference: the same resampled query indices, numpy only
        indices = np.random.default_rng(1).integers(0, 400, (2000, 400))
        means = (first - second)[indices].mean(axis=1)
        self.assertAllClose([difference.low, difference.high], np.percentile(means, [2.5, 97.5]))
        self.assertAllClose(difference.mean, np.mean(first - second))
        self.assertGreater(difference.low, 0)  # unpaired intervals of these two means would overlap widely
        low_first, high_first = bootstrap_interval(first)
        low_second, high_second = bootstrap_interval(second)
        self.assertLess(low_first, high_second)
        self.assertIn("A is ahead of B by MAP@R (+0.020", difference.sentence("A", "B", "MAP@R"))
        tie = paired_difference(shared, shared + rng.normal(0, 0.01, 400))
        self.assertIn("A and B cannot be told apart by MAP@R", tie.sentence("A", "B", "MAP@R"))
        self.assertIn("is behind", paired_difference(second - 0.1, first).sentence("A", "B", "x"))
        with pytest.raises(ValueError, match="same queries"):
            paired_difference(first, second[:3])
        self.assertEqual(paired_difference([1.0, np.nan, 0.0], [0.0, 1.0, 0.0]).queries, 2)  # NaN pairs left out

    def test_chance_precision_follows_the_class_sizes(self):
        labels = np.array([0] * 8 + [1] * 2)
        # leave-one-out: class 0 queries see 7 of 9 relevant, class 1 queries 1 of 9
        expected = (8 * 7 / 9 + 2 * 1 / 9) / 10
        self.assertAlmostEqual(chance_precision(LabelRelevance(labels, labels), exclude=np.arange(10)), expected)
        self.assertNotAlmostEqual(expected, 1 / 2)  # not 1 / number of classes
        base = np.repeat(np.arange(4), 5)
        self.assertAlmostEqual(chance_precision(LabelRelevance(np.array([0, 3]), base)), 0.25)
