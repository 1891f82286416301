"""Symmetric InfoNCE against numpy."""

import numpy as np
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.losses import ClipLoss, LpDistance


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
