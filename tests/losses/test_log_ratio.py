"""The log-ratio loss (triplet and dense forms) against numpy; floors and epsilon keep it finite."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.losses import LogRatioLoss


def ref_log_ratio(triplets, distances, floor, squared, epsilon):
    values = []
    for (a, p, n), (d_ap, d_an) in zip(triplets.astype(np.float64), distances):
        e_ap = ((a - p) ** 2).sum() + epsilon
        e_an = ((a - n) ** 2).sum() + epsilon
        if not squared:
            e_ap, e_an = np.sqrt(e_ap), np.sqrt(e_an)
        values.append((np.log(e_ap / e_an) - np.log(max(d_ap, floor) / max(d_an, floor))) ** 2)
    return np.mean(values)


def ref_dense(embeddings, distances, floor, epsilon):
    anchor = embeddings[0].astype(np.float64)
    values = []
    for i in range(1, len(embeddings)):
        for j in range(i + 1, len(embeddings)):
            e_i = np.sqrt(((anchor - embeddings[i]) ** 2).sum() + epsilon)
            e_j = np.sqrt(((anchor - embeddings[j]) ** 2).sum() + epsilon)
            values.append((np.log(e_i / e_j) - np.log(max(distances[i], floor) / max(distances[j], floor))) ** 2)
    return np.mean(values)


class LogRatioLossTest(parameterized.TestCase, TestCase):
    @parameterized.product(dtype=[np.float32, np.float64], distance=["euclidean", "sqeuclidean"], floor=[0.1, 0.01])
    def test_matches_numpy(self, dtype, distance, floor):
        rng = np.random.default_rng(1)
        triplets = rng.normal(size=(9, 3, 5)).astype(dtype)
        distances = rng.choice([0.0, 0.25, 0.5, 2 / 3, 1.0], size=(9, 2))
        loss = LogRatioLoss(floor, epsilon=1e-6, distance=distance, dtype=np.dtype(dtype).name)
        tolerance = 1e-4 if dtype == np.float32 else 1e-10
        self.assertAllClose(
            loss(distances, triplets),
            ref_log_ratio(triplets, distances, floor, distance == "sqeuclidean", 1e-6),
            rtol=tolerance,
        )

    @parameterized.product(dtype=[np.float32, np.float64])
    def test_dense_form_matches_numpy(self, dtype):
        rng = np.random.default_rng(2)
        embeddings = rng.normal(size=(7, 4)).astype(dtype)
        distances = np.r_[0.0, rng.choice([0.0, 0.5, 0.8, 1.0], size=6)]
        loss = LogRatioLoss(0.1, dense=True, dtype=np.dtype(dtype).name)
        self.assertAllClose(
            loss(distances, embeddings),
            ref_dense(embeddings, distances, 0.1, 1e-6),
            rtol=1e-4 if dtype == np.float32 else 1e-10,
        )

    def test_zero_label_distances_and_identical_embeddings_stay_finite(self):
        same = tf.Variable(np.ones((4, 3, 2), np.float32))  # anchor = positive = negative
        with tf.GradientTape() as tape:
            value = LogRatioLoss()(np.zeros((4, 2)), same)
        self.assertTrue(np.isfinite(value.numpy()))
        self.assertTrue(np.isfinite(tape.gradient(value, same).numpy()).all())
        # a floor of 0.1 keeps log ratios of identical sets (distance 0) at log(0.1 / d): bounded
        self.assertAllClose(
            LogRatioLoss(0.1, epsilon=0.0)(np.array([[0.0, 1.0]]), np.array([[[0.0], [0.1], [1.0]]], np.float32)),
            0.0,
            atol=1e-10,
        )
        with self.assertRaisesRegex(ValueError, "label_floor must be positive"):
            LogRatioLoss(0.0)
        with self.assertRaisesRegex(ValueError, "distance 'euclidean' or 'sqeuclidean'"):
            LogRatioLoss(distance="cosine")
