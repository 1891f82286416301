"""Contrastive losses (Hadsell's squared form, pytorch-metric-learning's plain form, with miners;
explicit pairs) against the numpy references."""

import numpy as np
from absl.testing import parameterized

from tests.helpers import TestCase
from tests.losses.references import DISTANCES, check_against_reference, ref_contrastive, ref_distance
from tfml.losses import ContrastiveLoss, ContrastivePairLoss, HardPairMiner, PairMarginMiner

CASES = [
    (
        "contrastive_all",
        lambda m, dist: ContrastiveLoss(margin=m, distance=dist),
        lambda labels, x, m, dist: ref_contrastive(labels, x, m, "all", dist),
    ),
    (
        "contrastive_hard",
        lambda m, dist: ContrastiveLoss(margin=m, miner=HardPairMiner(m), distance=dist),
        lambda labels, x, m, dist: ref_contrastive(labels, x, m, "hard", dist),
    ),
    (
        "contrastive_pml_margin_mined",
        lambda m, dist: ContrastiveLoss(
            margin=m,
            squared=False,
            positive_margin=0.1,
            miner=PairMarginMiner(0.3, 1.2),
            reducer="mean_nonzero",
            distance=dist,
        ),
        lambda labels, x, m, dist: ref_contrastive(
            labels, x, m, "margin", dist, squared=False, positive_margin=0.1, miner=(0.3, 1.2), nonzero=True
        ),
    ),
    (
        "contrastive_pml_all",
        lambda m, dist: ContrastiveLoss(margin=m, squared=False, reducer="mean_nonzero", distance=dist),
        lambda labels, x, m, dist: ref_contrastive(labels, x, m, "all", dist, squared=False, nonzero=True),
    ),
]


class ContrastiveLossTest(parameterized.TestCase, TestCase):
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
        # four points on a line: a=0, p=1 (class 0); n1=2.5, n2=4 (class 1); euclidean
        labels = np.array([0, 0, 1, 1])
        x = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
        # contrastive all: positives d^2 = 1, 2.25 -> 1.625;
        # negatives (0,2) 2.5, (0,3) 4, (1,2) 1.5, (1,3) 3 -> all >= margin -> 0
        self.assertAllClose(ContrastiveLoss()(labels, x), 1.625)
        self.assertAllClose(ContrastiveLoss(margin=2.0)(labels, x), 1.625 + 0.25 / 4)
        # PML contrastive with the pair-margin miner (1.2, 2): positives 1.5 (twice) kept; negatives 1.5 (twice) kept
        self.assertAllClose(
            ContrastiveLoss(2.0, squared=False, miner=PairMarginMiner(1.2, 2.0), reducer="mean_nonzero")(labels, x),
            1.5 + 0.5,
        )

    def test_mean_nonzero_reducer_divides_by_the_terms_above_zero(self):
        labels = np.array([0, 0, 1, 1])
        points = np.array([[0.0], [1.0], [2.5], [4.0]], np.float64)
        # contrastive plain form, margin 2: positives d = 1, 1.5 (each twice), negatives: only (1, 2) at 1.5 is inside
        mean = ContrastiveLoss(margin=2.0, squared=False, dtype="float64")(labels, points)
        nonzero = ContrastiveLoss(margin=2.0, squared=False, reducer="mean_nonzero", dtype="float64")(labels, points)
        self.assertAllClose(mean, (1 + 1.5) / 2 + 2 * 0.5 / 8)
        self.assertAllClose(nonzero, (1 + 1.5) / 2 + 0.5)

    def test_explicit_pairs(self):
        rng = np.random.default_rng(1)
        rng.normal(size=(6, 3, 4))  # the draws of the explicit-triplet test come first
        pairs = rng.normal(size=(6, 2, 4)).astype(np.float32)
        similar = np.array([1, 0, 1, 0, 0, 1])
        expected = np.mean(
            [
                s * ref_distance(p[0], p[1], "l2") ** 2 + (1 - s) * max(0, 2 - ref_distance(p[0], p[1], "l2")) ** 2
                for s, p in zip(similar, pairs)
            ]
        )
        self.assertAllClose(ContrastivePairLoss(margin=2.0)(similar, pairs), expected, rtol=1e-5)
