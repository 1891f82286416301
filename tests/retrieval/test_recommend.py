"""Similarities, user recommendations, popularity and held-out recall against plain loops."""

import numpy as np
import pytest
import scipy.sparse as sp

from tests.helpers import TestCase
from tfml.retrieval import held_out_recall_at_k, recommend_for_users, recommend_popular, similarity_matrix, top_k


class RecommendTest(TestCase):
    """similarity_matrix, recommend_for_users, recommend_popular, top_k, held_out_recall_at_k."""

    def test_similarity_sparse_equals_dense_and_has_no_self_similarity(self):
        x = np.array([[0, 2, 1], [2, 0, 0], [1, 0, 0], [0, 0, 0]], np.float64)
        dense, sparse = similarity_matrix(x), similarity_matrix(sp.csr_matrix(x))
        np.testing.assert_allclose(dense, sparse, rtol=1e-6)
        np.testing.assert_allclose(dense[1, 2], 1.0, rtol=1e-6)
        assert np.all(np.diag(dense) == 0) and np.all(dense[3] == 0)
        dot = similarity_matrix(sp.csr_matrix(x), "dot")
        np.testing.assert_allclose(dot, np.where(np.eye(4, dtype=bool), 0, x @ x.T))
        with pytest.raises(ValueError, match="'manhattan' is not available here"):
            similarity_matrix(x, "manhattan")

    def test_user_recommendations_match_a_loop(self):
        rng = np.random.default_rng(3)
        liked = sp.csr_matrix((rng.random((15, 20)) < 0.25).astype(np.float32))
        similarity = rng.random((20, 20)).astype(np.float32)
        found = recommend_for_users(liked, similarity, 4)
        dense = liked.toarray()
        for user in range(15):
            scores = {
                j: sum(similarity[i, j] for i in np.flatnonzero(dense[user])) for j in range(20) if not dense[user, j]
            }
            expected = sorted(scores, key=lambda j: (-scores[j], j))[:4]
            assert found[user].tolist() == expected
        popular = recommend_popular(liked, 3)
        counts = dense.sum(axis=0)
        for user in range(15):
            candidates = [j for j in np.argsort(-counts, kind="stable") if not dense[user, j]]
            assert popular[user].tolist() == candidates[:3]

    def test_top_k_ties_and_too_large_k(self):
        assert top_k(np.array([1.0, 3.0, 3.0, 2.0]), 3).tolist() == [[1, 2, 3]]
        with pytest.raises(ValueError, match="k=4 is larger than the 3 items"):
            top_k(np.array([1.0, 3.0, 3.0, 2.0]), 4, exclude=np.array([True, False, False, False]))

    def test_held_out_recall_hand_checked(self):
        hidden = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]]))
        recommended = np.array([[0, 3], [1, 2], [4, 0]])
        assert held_out_recall_at_k(recommended, hidden, 2) == pytest.approx((0.5 + 1.0) / 2)  # user 1 hides nothing
        assert held_out_recall_at_k(recommended, hidden, 1) == pytest.approx((0.5 + 1.0) / 2)
        with pytest.raises(ValueError, match="recommended must be"):
            held_out_recall_at_k(recommended, hidden, 3)
