"""Symmetric InfoNCE and the SigLIP sigmoid loss against numpy, values and gradients."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.losses import ClipLoss, LpDistance, SigLipLoss


def ref_clip(scaled_queries, keys):
    logits = scaled_queries.astype(np.float64) @ keys.astype(np.float64).T

    def cross_entropy(matrix):
        shifted = matrix - matrix.max(axis=1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.mean(np.diag(log_softmax))

    return 0.5 * (cross_entropy(logits) + cross_entropy(logits.T))


class ClipLossTest(parameterized.TestCase, TestCase):
    @parameterized.product(dtype=[np.float32, np.float64], seed=[0, 1, 2])
    def test_matches_numpy(self, dtype, seed):
        rng = np.random.default_rng(seed)
        u = rng.normal(size=(9, 5))
        v = rng.normal(size=(9, 5))
        u, v = u / np.linalg.norm(u, axis=1, keepdims=True), v / np.linalg.norm(v, axis=1, keepdims=True)
        pair = np.stack([14.3 * u, v], axis=1).astype(dtype)
        value = ClipLoss(dtype=np.dtype(dtype).name)(np.zeros(9), pair)
        self.assertAllClose(value, ref_clip(pair[:, 0], pair[:, 1]), rtol=1e-5 if dtype == np.float32 else 1e-10)

    def test_perfect_matches_give_a_small_loss_and_shuffled_ones_a_large_one(self):
        eye = np.eye(6)
        good = ClipLoss()(np.zeros(6), np.stack([50 * eye, eye], axis=1).astype(np.float32))
        bad = ClipLoss()(np.zeros(6), np.stack([50 * eye, np.roll(eye, 1, axis=0)], axis=1).astype(np.float32))
        self.assertLess(float(good), 1e-6)
        self.assertGreater(float(bad), 40)

    def test_a_distance_gives_negated_distances_as_logits(self):
        rng = np.random.default_rng(3)
        pair = rng.normal(size=(5, 2, 3))
        d = np.sqrt(((pair[:, 0][:, None] - pair[:, 1][None]) ** 2).sum(-1))
        value = ClipLoss(distance=LpDistance(normalize_embeddings=False), dtype="float64")(np.zeros(5), pair)

        def cross_entropy(logits):
            shifted = logits - logits.max(axis=1, keepdims=True)
            return -np.mean(np.diag(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))))

        self.assertAllClose(value, 0.5 * (cross_entropy(-d) + cross_entropy(-d.T)))


def ref_siglip(queries, keys):
    """(loss, d loss / d queries, d loss / d keys) of open_clip's SigLipLoss, logits = Q K^T."""
    q, k = queries.astype(np.float64), keys.astype(np.float64)
    logits = q @ k.T
    signs = 2 * np.eye(len(q)) - 1
    loss = np.logaddexp(0, -signs * logits).sum() / len(q)
    d_logits = -signs / (1 + np.exp(signs * logits)) / len(q)  # d softplus(-z L) / dL = -z sigmoid(-z L)
    return loss, d_logits @ k, d_logits.T @ q


class SigLipLossTest(parameterized.TestCase, TestCase):
    @parameterized.product(dtype=[np.float32, np.float64], seed=[0, 1, 2])
    def test_value_and_gradients_match_numpy(self, dtype, seed):
        rng = np.random.default_rng(seed)
        u, v = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in rng.normal(size=(2, 7, 4)))
        bias = rng.uniform(-12, 0)
        queries = np.concatenate([10 * u, np.full((7, 1), bias)], axis=1)  # (t u, b) against (v, 1)
        keys = np.concatenate([v, np.ones((7, 1))], axis=1)
        pair = tf.constant(np.stack([queries, keys], axis=1).astype(dtype))
        with tf.GradientTape() as tape:
            tape.watch(pair)
            value = SigLipLoss(dtype=np.dtype(dtype).name)(np.zeros(7), pair)
        gradient = tape.gradient(value, pair).numpy()
        expected, d_queries, d_keys = ref_siglip(queries, keys)
        tolerance = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
        self.assertAllClose(value, expected, **tolerance)
        self.assertAllClose(gradient[:, 0], d_queries, **tolerance)
        self.assertAllClose(gradient[:, 1], d_keys, **tolerance)

    def test_each_pair_is_its_own_binary_problem(self):
        eye = np.eye(4)
        pair = np.stack([30 * eye, eye], axis=1)  # logits 30 on the diagonal, 0 elsewhere
        expected = (np.log1p(np.exp(-30.0)) * 4 + np.log(2) * 12) / 4  # every off-diagonal pair costs log 2
        self.assertAllClose(SigLipLoss(dtype="float64")(np.zeros(4), pair), expected)
