"""Retrieval metrics on relevance matrices against the numpy references."""

import numpy as np
import pytest
from absl.testing import parameterized

from tests.helpers import TestCase
from tests.retrieval.references import (
    ref_knn,
    ref_map_at_r,
    ref_ndcg,
    ref_precision,
    ref_r_precision,
    ref_recall,
    ref_top_ratio,
    same,
)
from tfml.retrieval import (
    hit_rate_at_k,
    jaccard,
    jaccard_relevance,
    knn_accuracy,
    knn_predict,
    map_at_r,
    match_ranks,
    ndcg_at_k,
    precision_at_k,
    r_precision,
    recall_at_k,
    top_ratio_accuracy,
)


class RetrievalMetricsTest(parameterized.TestCase, TestCase):
    """Metrics on relevance matrices against the oracles; float and integer labels."""

    def test_hand_checked_values(self):
        nl = np.array([[1, 0, 1, 1], [2, 2, 0, 0]])
        ql = np.array([1, 0])
        rel = same(nl, ql)
        assert precision_at_k(rel, 1) == pytest.approx(0.5)
        assert precision_at_k(rel, 4) == pytest.approx((3 / 4 + 2 / 4) / 2)
        assert recall_at_k(rel, 2, [3, 4]) == pytest.approx((1 / 3 + 0) / 2)
        assert hit_rate_at_k(rel, 2) == pytest.approx(0.5)
        # R = 3 and 2: query 0 -> rel [1,0,1]: R-precision 2/3, MAP@R (1/1 + 2/3) / 3
        assert r_precision(rel, [3, 2]) == pytest.approx((2 / 3 + 0) / 2)
        assert map_at_r(rel, [3, 2]) == pytest.approx(((1 + 2 / 3) / 3 + 0) / 2)
        # MAP@R of Musgrave et al.'s example: R = 10, relevant at ranks 1, 3 -> (1 + 2/3) / 10
        assert map_at_r(same([[1, 0, 1] + [0] * 7], [1]), [10]) == pytest.approx((1 + 2 / 3) / 10)

    def test_knn_majority_vote_and_tie_rule(self):
        nl = np.array(
            [
                [3, 1, 1, 3, 2],  # k=5: 3 and 1 tie with 2 votes, 3 is nearest
                [1, 2, 2, 9, 9],  # k=5: 2 and 9 tie, 2 comes first
                [4, 5, 5, 5, 4],  # k=5: 5 wins 3 to 2
            ]
        )
        assert knn_predict(nl, 5).tolist() == [3, 2, 5]
        assert knn_predict(nl, 1).tolist() == [3, 1, 4]
        assert knn_predict(nl, 2).tolist() == [3, 1, 4]  # two different labels: the nearest
        assert knn_accuracy(nl, [3, 9, 5], 5) == pytest.approx(2 / 3)

    @parameterized.product(seed=[0, 1, 2], dtype=[np.int64, np.int32, np.float64])
    def test_random_cases_match_the_oracles(self, dtype, seed):
        rng = np.random.default_rng(seed)
        nl = rng.integers(0, 4, size=(50, 30)).astype(dtype)
        ql = rng.integers(0, 4, size=50).astype(dtype)
        n_rel = rng.integers(1, 31, size=50)
        rel = same(nl, ql)
        for k in (1, 5, 30):
            assert precision_at_k(rel, k) == pytest.approx(ref_precision(nl, ql, k))
            assert recall_at_k(rel, k, n_rel) == pytest.approx(ref_recall(nl, ql, k, n_rel))
            assert knn_predict(nl, k).tolist() == [ref_knn(row, k) for row in nl]
        assert r_precision(rel, n_rel) == pytest.approx(ref_r_precision(nl, ql, n_rel))
        assert map_at_r(rel, n_rel) == pytest.approx(ref_map_at_r(nl, ql, n_rel))
        per_query = map_at_r(rel, n_rel, per_query=True)
        assert per_query.shape == (50,) and per_query.mean() == pytest.approx(ref_map_at_r(nl, ql, n_rel))

    @parameterized.product(seed=[0, 1, 2], dtype=[np.float32, np.float64])
    def test_ndcg_with_graded_jaccard_gains_matches_the_oracle(self, dtype, seed):
        rng = np.random.default_rng(seed)
        genres = (rng.random((40, 6)) < 0.3).astype(dtype)
        genres[5] = 0  # a movie with no genre: ideal DCG 0 as a query
        order = np.argsort(rng.random((40, 40)), axis=1)
        relevance = jaccard_relevance(genres, genres)
        exclude = np.arange(40)
        retrieved = np.stack([[j for j in row if j != i][:10] for i, row in enumerate(order)])
        values = ndcg_at_k(
            relevance.gains(np.arange(40), retrieved), relevance.ideal(np.arange(40), 10, exclude), 10, per_query=True
        )
        for i in range(40):
            gallery = [jaccard(genres[i : i + 1], genres[j : j + 1])[0, 0] for j in range(40) if j != i]
            expected = ref_ndcg(
                [jaccard(genres[i : i + 1], genres[j : j + 1])[0, 0] for j in retrieved[i]], gallery, 10
            )
            if expected is None:
                assert np.isnan(values[i])
            else:
                assert values[i] == pytest.approx(expected, rel=1e-9)
        assert np.isnan(values[5])

    def test_ndcg_hand_checked(self):
        # gains of the retrieved 3: [0, 1, 0.5]; gallery best [1, 0.5, 0]
        value = ndcg_at_k([[0.0, 1.0, 0.5]], [[1.0, 0.5, 0.0]], 3)
        assert value == pytest.approx((1 / np.log2(3) + 0.5 / 2) / (1 + 0.5 / np.log2(3)))
        assert ndcg_at_k([[1.0, 0.5, 0.0]], [[1.0, 0.5, 0.0]], 3) == pytest.approx(1.0)
        with pytest.raises(ValueError, match="every query has ideal DCG 0"):
            ndcg_at_k([[0.0, 0.0]], [[0.0, 0.0]], 2)
        with pytest.raises(ValueError, match="non-negative"):
            ndcg_at_k([[-1.0, 0.0]], [[1.0, 0.0]], 2)

    @parameterized.product(dim=[0, 1], ratio=[0.05, 0.1, 0.5, 1.0])
    def test_top_ratio_accuracy_matches_a_loop_on_random_and_tied_matrices(self, ratio, dim):
        rng = np.random.default_rng(0)
        for d in (
            rng.normal(size=(40, 40)),
            rng.integers(0, 4, size=(40, 40)).astype(float),
        ):  # the second has many ties
            assert top_ratio_accuracy(d, ratio, dim) == pytest.approx(ref_top_ratio(d, ratio, dim))

    def test_top_ratio_accuracy_hand_checked_and_it_leaves_d_alone(self):
        d = np.array([[0.1, 0.5, 0.9], [0.2, 0.3, 0.1], [0.0, 0.4, 0.5]])
        d.setflags(write=False)  # the evaluation may not touch D (e.g. its diagonal)
        before = d.copy()
        assert top_ratio_accuracy(d, 1 / 3, dim=1) == pytest.approx(1 / 3)  # k = 1: row 0 only
        assert top_ratio_accuracy(d, 1 / 3, dim=0) == pytest.approx(1 / 3)  # column 1's smallest is 0.3 (own): column 1
        assert match_ranks(d, 1).tolist() == [1, 3, 3] and match_ranks(d, 0).tolist() == [2, 1, 2]
        np.testing.assert_array_equal(d, before)
        tied = np.zeros((4, 4))
        assert top_ratio_accuracy(tied, 0.5, dim=1) == 0.0  # all tied: the match ranks last
        with pytest.raises(ValueError, match="keeps no item"):
            top_ratio_accuracy(d, 0.1, dim=1)
        with pytest.raises(ValueError, match="square"):
            top_ratio_accuracy(np.zeros((2, 3)), 0.5)

    def test_bad_input_is_a_clear_error(self):
        rel = np.zeros((2, 3), bool)
        with pytest.raises(ValueError, match="k=4 must be between 1 and the 3"):
            precision_at_k(rel, 4)
        with pytest.raises(ValueError, match="n_relevant has 3 entries for 2 queries"):
            recall_at_k(rel, 1, [1, 1, 1])
        with pytest.raises(ValueError, match="need R = 5 retrieved items"):
            map_at_r(rel, [5, 1])
        with pytest.raises(ValueError, match="1 queries have no relevant item"):
            r_precision(rel, [0, 1])
        with pytest.raises(ValueError, match="no query has a relevant item"):
            recall_at_k(rel, 1, [0, 0])
        with pytest.raises(ValueError, match="no queries"):
            precision_at_k(np.zeros((0, 3)), 1)
        with pytest.raises(ValueError, match="relevance contains NaN"):
            precision_at_k([[np.nan, 1.0]], 1)
