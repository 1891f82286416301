"""The exact k-NN index against a numpy loop: chunks, tiles, ties, exclusion, bad input."""

import numpy as np
import pytest
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.distances import DISTANCES as METRICS
from tfml.retrieval import ExactIndex


def reference_distances(queries, base, metric):
    """Plain numpy loops over pairs: the oracle."""
    out = np.empty((len(queries), len(base)))
    for i, q in enumerate(queries.astype(np.float64)):
        for j, b in enumerate(base.astype(np.float64)):
            diff = q - b
            if metric == "euclidean":
                out[i, j] = np.sqrt((diff**2).sum())
            elif metric == "sqeuclidean":
                out[i, j] = (diff**2).sum()
            elif metric == "manhattan":
                out[i, j] = np.abs(diff).sum()
            elif metric == "chebyshev":
                out[i, j] = np.abs(diff).max()
            elif metric == "dot":
                out[i, j] = -(q @ b)
            else:
                nq, nb = np.linalg.norm(q), np.linalg.norm(b)
                out[i, j] = 1.0 - (q @ b / (nq * nb) if nq > 0 and nb > 0 else 0.0)
    return out


def reference_search(queries, base, metric, k, exclude=None):
    d = reference_distances(queries, base, metric)
    if exclude is not None:
        for i, e in enumerate(exclude):
            if e >= 0:
                d[i, e] = np.inf
    order = np.argsort(d, axis=1, kind="stable")[:, :k]  # stable: ties keep the lower index first
    return np.take_along_axis(d, order, axis=1), order


class ExactIndexTest(parameterized.TestCase, TestCase):
    """ExactIndex.search."""

    @parameterized.product(metric=METRICS, dtype=[np.float32, np.float64])
    def test_matches_the_numpy_oracle_on_random_data_across_chunks(self, metric, dtype):
        rng = np.random.default_rng(7)
        base = rng.normal(size=(700, 5)).astype(dtype)
        queries = rng.normal(size=(45, 5)).astype(dtype)
        # small memory and blocks force many query and base chunks
        index = ExactIndex(base, metric, memory_bytes=20_000, block=16)
        distances, indices = index.search(queries, k=7)
        ref_d, ref_i = reference_search(queries, base, metric, 7)
        np.testing.assert_array_equal(indices, ref_i)
        np.testing.assert_allclose(distances, ref_d, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
        assert distances.dtype == dtype and indices.dtype == np.int64

    @parameterized.parameters("euclidean", "cosine")
    def test_many_base_tiles_with_ties_and_exclusion(self, metric):
        from tfml.retrieval import index as index_module

        # 20,000 points on a coarse grid (many exact ties) span three tiles of the matrix-product pass
        rng = np.random.default_rng(3)
        base = rng.integers(-3, 4, size=(20_000, 3)).astype(np.float32)
        queries = base[[5, 9_000, 19_999]] + np.float32(0.25)
        exclude = np.array([5, -1, 12_345])
        index = ExactIndex(base, metric, block=64)
        assert index._padded.shape[0] // index.tile == 3 and index.tile == index_module.TILE_ROWS
        distances, indices = index.search(queries, k=40, exclude=exclude)
        d = np.stack(
            [
                np.sqrt(((base.astype(np.float64) - q) ** 2).sum(1))
                if metric == "euclidean"
                else 1 - base.astype(np.float64) @ q / (np.linalg.norm(base, axis=1) * np.linalg.norm(q) + 1e-300)
                for q in queries
            ]
        )
        d[[0, 2], [5, 12_345]] = np.inf
        # exact ties may be broken by float32 rounding of the products: compare the sorted distances
        np.testing.assert_allclose(distances, np.sort(d, axis=1)[:, :40], rtol=1e-5, atol=1e-6)
        assert 5 not in indices[0] and 12_345 not in indices[2]

    @parameterized.parameters(*METRICS)
    def test_ties_go_to_the_lower_index(self, metric):
        # duplicated points on an integer grid: many exact ties
        grid = np.array([[x, y] for x in range(-2, 3) for y in range(-2, 3)], np.float32)
        base = np.concatenate([grid, grid, grid[::-1]])
        queries = np.array([[0, 0], [1, 1], [0.5, 0], [-2, 2]], np.float32)
        distances, indices = ExactIndex(base, metric, block=4).search(queries, k=12)
        ref_d, ref_i = reference_search(queries, base, metric, 12)
        np.testing.assert_array_equal(indices, ref_i)
        np.testing.assert_allclose(distances, ref_d, atol=1e-6)

    @parameterized.parameters("euclidean", "sqeuclidean", "cosine")
    def test_large_k_times_dim_takes_distances_from_the_scores(self, metric):
        monkeypatch = self.monkeypatch
        from tfml.retrieval import index as index_module

        monkeypatch.setattr(index_module, "EXACT_RECOMPUTE_LIMIT", 10)
        rng = np.random.default_rng(3)
        base, queries = rng.normal(size=(300, 6)), rng.normal(size=(20, 6))
        distances, indices = ExactIndex(base, metric).search(queries, k=40)
        ref_d, ref_i = reference_search(queries, base, metric, 40)
        np.testing.assert_array_equal(indices, ref_i)
        np.testing.assert_allclose(distances, ref_d, rtol=1e-9, atol=1e-9)

    def test_hand_checked_euclidean_case(self):
        base = np.array([[0, 0], [3, 4], [1, 0], [0, 1]], np.float32)
        distances, indices = ExactIndex(base).search(np.array([[0, 0]], np.float32), k=4)
        assert indices.tolist() == [[0, 2, 3, 1]]
        np.testing.assert_allclose(distances, [[0, 1, 1, 5]])

    @parameterized.parameters(*METRICS)
    def test_exclude_drops_one_base_item_per_query(self, metric):
        rng = np.random.default_rng(1)
        base = rng.normal(size=(60, 3)).astype(np.float32)
        exclude = np.array([0, 5, -1, 59])
        distances, indices = ExactIndex(base, metric, block=8, memory_bytes=4096).search(
            base[[0, 5, 7, 59]], k=59, exclude=exclude
        )
        for row, e in zip(indices, exclude):
            assert e not in row and len(set(row.tolist())) == 59
        ref_d, ref_i = reference_search(base[[0, 5, 7, 59]], base, metric, 59, exclude)
        np.testing.assert_array_equal(indices[[0, 1, 3]], ref_i[[0, 1, 3]])
        assert indices[2, 0] == 7  # not excluded: the query finds itself first

    def test_cosine_zero_vectors_have_distance_one(self):
        base = np.array([[0, 0], [1, 0]], np.float32)
        distances, indices = ExactIndex(base, "cosine").search(np.array([[2, 0], [0, 0]], np.float32), k=2)
        np.testing.assert_allclose(distances, [[0, 1], [1, 1]], atol=1e-7)
        assert indices.tolist() == [[1, 0], [0, 1]]

    def test_bad_input_is_a_clear_error(self):
        base = np.ones((5, 3), np.float32)
        index = ExactIndex(base)
        with pytest.raises(ValueError, match="k=6 is larger than the 5 base items"):
            index.search(base, k=6)
        with pytest.raises(ValueError, match="k=5 is larger than the 4 base items"):
            index.search(base, k=5, exclude=np.arange(5))
        with pytest.raises(ValueError, match="k must be a positive integer"):
            index.search(base, k=0)
        with pytest.raises(ValueError, match="queries have dimension 4, the index holds dimension 3"):
            index.search(np.ones((2, 4)), k=1)
        bad = base.copy()
        bad[3, 1] = np.nan
        with pytest.raises(ValueError, match="base embeddings contain NaN or inf in 1 row\\(s\\), first row 3"):
            ExactIndex(bad)
        with pytest.raises(ValueError, match="queries contain NaN or inf"):
            index.search(np.array([[np.inf, 0, 0]]), k=1)
        with pytest.raises(ValueError, match="base embeddings is empty"):
            ExactIndex(np.zeros((0, 3)))
        with pytest.raises(ValueError, match="must be a 2-D array"):
            ExactIndex(np.zeros(3))
        with pytest.raises(ValueError, match="unknown distance 'hamming'"):
            ExactIndex(base, "hamming")
        with pytest.raises(ValueError, match="one base index per query"):
            index.search(base, k=1, exclude=[0, 1])
