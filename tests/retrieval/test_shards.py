"""Shard directories: the sharded exact index equals one ExactIndex; IVF-PQ with exact re-rank."""

import numpy as np
import pytest

from tests.helpers import TestCase


def clustered(n, dim=16, centres=40, seed=0):
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, dim)) * 4
    return (middle[rng.integers(0, centres, n)] + rng.normal(size=(n, dim))).astype(np.float32)


class ShardsTest(TestCase):
    """ShardedExactIndex and IVFPQIndex."""

    def test_sharded_exact_index_equals_one_exact_index(self):
        tmp_path = self.tmp_path
        from tfml.retrieval import ExactIndex
        from tfml.retrieval.shards import EmbeddingShards, ShardedExactIndex, write_shards

        vectors = clustered(3000)
        write_shards(
            tmp_path / "shards", vectors, 4, labels=np.arange(3000) % 7, class_names=[str(i) for i in range(7)]
        )
        shards = EmbeddingShards(tmp_path / "shards")
        queries = clustered(50, seed=1)
        exclude = np.arange(50) * 37
        for distance in ("euclidean", "cosine"):
            expected = ExactIndex(vectors, distance).search(queries, 10, exclude=exclude)
            found = ShardedExactIndex(shards, distance).search(queries, 10, exclude=exclude)
            np.testing.assert_array_equal(found[1], expected[1])
            np.testing.assert_allclose(found[0], expected[0], rtol=1e-5)
        np.testing.assert_array_equal(shards.vectors([5, 2999, 1500]), vectors[[5, 2999, 1500]])

    def test_ivfpq_index_recall_with_exact_rerank_saves_and_loads(self):
        tmp_path = self.tmp_path
        pytest.importorskip("faiss", reason="the faiss extra is not installed")
        from tfml.retrieval import ExactIndex
        from tfml.retrieval.shards import EmbeddingShards, IVFPQIndex, write_shards

        vectors = clustered(20000)
        write_shards(tmp_path / "shards", vectors, 3)
        shards = EmbeddingShards(tmp_path / "shards")
        index = IVFPQIndex.build(shards, tmp_path / "saved", lists=64, subquantizers=8, probes=16, candidates=200)
        assert (tmp_path / "saved" / "lists.ivfdata").stat().st_size > 20000 * 8  # the codes are on disk
        queries = clustered(100, seed=2)
        _, exact = ExactIndex(vectors).search(queries, 10)
        distances, found = index.search(queries, 10)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)])
        assert recall >= 0.9, recall
        rows = found[:, 0]
        np.testing.assert_allclose(
            distances[:, 0], np.linalg.norm(vectors[rows] - queries, axis=1), rtol=1e-5
        )  # exact re-rank
        loaded = IVFPQIndex.load(tmp_path / "saved")
        np.testing.assert_array_equal(loaded.search(queries, 10)[1], found)

    def test_ivfpq_rerank_at_full_breadth_equals_the_exact_index_and_pads_short_lists(self):
        pytest.importorskip("faiss", reason="the faiss extra is not installed")
        from tfml.retrieval import ExactIndex
        from tfml.retrieval.shards import EmbeddingShards, IVFPQIndex, write_shards

        vectors = clustered(600)
        write_shards(self.tmp_path / "shards", vectors, 2)
        shards = EmbeddingShards(self.tmp_path / "shards")
        index = IVFPQIndex.build(shards, self.tmp_path / "saved", lists=60, subquantizers=4, probes=60, candidates=600)
        queries, exclude = vectors[:40], np.arange(40)
        expected = ExactIndex(vectors).search(queries, 10, exclude=exclude)
        distances, found = index.search(queries, 10, exclude=exclude)
        np.testing.assert_array_equal(found, expected[1])
        np.testing.assert_allclose(distances, expected[0], rtol=1e-5)
        index.probes, index.candidates = 1, 600
        distances, found = index.search(queries, 100, exclude=exclude)  # one list of about 10 vectors per query
        short = found == -1
        self.assertTrue(short.any(axis=1).all())
        self.assertTrue(np.isinf(distances[short]).all() and np.isfinite(distances[~short]).all())
        self.assertFalse((found == exclude[:, None]).any())

    def test_a_recall_target_picks_probes_and_candidates_that_reach_it_on_other_queries(self):
        pytest.importorskip("faiss", reason="the faiss extra is not installed")
        from tfml.retrieval import ExactIndex
        from tfml.retrieval.shards import EmbeddingShards, IVFPQIndex, write_shards

        everything = clustered(20500)  # one distribution: the base, then queries it has never seen
        vectors, held_out, queries = everything[:20000], everything[20000:20300], everything[20300:]
        write_shards(self.tmp_path / "shards", vectors, 2)
        shards = EmbeddingShards(self.tmp_path / "shards")
        index = IVFPQIndex.build(
            shards, self.tmp_path / "saved", lists=64, subquantizers=4, target_recall=0.95, tuning_queries=300
        )
        _, exact = ExactIndex(vectors).search(held_out, 10)
        found = index.search(held_out, 10)[1]
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)])
        self.assertGreaterEqual(recall, 0.93)  # the target on queries it was not tuned on, within sampling error
        saved = IVFPQIndex.load(self.tmp_path / "saved")
        self.assertEqual((saved.probes, saved.candidates), (index.probes, index.candidates))
        loose, tight = index.tune(queries, 0.5), index.tune(queries, 0.99)
        self.assertLessEqual((loose["probes"], loose["candidates"]), (tight["probes"], tight["candidates"]))
        self.assertGreaterEqual(loose["recall"], 0.5)
        self.assertGreaterEqual(tight["recall"], 0.99)
        with pytest.raises(ValueError, match="target_recall must be in"):
            index.tune(queries, 1.5)
