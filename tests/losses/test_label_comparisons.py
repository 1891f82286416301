"""Label comparisons in losses and miners: multi-hot labels compared by their Jaccard index (positive
and negative thresholds, graded pair weights), against numpy references one pair or triplet at a
time; one-hot labels give exactly the single-label values."""

import itertools

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tests.losses.references import DTYPES, ref_distance, ref_jaccard
from tfml.losses import (
    BatchHardMiner,
    ContrastiveLoss,
    CrossBatchMemory,
    JaccardLabels,
    MultiSimilarityLoss,
    MultiSimilarityMiner,
    NPairsLoss,
    SupConLoss,
    TripletLoss,
    TripletMarginMiner,
)

RNG = np.random.default_rng(0)
LABELS = (RNG.random((12, 5)) < 0.35).astype(np.float32)
LABELS[LABELS.sum(axis=1) == 0, 0] = 1  # every item has a label
X = RNG.normal(size=(12, 4))


def ref_masks(labels, positive_at, negative_at=None):
    n = len(labels)
    j = np.array([[ref_jaccard(labels[i], labels[k]) for k in range(n)] for i in range(n)])
    off = ~np.eye(n, dtype=bool)
    negative = (j < positive_at) if negative_at is None else (j <= negative_at)
    return (j >= positive_at) & off, negative & off, j


def ref_contrastive(labels, x, margin, positive_at, negative_at, graded):
    positive, negative, j = ref_masks(labels, positive_at, negative_at)
    d = np.array([[ref_distance(a, b, "euclidean") for b in x] for a in x])
    weights = np.where(positive, j if graded else 1.0, 0.0)
    positive_part = (weights * d**2).sum() / weights.sum() if weights.sum() else 0.0
    negative_terms = np.maximum(margin - d[negative], 0.0) ** 2
    return positive_part + (negative_terms.mean() if negative_terms.size else 0.0)


def ref_triplet(labels, x, margin, positive_at, negative_at):
    positive, negative, _ = ref_masks(labels, positive_at, negative_at)
    terms = [
        max(0.0, ref_distance(x[a], x[p], "euclidean") - ref_distance(x[a], x[n], "euclidean") + margin)
        for a, p, n in itertools.product(range(len(x)), repeat=3)
        if positive[a, p] and negative[a, n]
    ]
    return float(np.mean(terms)) if terms else 0.0


def ref_multilabel_supcon(labels, x, temperature, positive_at, negative_at):
    positive, negative, j = ref_masks(labels, positive_at, negative_at)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    logits = unit @ unit.T / temperature
    values = []
    for i in range(len(x)):
        compared = positive[i] | negative[i]
        if not positive[i].any():
            values.append(0.0)
            continue
        log_softmax = logits[i] - np.log(np.exp(logits[i][compared]).sum())
        values.append(-(j[i][positive[i]] * log_softmax[positive[i]]).sum() / j[i][positive[i]].sum())
    nonzero = [v for v in values if v > 0]
    return float(np.mean(nonzero)) if nonzero else 0.0


class JaccardLabelsTest(parameterized.TestCase, TestCase):
    @parameterized.parameters((0.5, None), (0.5, 0.0), (1.0, 0.2), (0.3, 0.1))
    def test_masks_and_weights_equal_numpy(self, positive_at, negative_at):
        positive, negative, weight = JaccardLabels(positive_at, negative_at, graded=True).compare(LABELS)
        expected = ref_masks(LABELS, positive_at, negative_at)
        np.testing.assert_array_equal(positive.numpy(), expected[0])
        np.testing.assert_array_equal(negative.numpy(), expected[1])
        self.assertAllClose(weight, expected[2])

    def test_query_key_pairs_make_each_row_its_own_keys_positive(self):
        positive, _, _ = JaccardLabels(0.5).compare(LABELS, LABELS)
        self.assertTrue(np.diag(positive.numpy()).all())

    @parameterized.product(dtype=DTYPES, graded=(False, True), thresholds=((0.5, None), (0.4, 0.0)))
    def test_contrastive_loss_equals_numpy(self, dtype, graded, thresholds):
        comparison = JaccardLabels(*thresholds, graded=graded)
        loss = ContrastiveLoss(margin=2.0, label_comparison=comparison, dtype=np.dtype(dtype).name)
        expected = ref_contrastive(LABELS, X, 2.0, *thresholds, graded)
        self.assertAllClose(loss(LABELS, X.astype(dtype)), expected, rtol=1e-5 if dtype == np.float32 else 1e-10)

    @parameterized.product(dtype=DTYPES, thresholds=((0.5, None), (0.4, 0.0)))
    def test_triplet_loss_equals_numpy(self, dtype, thresholds):
        loss = TripletLoss(
            margin=0.5, reducer="mean", label_comparison=JaccardLabels(*thresholds), dtype=np.dtype(dtype).name
        )
        expected = ref_triplet(LABELS, X, 0.5, *thresholds)
        self.assertAllClose(loss(LABELS, X.astype(dtype)), expected, rtol=1e-5 if dtype == np.float32 else 1e-10)

    @parameterized.product(dtype=DTYPES, thresholds=((0.5, None), (0.3, 0.0)))
    def test_multi_label_supcon_weights_positives_by_jaccard_as_numpy(self, dtype, thresholds):
        loss = SupConLoss(0.5, label_comparison=JaccardLabels(*thresholds, graded=True), dtype=np.dtype(dtype).name)
        expected = ref_multilabel_supcon(LABELS, X, 0.5, *thresholds)
        self.assertAllClose(loss(LABELS, X.astype(dtype)), expected, rtol=1e-5 if dtype == np.float32 else 1e-10)

    def test_gradients_of_a_jaccard_loss_equal_numerical_ones(self):
        loss = SupConLoss(0.5, label_comparison=JaccardLabels(0.3, 0.0, graded=True), dtype="float64")
        theoretical, numerical = tf.test.compute_gradient(lambda x: loss(LABELS, x), [tf.constant(X)])
        self.assertAllClose(theoretical[0], numerical[0], atol=1e-6)

    @parameterized.named_parameters(
        ("contrastive", lambda c: ContrastiveLoss(label_comparison=c)),
        ("triplet_semihard", lambda c: TripletLoss(miner=TripletMarginMiner(0.2, "semihard"), label_comparison=c)),
        ("multi_similarity", lambda c: MultiSimilarityLoss(miner=MultiSimilarityMiner(), label_comparison=c)),
        ("supcon", lambda c: SupConLoss(label_comparison=c)),
        ("batch_hard", lambda c: TripletLoss(miner=BatchHardMiner(), label_comparison=c)),
    )
    def test_one_hot_labels_give_the_single_label_value(self, make):
        classes = RNG.integers(0, 4, 12)
        single = make(None)(classes, X.astype(np.float32))
        multi = make(JaccardLabels(0.5))(np.eye(4, dtype=np.float32)[classes], X.astype(np.float32))
        self.assertAllClose(multi, single, rtol=1e-6)

    def test_miners_keep_only_pairs_the_comparison_allows(self):
        loss = MultiSimilarityLoss(miner=MultiSimilarityMiner(0.5), label_comparison=JaccardLabels(0.5, 0.0))
        batch = loss.batch(LABELS, X.astype(np.float32))
        mined = loss.miner.mine(batch, loss.distance)
        positive, negative, _ = ref_masks(LABELS, 0.5, 0.0)
        self.assertTrue(mined.positive.numpy().any() and mined.negative.numpy().any())
        self.assertFalse((mined.positive.numpy() & ~positive).any())
        self.assertFalse((mined.negative.numpy() & ~negative).any())

    def test_a_loss_with_a_comparison_saves_and_reloads(self):
        loss = SupConLoss(label_comparison=JaccardLabels(0.4, 0.1, graded=True))
        again = keras.losses.deserialize(keras.losses.serialize(loss))
        self.assertEqual(again.label_comparison.get_config(), {"positive_at": 0.4, "negative_at": 0.1, "graded": True})
        self.assertAllClose(again(LABELS, X.astype(np.float32)), loss(LABELS, X.astype(np.float32)))

    def test_bad_labels_and_thresholds_are_one_clear_error(self):
        with self.assertRaisesRegex(ValueError, "multi-hot labels"):
            ContrastiveLoss(label_comparison="jaccard")(np.arange(12), X)
        for thresholds in ((0.0, None), (1.5, None), (0.5, 0.5), (0.5, -0.1)):
            with self.assertRaisesRegex(ValueError, "JaccardLabels needs"):
                JaccardLabels(*thresholds)
        with self.assertRaisesRegex(ValueError, "one label per item"):
            NPairsLoss(label_comparison="jaccard")(LABELS, X)
        with self.assertRaisesRegex(ValueError, "one label per item"):
            CrossBatchMemory(ContrastiveLoss(label_comparison="jaccard"), 4)
        with self.assertRaisesRegex(ValueError, "label comparison 'cosine'"):
            ContrastiveLoss(label_comparison="cosine")
