"""HNSWIndex: recall against ExactIndex on held-out queries reaches the target it was given; the
excluded row never comes back; distances are the named ones; neighbour_recall by hand."""

import numpy as np
import pytest

from tests.helpers import TestCase
from tfml.retrieval import ExactIndex, HNSWIndex, neighbour_recall

pytest.importorskip("faiss", reason="HNSWIndex needs the faiss extra")


def clustered(n, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim)) * 2
    return (centres[rng.integers(0, 20, n)] + rng.normal(size=(n, dim))).astype(np.float32)


class NeighbourRecallTest(TestCase):
    def test_by_hand(self):
        exact = np.array([[0, 1, 2], [3, 4, 5]])
        found = np.array([[2, 9, 0], [5, 4, 3]])
        self.assertAlmostEqual(neighbour_recall(found, exact), (2 / 3 + 1) / 2)
        self.assertEqual(neighbour_recall(np.full((2, 3), -1), exact), 0.0)


class HNSWIndexTest(TestCase):
    def test_tuned_index_reaches_its_target_recall_on_held_out_queries(self):
        vectors = clustered(3300)
        base, queries = vectors[:3000], vectors[3000:]  # queries from the same clusters, not in the index
        exact = ExactIndex(base).search(queries, 10)[1]
        for target in (0.9, 0.99):
            index = HNSWIndex(base, links=8, ef_construction=40, target_recall=target, tuning_queries=300)
            self.assertGreaterEqual(neighbour_recall(index.search(queries, 10)[1], exact), target - 0.02)
        low = HNSWIndex(base, links=4, ef_construction=8, ef_search=10)
        self.assertLess(neighbour_recall(low.search(queries, 10)[1], exact), 1.0)  # the knob matters here

    def test_exclude_and_distances_match_the_exact_index(self):
        base = clustered(500)
        for distance in ("euclidean", "cosine"):
            index = HNSWIndex(base, distance=distance, ef_search=500)
            d, i = index.search(base[:5], 4, exclude=np.arange(5))
            d_exact, i_exact = ExactIndex(base, distance=distance).search(base[:5], 4, exclude=np.arange(5))
            np.testing.assert_array_equal(i, i_exact)
            np.testing.assert_allclose(d, d_exact, rtol=1e-4, atol=1e-5)
            self.assertFalse((i == np.arange(5)[:, None]).any())

    def test_bad_settings_are_clear_errors(self):
        base = clustered(50)
        with pytest.raises(ValueError, match="euclidean or cosine distances, not 'manhattan'"):
            HNSWIndex(base, distance="manhattan")
        with pytest.raises(ValueError, match="links must be at least 1"):
            HNSWIndex(base, links=0)
        with pytest.raises(ValueError, match="k=60 is larger than the 50 base items"):
            HNSWIndex(base).search(base[:1], 60)
        with pytest.raises(ValueError, match=r"target_recall must be in \(0, 1\]"):
            HNSWIndex(base).tune(base[:5], 1.5)
