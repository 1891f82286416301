"""Symmetric InfoNCE, the SigLIP sigmoid loss and SymmetricLoss (multi-label SupCon both ways) against
numpy, values and gradients."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tests.losses.references import ref_jaccard
from tfml.losses import ClipLoss, JaccardLabels, LpDistance, SigLipLoss, SupConLoss, SymmetricLoss


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


def ref_symmetric_supcon(queries, keys, labels, positive_at):
    """1/2 (one way + the other) of multi-label SupCon on matched pairs, one anchor at a time: for
    anchor i, positives are its own key (weight 1) and keys j with J_ij >= positive_at (weight J_ij),
    the others negatives; -sum_p w_p log softmax_p / sum_p w_p; mean over the non-zero anchors."""
    jaccard = np.array([[ref_jaccard(a, b) for b in labels] for a in labels])

    def one_way(q, k):
        values = []
        for i in range(len(q)):
            logits = k @ q[i]
            log_softmax = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
            weights = [
                1.0 if j == i else (jaccard[i, j] if jaccard[i, j] >= positive_at else 0.0) for j in range(len(k))
            ]
            values.append(-np.dot(weights, log_softmax) / np.sum(weights))
        values = np.array(values)
        return values[values > 0].mean()

    q, k = queries.astype(np.float64), keys.astype(np.float64)
    return 0.5 * (one_way(q, k) + one_way(k, q))


GENRES = np.array(
    [[1, 0, 0, 1], [1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0]], np.float32
)  # rows 3 and 6: no genre, each still its own synopsis' match


def genre_supcon(dtype="float32", positive_at=0.5):
    supcon = SupConLoss(1.0, distance="dot", label_comparison=JaccardLabels(positive_at, graded=True), dtype=dtype)
    return SymmetricLoss(supcon, dtype=dtype)


class SymmetricLossTest(parameterized.TestCase, TestCase):
    @parameterized.product(dtype=[np.float32, np.float64], positive_at=[0.5, 1.0])
    def test_multi_label_supcon_both_ways_matches_numpy(self, dtype, positive_at):
        rng = np.random.default_rng(4)
        u, v = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in rng.normal(size=(2, 7, 3)))
        pair = np.stack([5.0 * u, v], axis=1).astype(dtype)
        value = genre_supcon(np.dtype(dtype).name, positive_at)(GENRES, pair)
        expected = ref_symmetric_supcon(pair[:, 0], pair[:, 1], GENRES, positive_at)
        self.assertAllClose(value, expected, rtol=1e-5 if dtype == np.float32 else 1e-10)

    def test_gradients_equal_the_numpy_reference_differentiated(self):
        rng = np.random.default_rng(5)
        pair = rng.normal(size=(7, 2, 3))
        with tf.GradientTape() as tape:
            x = tf.constant(pair)
            tape.watch(x)
            value = genre_supcon("float64")(GENRES, x)
        gradient = tape.gradient(value, x).numpy()
        step, numerical = 1e-6, np.zeros_like(pair)
        for index in np.ndindex(pair.shape):
            up, down = pair.copy(), pair.copy()
            up[index] += step
            down[index] -= step
            numerical[index] = (
                ref_symmetric_supcon(up[:, 0], up[:, 1], GENRES, 0.5)
                - ref_symmetric_supcon(down[:, 0], down[:, 1], GENRES, 0.5)
            ) / (2 * step)
        self.assertAllClose(gradient, numerical, atol=1e-7)

    def test_one_label_per_pair_gives_clip(self):
        rng = np.random.default_rng(6)
        pair = rng.normal(size=(8, 2, 4)).astype(np.float32)
        symmetric = SymmetricLoss(SupConLoss(1.0, distance="dot"))(np.arange(8), pair)
        self.assertAllClose(symmetric, ClipLoss()(np.zeros(8), pair), rtol=1e-5)

    def test_similar_genres_pull_together_what_clip_pushes_apart(self):
        eye = np.eye(4, 3)  # movies 0 and 3 share a poster direction; their genres are the same
        pair = np.stack([10 * eye, eye], axis=1).astype(np.float32)
        pair[3] = pair[0]
        same = np.array([[1, 0], [0, 1], [1, 1], [1, 0]], np.float32)
        other = np.array([[1, 0], [0, 1], [1, 1], [0, 1]], np.float32)
        self.assertLess(
            float(genre_supcon(positive_at=1.0)(same, pair)), float(genre_supcon(positive_at=1.0)(other, pair))
        )

    def test_reloads_from_its_config_and_rejects_unpaired_embeddings(self):
        loss = genre_supcon(positive_at=0.4)
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
        self.assertEqual(again.loss.label_comparison.get_config(), loss.loss.label_comparison.get_config())
        pair = np.random.default_rng(7).normal(size=(7, 2, 3)).astype(np.float32)
        self.assertAllClose(again(GENRES, pair), loss(GENRES, pair))
        with self.assertRaisesRegex(ValueError, "matched pairs"):
            loss(GENRES, pair[:, 0])
        with self.assertRaisesRegex(TypeError, "pair or triplet loss"):
            SymmetricLoss(ClipLoss())
