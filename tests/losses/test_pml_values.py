"""tfml's losses, miners and reducers against pytorch-metric-learning 2.9's own values: losses and
their gradients with respect to the embeddings, in float64 (within 1e-6, relative) and float32
(1e-4), on the fixed batches of tests/fixtures/pml_values.npz (written by
benchmarks/pml_values.py with the `bench` extra; no torch here)."""

from pathlib import Path

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml import losses as L
from tfml.models import ClassProxies

FIXTURE = np.load(Path(__file__).resolve().parents[1] / "fixtures" / "pml_values.npz")
CASES = ("small", "crowded", "pairs", "one-class")
DTYPES = ("float64", "float32")
TOLERANCE = {"float64": 1e-6, "float32": 1e-4}
CLASS_WEIGHTS = [1.0, 0.5, 2.0, 1.5, 0.25, 1.0]
SUB_CENTERS = 3

PML_DISTANCE = L.LpDistance  # pytorch-metric-learning's default: L2-normalised Euclidean


def pml_contrastive(**options):
    return L.ContrastiveLoss(margin=1.0, squared=False, distance=PML_DISTANCE(), reducer="mean_nonzero", **options)


def pml_triplet(margin=0.05, **options):
    options = {"distance": PML_DISTANCE(), "reducer": "mean_nonzero", **options}
    return L.TripletLoss(margin, **options)


EMBEDDING_LOSSES = {
    "contrastive": lambda: pml_contrastive(),
    "contrastive-pair-margin": lambda: pml_contrastive(miner=L.PairMarginMiner(0.2, 0.8)),
    "contrastive-cosine": lambda: L.ContrastiveLoss(
        margin=0.3, positive_margin=0.9, squared=False, distance=L.CosineSimilarity(), reducer="mean_nonzero"
    ),
    "triplet": lambda: pml_triplet(),
    "triplet-0.2-semihard": lambda: pml_triplet(0.2, miner=L.TripletMarginMiner(0.2, "semihard")),
    "triplet-batch-hard": lambda: pml_triplet(0.2, miner=L.BatchHardMiner()),
    "triplet-batch-easy-hard": lambda: pml_triplet(0.2, miner=L.BatchEasyHardMiner()),
    "triplet-euclidean": lambda: pml_triplet(0.5, distance=L.LpDistance(normalize_embeddings=False)),
    "triplet-dot": lambda: pml_triplet(0.1, distance=L.DotProductSimilarity()),
    "multi-similarity": lambda: L.MultiSimilarityLoss(),
    "multi-similarity-mined": lambda: L.MultiSimilarityLoss(miner=L.MultiSimilarityMiner()),
    "multi-similarity-euclidean": lambda: L.MultiSimilarityLoss(
        1.0, 10.0, 0.8, distance=L.LpDistance(), miner=L.MultiSimilarityMiner(0.2, distance=L.LpDistance())
    ),
    "circle": lambda: L.CircleLoss(),
    "circle-0.25-256": lambda: L.CircleLoss(m=0.25, gamma=256.0),
    "supcon": lambda: L.SupConLoss(),
    "supcon-euclidean": lambda: L.SupConLoss(0.5, distance=L.LpDistance()),
    "ntxent": lambda: L.NTXentLoss(),
    "ntxent-0.5": lambda: L.NTXentLoss(0.5),
    "generalized-lifted-structure": lambda: L.GeneralizedLiftedStructureLoss(),
    "generalized-lifted-structure-cosine": lambda: L.GeneralizedLiftedStructureLoss(
        0.3, 0.9, distance=L.CosineSimilarity()
    ),
    "npairs": lambda: L.NPairsLoss(),
    "tuplet-margin": lambda: L.TupletMarginLoss(),
    "tuplet-margin-10-32": lambda: L.TupletMarginLoss(10.0, 32.0),
    "contrastive-mean": lambda: (
        pml_contrastive()
        if False
        else L.ContrastiveLoss(margin=1.0, squared=False, distance=PML_DISTANCE(), reducer="mean")
    ),
    "contrastive-sum": lambda: L.ContrastiveLoss(margin=1.0, squared=False, distance=PML_DISTANCE(), reducer="sum"),
    "contrastive-threshold": lambda: L.ContrastiveLoss(
        margin=1.0, squared=False, distance=PML_DISTANCE(), reducer=L.ThresholdReducer(0.1, 0.9)
    ),
    "contrastive-per-anchor": lambda: L.ContrastiveLoss(
        margin=1.0, squared=False, distance=PML_DISTANCE(), reducer=L.PerAnchorReducer()
    ),
    "contrastive-class-weighted": lambda: L.ContrastiveLoss(
        margin=1.0, squared=False, distance=PML_DISTANCE(), reducer=L.ClassWeightedReducer(CLASS_WEIGHTS)
    ),
    "triplet-mean": lambda: pml_triplet(0.2, reducer="mean"),
    "triplet-sum": lambda: pml_triplet(0.2, reducer="sum"),
    "triplet-threshold": lambda: pml_triplet(0.2, reducer=L.ThresholdReducer(low=0.05)),
    "triplet-class-weighted": lambda: pml_triplet(0.2, reducer=L.ClassWeightedReducer(CLASS_WEIGHTS)),
}

WEIGHT_LOSSES = {
    "proxy-anchor": (lambda: L.ProxyAnchorLoss(), 1),
    "proxy-anchor-0.2-16": (lambda: L.ProxyAnchorLoss(0.2, 16.0), 1),
    "proxy-nca": (lambda: L.ProxyNCALoss(), 1),
    "proxy-nca-scale-8": (lambda: L.ProxyNCALoss(8.0), 1),
    "normalized-softmax": (lambda: L.NormalizedSoftmaxLoss(), 1),
    "arcface": (lambda: L.ArcFaceLoss(), 1),
    "arcface-10-16": (lambda: L.ArcFaceLoss(10.0, 16.0), 1),
    "cosface": (lambda: L.CosFaceLoss(), 1),
    "subcenter-arcface": (lambda: L.SubCenterArcFaceLoss(), SUB_CENTERS),
}


def stored(*key):
    return FIXTURE["/".join(key)]


def in_dtype(loss, dtype):
    """The same loss computing in ``dtype``, made again from its configuration (which also checks that
    it serialises)."""
    return type(loss).from_config({**loss.get_config(), "dtype": dtype})


def value_and_gradient(loss_fn, embeddings):
    x = tf.Variable(embeddings)
    with tf.GradientTape() as tape:
        value = loss_fn(x)
    gradient = tape.gradient(value, x)
    return value.numpy(), (np.zeros_like(embeddings) if gradient is None else gradient.numpy())


class PMLValuesTest(parameterized.TestCase, TestCase):
    @staticmethod
    def check(self, got, expected, dtype, what):
        got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
        tolerance = TOLERANCE[dtype]
        scale = max(float(np.max(np.abs(expected))), 1e-12)
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance * scale, err_msg=what)

    @parameterized.product(case=CASES, dtype=DTYPES, name=tuple(EMBEDDING_LOSSES))
    def test_loss_and_gradient_equal_pml(self, case, dtype, name):
        x, labels = stored(case, dtype, "embeddings"), stored(case, dtype, "labels")
        loss = in_dtype(EMBEDDING_LOSSES[name](), dtype)
        value, gradient = value_and_gradient(lambda v: loss(tf.constant(labels), v), x)
        self.check(self, value, stored(case, dtype, name, "value"), dtype, f"{name} value")
        self.check(self, gradient, stored(case, dtype, name, "grad"), dtype, f"{name} gradient")

    @parameterized.product(case=CASES, dtype=DTYPES, name=tuple(WEIGHT_LOSSES))
    def test_weight_loss_and_gradient_equal_pml_given_the_same_weights(self, case, dtype, name):
        x, labels = stored(case, dtype, "embeddings"), stored(case, dtype, "labels")
        make_loss, sub_centers = WEIGHT_LOSSES[name]
        weights = stored(case, dtype, name, "weights")
        layer = ClassProxies(len(weights) // sub_centers, sub_centers=sub_centers, dtype=dtype)
        layer.build(x.shape)
        layer.set_class_proxies(weights)
        loss = in_dtype(make_loss(), dtype)
        value, gradient = value_and_gradient(lambda v: loss(tf.constant(labels), layer(v)), x)
        self.check(self, value, stored(case, dtype, name, "value"), dtype, f"{name} value")
        self.check(self, gradient, stored(case, dtype, name, "grad"), dtype, f"{name} gradient")


MINERS = {
    "triplet-margin-semihard": lambda: L.TripletMarginMiner(0.2, "semihard"),
    "triplet-margin-hard": lambda: L.TripletMarginMiner(0.3, "hard"),
    "triplet-margin-all": lambda: L.TripletMarginMiner(0.2, "all"),
    "pair-margin": lambda: L.PairMarginMiner(0.2, 0.8),
    "multi-similarity": lambda: L.MultiSimilarityMiner(),
    "multi-similarity-euclidean": lambda: L.MultiSimilarityMiner(0.3, distance=L.LpDistance()),
    "batch-hard": lambda: L.BatchHardMiner(),
    "batch-easy-hard": lambda: L.BatchEasyHardMiner(),
    "batch-easy-hard-hard-all": lambda: L.BatchEasyHardMiner("hard", "all"),
    "batch-easy-hard-semihard-hard": lambda: L.BatchEasyHardMiner("semihard", "hard"),
    "batch-easy-hard-ranges": lambda: L.BatchEasyHardMiner(allowed_pos_range=(0.2, 1.0), allowed_neg_range=(0.3, 1.5)),
}


class PMLMinersTest(parameterized.TestCase, TestCase):
    """Each miner keeps exactly the pairs or triplets pytorch-metric-learning's keeps (its default
    distance: L2-normalised Euclidean)."""

    @parameterized.product(case=CASES, dtype=DTYPES, name=tuple(MINERS))
    def test_miner_selects_what_pml_selects(self, case, dtype, name):
        x, labels = stored(case, dtype, "embeddings"), stored(case, dtype, "labels")
        selected = MINERS[name]().mine(L.Batch(labels, tf.constant(x)), L.LpDistance())
        key = f"{case}/{dtype}/miner/{name}"
        if f"{key}/triplets" in FIXTURE:
            expected = FIXTURE[f"{key}/triplets"] > 0
            got = L.triplets_of(selected).mask.numpy()
            self.assertEqual(np.argwhere(got).tolist(), np.argwhere(expected).tolist())
        else:
            pairs = L.pairs_of(selected)
            for part in ("positive", "negative"):
                expected = FIXTURE[f"{key}/{part}"] > 0
                self.assertEqual(
                    np.argwhere(getattr(pairs, part).numpy()).tolist(), np.argwhere(expected).tolist(), part
                )

    @parameterized.product(case=CASES, dtype=DTYPES)
    def test_distance_weighted_miner_weights_and_count_equal_pml(self, case, dtype):
        x, labels = stored(case, dtype, "embeddings"), stored(case, dtype, "labels")
        miner = L.DistanceWeightedMiner(seed=3)
        batch = L.Batch(labels, tf.constant(x))
        expected = np.nan_to_num(stored(case, dtype, "miner", "distance-weighted", "weights"))  # 0 / 0 rows: none
        self.assertAllClose(miner.weights(batch), expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
        triplets = miner.mine(batch, None)
        self.assertEqual(
            int(tf.reduce_sum(triplets.count)), int(stored(case, dtype, "miner", "distance-weighted", "count"))
        )
        anchors, positives, negatives = np.nonzero(triplets.mask.numpy())
        self.assertTrue(np.all(labels[anchors] == labels[positives]) and np.all(anchors != positives))
        self.assertTrue(np.all(expected[anchors, negatives] > 0))  # negatives only where PML's weight is non-zero
        again = miner.mine(batch, None)
        self.assertAllEqual(again.count, triplets.count)  # seeded by the batch: the same draws again


XBM_SETUPS = {
    "contrastive": lambda: (pml_contrastive(), None),
    "contrastive-pair-margin": lambda: (pml_contrastive(), L.PairMarginMiner(0.2, 0.8)),
    "multi-similarity-mined": lambda: (L.MultiSimilarityLoss(), L.MultiSimilarityMiner()),
    "triplet-0.2": lambda: (pml_triplet(0.2), None),
    "ntxent": lambda: (L.NTXentLoss(), None),
}


class PMLCrossBatchMemoryTest(parameterized.TestCase, TestCase):
    @parameterized.product(dtype=DTYPES, name=tuple(XBM_SETUPS))
    def test_cross_batch_memory_over_five_batches_equals_pml(self, dtype, name):
        loss, miner = XBM_SETUPS[name]()
        memory = L.CrossBatchMemory(in_dtype(loss, dtype), 4, memory_size=20, miner=miner, dtype=dtype)
        for step in range(5):
            x, labels = (
                stored("xbm", dtype, f"batch{step}", "embeddings"),
                stored("xbm", dtype, f"batch{step}", "labels"),
            )
            value, gradient = value_and_gradient(lambda v, y=tf.constant(labels): memory(y, v), x)
            expected = stored("xbm", dtype, name, str(step), "value"), stored("xbm", dtype, name, str(step), "grad")
            PMLValuesTest.check(self, value, expected[0], dtype, f"{name} step {step} value")
            PMLValuesTest.check(self, gradient, expected[1], dtype, f"{name} step {step} gradient")
