"""Triplet losses (tensorflow-addons' semi-hard, batch-hard, pytorch-metric-learning's triplet margin
loss with its miner, explicit triplets) against the numpy references, and a training effect."""

import keras
import numpy as np
from absl.testing import parameterized

from tests.helpers import TestCase
from tests.losses.references import (
    DISTANCES,
    batch,
    check_against_reference,
    ref_distance,
    ref_hard,
    ref_semihard,
    ref_triplets,
)
from tfml.losses import (
    IndexedTripletMiner,
    TripletHardLoss,
    TripletLoss,
    TripletMarginLoss,
    TripletMarginMiner,
    TripletSemiHardLoss,
)
from tfml.pipelines import random_in_batch_triplets

CASES = [
    (
        "semihard_tfa",
        lambda m, dist: TripletSemiHardLoss(margin=m, distance=dist),
        lambda labels, x, m, dist: ref_semihard(labels, x, m, dist),
    ),
    (
        "batch_hard",
        lambda m, dist: TripletHardLoss(margin=m, distance=dist),
        lambda labels, x, m, dist: ref_hard(labels, x, m, False, dist),
    ),
    (
        "batch_hard_soft",
        lambda m, dist: TripletHardLoss(margin=m, soft=True, distance=dist),
        lambda labels, x, m, dist: ref_hard(labels, x, m, True, dist),
    ),
] + [
    (
        f"triplet_{selection}_{'nonzero' if nonzero else 'mean'}",
        lambda m, dist, s=selection, z=nonzero: TripletLoss(
            margin=m, miner=TripletMarginMiner(m, s), reducer="mean_nonzero" if z else "mean", distance=dist
        ),
        lambda labels, x, m, dist, s=selection, z=nonzero: ref_triplets(labels, x, m, s, dist, z),
    )
    for selection in ("all", "semihard", "hard", "easy")
    for nonzero in (False, True)
]


class TripletLossTest(parameterized.TestCase, TestCase):
    @parameterized.named_parameters(
        *[
            (f"{name}_{distance}", make, reference, distance)
            for name, make, reference in CASES
            for distance in DISTANCES
        ]
    )
    def test_random_batches_match_the_numpy_loops(self, make, reference, distance):
        check_against_reference(self, make, reference, distance)

    def test_hand_checked_values(self):
        # four points on a line: a=0, p=1 (class 0); n1=2.5, n2=4 (class 1); euclidean, margin 1
        labels = np.array([0, 0, 1, 1])
        x = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
        # tfa semi-hard, positive pairs (0,1),(1,0),(2,3),(3,2):
        # (0,1): d_ap=1, negatives of 0 at 2.5, 4 -> closest farther = 2.5 -> max(0, 1 + 1 - 2.5) = 0
        # (1,0): d_ap=1, negatives of 1 at 1.5, 3 -> 1.5 -> 0.5;  (2,3): d=1.5, negs of 2 at 2.5, 1.5 -> 2.5 -> 0
        # (3,2): d=1.5, negs of 3 at 4, 3 -> farther than 1.5: 3 -> max(0, 1 + 1.5 - 3) = 0
        self.assertAllClose(TripletSemiHardLoss()(labels, x), 0.5 / 4)
        # batch-hard: anchor 0: 1 - 2.5; anchor 1: 1 - 1.5 -> 0.5; anchor 2: 1.5 - 1.5 -> 1; anchor 3: 1.5 - 3 -> 0
        self.assertAllClose(TripletHardLoss()(labels, x), (0 + 0.5 + 1.0 + 0) / 4)
        # PML semi-hard (0 < d_an - d_ap <= 1): (1, 0, 2) with term 0.5 and (2, 3, 0) with term 0
        self.assertAllClose(TripletLoss(1.0, miner=TripletMarginMiner(1.0, "semihard"))(labels, x), 0.25)
        self.assertAllClose(
            TripletLoss(1.0, miner=TripletMarginMiner(1.0, "semihard"), reducer="mean_nonzero")(labels, x), 0.5
        )

    def test_indexed_triplets_take_the_given_positive_and_negative(self):
        labels, x = batch(3, n=8, classes=2, dtype=np.float64)
        picks = random_in_batch_triplets(labels[None], seed=1)[0]
        y_true = np.column_stack([labels, picks])
        expected = [
            max(ref_distance(x[a], x[p], "euclidean") - ref_distance(x[a], x[n], "euclidean") + 0.2, 0)
            for a, (p, n) in enumerate(picks)
        ]
        self.assertAllClose(
            TripletLoss(0.2, miner=IndexedTripletMiner(), dtype="float64")(y_true, x), np.mean(expected)
        )
        nonzero = [v for v in expected if v > 0]
        self.assertAllClose(
            TripletLoss(0.2, miner=IndexedTripletMiner(), reducer="mean_nonzero", dtype="float64")(y_true, x),
            np.mean(nonzero) if nonzero else 0.0,
        )

    def test_explicit_triplets(self):
        rng = np.random.default_rng(1)
        triplets = rng.normal(size=(6, 3, 4)).astype(np.float32)
        expected = np.mean(
            [max(0, 1 + ref_distance(t[0], t[1], "l2") - ref_distance(t[0], t[2], "l2")) for t in triplets]
        )
        self.assertAllClose(TripletMarginLoss()(np.zeros(6), triplets), expected, rtol=1e-5)


class TrainingEffectTest(TestCase):
    def test_training_with_semihard_mining_makes_neighbours_same_class(self):
        from tfml.retrieval import ExactIndex, LabelRelevance, evaluate_retrieval

        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(4), 16)
        x = (rng.normal(size=(64, 8)) + labels[:, None] * 0.3).astype(np.float32)

        def precision(model):
            vectors = model.predict(x, verbose=0)
            return evaluate_retrieval(
                ExactIndex(vectors), vectors, LabelRelevance(labels, labels), ["precision@5"], exclude=np.arange(64)
            ).metrics["precision@5"]

        for loss in (
            TripletSemiHardLoss(margin=0.5),
            TripletLoss(0.5, miner=TripletMarginMiner(0.5, "semihard"), reducer="mean_nonzero"),
        ):
            keras.utils.set_random_seed(0)
            model = keras.Sequential(
                [
                    keras.Input((8,)),
                    keras.layers.Dense(16, activation="relu"),
                    keras.layers.Dense(4),
                    keras.layers.UnitNormalization(),
                ]
            )
            model.compile(keras.optimizers.Adam(0.01), loss)
            before = precision(model)
            model.fit(x, labels, batch_size=64, epochs=60, verbose=0, shuffle=False)
            self.assertGreater(precision(model), before + 0.2)
