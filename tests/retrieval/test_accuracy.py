"""tfml.retrieval.accuracy against pytorch-metric-learning 2.9's AccuracyCalculator (values in
tests/fixtures/pml_values.npz, Euclidean k-NN and scikit-learn's seeded k-means), and the new
ranking metrics against hand-checked cases."""

from pathlib import Path

import numpy as np
import pytest
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.retrieval import (
    ExactIndex,
    GradedRelevance,
    LabelRelevance,
    accuracy,
    average_precision,
    evaluate_retrieval,
    reciprocal_rank,
)
from tfml.retrieval.accuracy import FIGURES

FIXTURE = np.load(Path(__file__).resolve().parents[1] / "fixtures" / "pml_values.npz")


class AccuracyTest(parameterized.TestCase, TestCase):
    @parameterized.product(
        setting=("query-reference", "reference-itself"), per_class=(False, True), streamed=(False, True)
    )
    def test_every_figure_equals_pml(self, setting, per_class, streamed):
        query, query_labels = FIXTURE["accuracy/query"], FIXTURE["accuracy/query_labels"]
        reference, reference_labels = FIXTURE["accuracy/reference"], FIXTURE["accuracy/reference_labels"]
        budget = {"memory_bytes": 3 * 40 * len(reference)} if streamed else {}  # blocks of 3 queries
        if setting == "reference-itself":
            got = accuracy(reference, reference_labels, per_class=per_class, **budget)
        else:
            got = accuracy(query, query_labels, reference, reference_labels, per_class=per_class, **budget)
        suffix = "per-class" if per_class else "per-sample"
        for figure in FIGURES:
            expected = float(FIXTURE[f"accuracy/{setting}/{suffix}/{figure}"])
            # pytorch-metric-learning computes the reciprocal ranks in float32
            tolerance = 1e-6 if figure == "mean_reciprocal_rank" else 1e-9
            self.assertAlmostEqual(got[figure], expected, delta=tolerance, msg=f"{setting} {suffix} {figure}")

    def test_lone_queries_are_left_out_and_a_set_of_only_lone_queries_gives_nan(self):
        x = np.array([[0.0], [0.1], [5.0]], np.float32)
        figures = accuracy(x, np.array([0, 0, 1]), figures=("precision_at_1", "mean_reciprocal_rank"))
        self.assertEqual(figures, {"precision_at_1": 1.0, "mean_reciprocal_rank": 1.0})
        lonely = accuracy(x, np.array([0, 1, 2]), figures=("r_precision",))
        self.assertTrue(np.isnan(lonely["r_precision"]))
        with pytest.raises(ValueError, match="unknown accuracy figures"):
            accuracy(x, np.array([0, 0, 1]), figures=("f1",))


class RankingMetricsTest(TestCase):
    def test_average_precision_and_reciprocal_rank_by_hand(self):
        relevance = np.array([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], bool)
        # query 0: (1/1 + 2/3) / 2; query 1: (1/4) / 1; query 2: no relevant item in the base
        ap = average_precision(relevance, [2, 1, 0], per_query=True)
        self.assertAllClose(ap[:2], [(1 + 2 / 3) / 2, 0.25])
        self.assertTrue(np.isnan(ap[2]))
        self.assertAllClose(average_precision(relevance, [3, 1, 0], per_query=True)[0], (1 + 2 / 3) / 3)  # one missing
        self.assertAllClose(reciprocal_rank(relevance, per_query=True), [1.0, 0.25, 0.0])

    def test_map_and_mrr_rank_the_whole_base_with_labels_and_with_graded_gains(self):
        base = np.array([[0.0], [1.0], [2.0], [3.0]], np.float32)
        labels = np.array([0, 1, 0, 1])
        result = evaluate_retrieval(
            ExactIndex(base), base[:1], LabelRelevance(labels[:1], labels), ["map", "mrr"], exclude=np.array([0])
        )
        self.assertEqual(result.distances.shape, (1, 3))  # every other item ranked
        self.assertAlmostEqual(result.metrics["map"], 0.5)  # its one relevant item at rank 2
        self.assertAlmostEqual(result.metrics["mrr"], 0.5)
        gains = np.array([[0.0, 0.5, 0.0, 1.0]])
        graded = evaluate_retrieval(
            ExactIndex(base), base[:1], GradedRelevance(lambda rows: gains[rows], 4), ["map", "mrr"]
        )
        self.assertAlmostEqual(graded.metrics["map"], (1 / 2 + 2 / 4) / 2)  # gains > 0 are relevant
        self.assertAlmostEqual(graded.metrics["mrr"], 0.5)
