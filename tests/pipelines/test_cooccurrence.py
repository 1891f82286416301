"""Likes, co-like counts, PPMI and held-out likes against plain loops."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.helpers import TestCase
from tfml.pipelines.cooccurrence import colike_counts, hold_out_likes, like_matrix, ppmi


def ref_colikes(liked):
    liked = np.asarray(liked)
    m = liked.shape[1]
    return np.array([[0 if i == j else int(np.sum(liked[:, i] * liked[:, j])) for j in range(m)] for i in range(m)])


def ratings_frame(rows):
    return pd.DataFrame(rows, columns=["user", "movie", "rating"]).astype({"rating": np.float32})


class CooccurrenceTest(TestCase):
    """like_matrix, colike_counts, ppmi, hold_out_likes."""

    def test_like_matrix_and_colike_counts_match_a_loop(self):
        rng = np.random.default_rng(1)
        rows = [
            (u, m, float(rng.choice([1.0, 3.5, 4.0, 5.0]))) for u in range(30) for m in range(12) if rng.random() < 0.5
        ]
        likes = like_matrix(ratings_frame(rows), threshold=4.0)
        dense = np.zeros((30, 12))
        for u, m, r in rows:
            dense[u, m] = r >= 4.0
        dense = dense[dense.sum(axis=1) > 0][:, dense.sum(axis=0) > 0]
        np.testing.assert_array_equal(likes.matrix.toarray(), dense)
        counts = colike_counts(likes.matrix)
        np.testing.assert_array_equal(counts.toarray(), ref_colikes(dense))
        assert counts.diagonal().sum() == 0 and (counts != counts.T).nnz == 0

    def test_movies_nobody_liked_get_no_column_and_min_likes(self):
        ratings = ratings_frame([(1, 10, 5.0), (2, 10, 4.5), (1, 20, 2.0), (2, 30, 4.0)])
        likes = like_matrix(ratings)
        assert likes.movies.tolist() == [10, 30]  # movie 20 was never liked
        assert like_matrix(ratings, min_likes=2).movies.tolist() == [10]
        with pytest.raises(ValueError, match="no movie has 3 or more likes"):
            like_matrix(ratings, min_likes=3)

    def test_ppmi_matches_numpy(self):
        counts = sp.csr_matrix(np.array([[0, 4, 1], [4, 0, 2], [1, 2, 0]], np.float64))
        x = counts.toarray()
        total, n = x.sum(), x.sum(axis=1)
        expected = np.zeros_like(x)
        for i in range(3):
            for j in range(3):
                if x[i, j]:
                    expected[i, j] = max(0.0, np.log(x[i, j] * total / (n[i] * n[j])))
        np.testing.assert_allclose(ppmi(counts).toarray(), expected, rtol=1e-6)

    def test_hold_out_hides_a_share_of_each_users_likes_reproducibly(self):
        rng = np.random.default_rng(2)
        liked = sp.csr_matrix((rng.random((40, 50)) < 0.3).astype(np.float32))
        liked[0] = 0
        liked[0, 3] = 1  # a single like stays kept
        kept, hidden = hold_out_likes(liked, 0.2, seed=5)
        assert (kept + hidden != liked).nnz == 0 and kept.multiply(hidden).nnz == 0
        per_user = np.diff(sp.csr_matrix(liked).indptr)
        np.testing.assert_array_equal(np.diff(hidden.indptr), np.where(per_user > 1, np.round(0.2 * per_user), 0))
        again, _ = hold_out_likes(liked, 0.2, seed=5)
        assert (again != kept).nnz == 0
        with pytest.raises(ValueError, match="fraction"):
            hold_out_likes(liked, 1.5, seed=0)
