"""Distance objects (Lp with p = 1, 2, 3, inf, normalised or not, raised to a power; cosine and dot
similarities; tfml's cosine distance) against numpy, their names, and finite gradients."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.losses import (
    ContrastiveLoss,
    CosineDistance,
    CosineSimilarity,
    DotProductSimilarity,
    LpDistance,
    get_distance,
    pairwise_distances,
)


def ref_matrix(queries, keys, kind, p=2.0, power=1.0, normalize=False):
    queries, keys = np.asarray(queries, np.float64), np.asarray(keys, np.float64)
    if normalize or kind in ("cosine_similarity", "cosine_distance"):
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        keys = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    out = np.empty((len(queries), len(keys)))
    for i, q in enumerate(queries):
        for j, k in enumerate(keys):
            if kind == "lp":
                diff = np.abs(q - k)
                out[i, j] = diff.max() if np.isinf(p) else (diff**p).sum() ** (1 / p)
            elif kind in ("dot", "cosine_similarity"):
                out[i, j] = q @ k
            else:
                out[i, j] = 1 - q @ k
    return out**power


class DistanceTest(parameterized.TestCase, TestCase):
    @parameterized.product(p=[1, 2, 3, np.inf], power=[1, 2], normalize=[False, True], dtype=[np.float32, np.float64])
    def test_lp_distance_matches_numpy(self, p, power, normalize, dtype):
        rng = np.random.default_rng(0)
        queries, keys = rng.normal(size=(5, 4)).astype(dtype), rng.normal(size=(7, 4)).astype(dtype)
        distance = LpDistance(p=p, power=power, normalize_embeddings=normalize)
        tolerance = 1e-4 if dtype == np.float32 else 1e-9
        self.assertAllClose(
            distance(queries, keys),
            ref_matrix(queries, keys, "lp", p, power, normalize),
            rtol=tolerance,
            atol=tolerance,
        )
        self.assertAllClose(
            distance.paired(queries, keys[:5]),
            np.diag(ref_matrix(queries, keys[:5], "lp", p, power, normalize)),
            rtol=tolerance,
            atol=tolerance,
        )
        self_distances = distance(queries)
        self.assertAllClose(np.diag(self_distances), np.zeros(5), atol=1e-3 if dtype == np.float32 else 1e-6)
        self.assertFalse(distance.is_inverted)

    @parameterized.parameters("dot", "cosine_similarity", "cosine_distance")
    def test_similarities_and_the_cosine_distance_match_numpy(self, kind):
        rng = np.random.default_rng(1)
        queries, keys = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
        distance = {
            "dot": DotProductSimilarity(),
            "cosine_similarity": CosineSimilarity(),
            "cosine_distance": CosineDistance(),
        }[kind]
        self.assertAllClose(distance(queries, keys), ref_matrix(queries, keys, kind), rtol=1e-10)
        self.assertEqual(distance.is_inverted, kind != "cosine_distance")
        self.assertAllClose(
            DotProductSimilarity(normalize_embeddings=True)(queries, keys),
            ref_matrix(queries, keys, "cosine_similarity"),
        )

    def test_margin_and_closer_follow_the_direction(self):
        self.assertEqual(LpDistance().margin(3.0, 1.0), 2.0)  # a distance: x - y
        self.assertEqual(CosineSimilarity().margin(3.0, 1.0), -2.0)  # a similarity: y - x
        self.assertTrue(LpDistance().closer(1.0, 2.0) and CosineSimilarity().closer(2.0, 1.0))

    def test_names_aliases_objects_and_serialised_forms(self):
        self.assertEqual(get_distance("l2"), LpDistance(normalize_embeddings=False))
        self.assertEqual(get_distance("squared_l2"), LpDistance(power=2, normalize_embeddings=False))
        self.assertEqual(get_distance("cosine"), CosineDistance())
        self.assertEqual(get_distance("dot"), DotProductSimilarity())
        distance = LpDistance(p=1, normalize_embeddings=True)
        self.assertIs(get_distance(distance), distance)
        self.assertEqual(get_distance(keras.saving.serialize_keras_object(distance)), distance)
        with self.assertRaisesRegex(ValueError, "unknown distance 'hamming'"):
            get_distance("hamming")
        with self.assertRaisesRegex(TypeError, "distance must be a name"):
            get_distance(3)
        with self.assertRaisesRegex(ValueError, "p >= 1"):
            LpDistance(p=0.5)
        with self.assertRaisesRegex(ValueError, "CosineSimilarity normalises"):
            CosineSimilarity(normalize_embeddings=False)

    def test_a_loss_with_a_distance_object_serialises_it(self):
        loss = ContrastiveLoss(distance=LpDistance(p=1, normalize_embeddings=True))
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        self.assertEqual(restored.distance, loss.distance)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile("sgd", loss)
        path = self.get_temp_dir() + "/model.h5"
        model.save(path)
        self.assertEqual(keras.models.load_model(path).loss.distance, loss.distance)

    def test_pairwise_distances_gradient_on_the_diagonal_is_finite(self):
        x = tf.Variable(np.ones((3, 4), np.float32))
        for distance in ("l2", "squared_l2", "cosine", LpDistance(p=1), LpDistance(p=3), LpDistance(p=np.inf)):
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(pairwise_distances(x, distance=distance))
            self.assertTrue(np.isfinite(tape.gradient(total, x).numpy()).all(), distance)
        with self.assertRaisesRegex(ValueError, "unknown distance 'l3'"):
            pairwise_distances(x, distance="l3")
