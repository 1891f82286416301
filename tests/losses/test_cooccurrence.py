"""The co-occurrence cost c(V) and its gradient against numpy."""

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.losses.cooccurrence import CoOccurrenceLoss, cooccurrence_loss
from tfml.retrieval import similar_items


def ref_cost(x, v):
    x, v = np.asarray(x, np.float64), np.asarray(v, np.float64)
    m = len(v)
    return sum((v[i] @ v[j] - x[i, j]) ** 2 for i in range(m) for j in range(m) if i != j)


def ref_gradient(x, v):
    """d/dv_i of sum_{i != j} (v_i.v_j - x_ij)^2 = 2 sum_{j != i} [(v_i.v_j - x_ij) + (v_j.v_i - x_ji)] v_j."""
    x, v = np.asarray(x, np.float64), np.asarray(v, np.float64)
    grad = np.zeros_like(v)
    for i in range(len(v)):
        for j in range(len(v)):
            if i != j:
                grad[i] += 2 * ((v[i] @ v[j] - x[i, j]) + (v[j] @ v[i] - x[j, i])) * v[j]
    return grad


class CoOccurrenceLossTest(parameterized.TestCase, TestCase):
    """cooccurrence_loss and CoOccurrenceLoss."""

    def test_cost_hand_checked(self):
        v = [[1.0, 0.0], [1.0, 1.0]]
        x = [[9.0, 2.0], [2.0, 9.0]]  # diagonal ignored; off-diagonal residual 1 - 2 twice
        assert float(tf.reduce_sum(cooccurrence_loss(x, v))) == 2.0
        assert float(CoOccurrenceLoss()(x, v)) == 2.0

    @parameterized.product(dtype=[np.float32, np.float64], seed=[0, 1, 2])
    def test_cost_and_gradient_match_numpy(self, dtype, seed):
        rng = np.random.default_rng(seed)
        m, d = 9, 3
        x = rng.integers(0, 6, (m, m)).astype(dtype)
        x = x + x.T
        v = rng.normal(size=(m, d)).astype(dtype)
        rtol = 1e-5 if dtype == np.float32 else 1e-12
        loss = CoOccurrenceLoss(dtype=np.dtype(dtype).name)
        np.testing.assert_allclose(float(loss(x, v)), ref_cost(x, v), rtol=rtol)
        variable = tf.Variable(v)
        with tf.GradientTape() as tape:
            value = loss(x, variable)
        np.testing.assert_allclose(
            tape.gradient(value, variable).numpy(), ref_gradient(x, v), rtol=rtol * 10, atol=rtol
        )
        # the diagonal of X is not used
        np.testing.assert_allclose(
            float(loss(x + np.diag(rng.normal(size=m)).astype(dtype), v)), ref_cost(x, v), rtol=rtol
        )

    def test_cost_needs_the_full_matrix(self):
        with pytest.raises(tf.errors.InvalidArgumentError, match="full batch"):
            cooccurrence_loss(np.zeros((4, 4), np.float32), np.zeros((3, 2), np.float32))

    def test_cost_is_rotation_invariant_and_so_are_cosine_lists(self):
        rng = np.random.default_rng(0)
        x = rng.integers(0, 5, (12, 12)).astype(np.float64)
        x = x + x.T
        v = rng.normal(size=(12, 4))
        rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
        loss = CoOccurrenceLoss(dtype="float64")
        np.testing.assert_allclose(float(loss(x, v)), float(loss(x, v @ rotation)), rtol=1e-10)
        for row in range(12):
            rows, cosine = similar_items(v, row, 5)
            rotated_rows, rotated_cosine = similar_items(v @ rotation, row, 5)
            np.testing.assert_array_equal(rows, rotated_rows)
            np.testing.assert_allclose(cosine, rotated_cosine, rtol=1e-10)
