"""Miners against plain loops written from their definitions, for a distance and for a similarity
(where "farther" means a smaller similarity and margins are on the similarity's scale)."""

import itertools

import keras
import numpy as np
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.losses import (
    Batch,
    BatchHardMiner,
    CosineSimilarity,
    HardPairMiner,
    IndexedTripletMiner,
    LpDistance,
    PairMarginMiner,
    Pairs,
    SemiHardNegativeMiner,
    TripletLoss,
    TripletMarginMiner,
    Triplets,
    get_miner,
)
from tfml.losses.miners import pairs_of, triplets_of

EUCLIDEAN = LpDistance(normalize_embeddings=False)
DISTANCES = {"euclidean": EUCLIDEAN, "cosine_similarity": CosineSimilarity()}


def batch(seed, n=10, classes=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, classes, n), rng.normal(size=(n, 4))


def matrix(x, distance):
    return np.asarray(distance(x))


def ref_triplet_margin(labels, m, margin, kind, inverted):
    kept = set()
    for a, p, n in itertools.permutations(range(len(labels)), 3):
        if labels[a] != labels[p] or labels[a] == labels[n]:
            continue
        gap = (m[a, p] - m[a, n]) if inverted else (m[a, n] - m[a, p])
        keep = {"all": gap <= margin, "hard": gap <= 0, "semihard": 0 < gap <= margin, "easy": gap > margin}[kind]
        if keep:
            kept.add((a, p, n))
    return kept


def mined_triplets(triplets):
    return {tuple(t) for t in np.argwhere(np.asarray(triplets.mask)).tolist()}


class MinerTest(parameterized.TestCase, TestCase):
    @parameterized.product(kind=["all", "hard", "semihard", "easy"], distance=list(DISTANCES))
    def test_triplet_margin_miner_matches_a_loop(self, kind, distance):
        for seed in range(3):
            labels, x = batch(seed)
            measure = DISTANCES[distance]
            margin = 0.1 if measure.is_inverted else 0.5
            mined = TripletMarginMiner(margin, kind).mine(Batch(labels, x), measure)
            self.assertEqual(
                mined_triplets(mined), ref_triplet_margin(labels, matrix(x, measure), margin, kind, measure.is_inverted)
            )

    @parameterized.parameters(list(DISTANCES))
    def test_pair_margin_miner_matches_a_loop(self, distance):
        labels, x = batch(4)
        measure = DISTANCES[distance]
        m = matrix(x, measure)
        pos_margin, neg_margin = (0.5, 0.2) if measure.is_inverted else (1.5, 2.5)
        pairs = PairMarginMiner(pos_margin, neg_margin).mine(Batch(labels, x), measure)
        farther = (lambda d, t: d < t) if measure.is_inverted else (lambda d, t: d > t)
        expected_positive = {
            (a, b)
            for a, b in itertools.permutations(range(10), 2)
            if labels[a] == labels[b] and farther(m[a, b], pos_margin)
        }
        expected_negative = {
            (a, b)
            for a, b in itertools.permutations(range(10), 2)
            if labels[a] != labels[b] and farther(neg_margin, m[a, b])
        }
        self.assertEqual({tuple(p) for p in np.argwhere(np.asarray(pairs.positive)).tolist()}, expected_positive)
        self.assertEqual({tuple(p) for p in np.argwhere(np.asarray(pairs.negative)).tolist()}, expected_negative)

    @parameterized.parameters(list(DISTANCES))
    def test_batch_hard_miner_takes_the_farthest_positive_and_closest_negative(self, distance):
        labels, x = batch(5)
        labels[9] = 7  # a class of one: no triplet for that anchor
        measure = DISTANCES[distance]
        m = -matrix(x, measure) if measure.is_inverted else matrix(x, measure)
        expected = set()
        for a in range(10):
            positives = [p for p in range(10) if p != a and labels[p] == labels[a]]
            negatives = [n for n in range(10) if labels[n] != labels[a]]
            if positives and negatives:
                expected.add((a, max(positives, key=lambda p: m[a, p]), min(negatives, key=lambda n: m[a, n])))
        self.assertEqual(mined_triplets(BatchHardMiner().mine(Batch(labels, x), measure)), expected)

    def test_semihard_negative_miner_follows_the_tensorflow_addons_rule(self):
        for seed in range(3):
            labels, x = batch(seed)
            m = matrix(x, EUCLIDEAN)
            expected = set()
            for a, p in itertools.permutations(range(10), 2):
                if labels[a] != labels[p]:
                    continue
                negatives = [n for n in range(10) if labels[n] != labels[a]]
                farther = [n for n in negatives if m[a, n] > m[a, p]]
                expected.add(
                    (a, p, min(farther, key=lambda n: m[a, n]) if farther else max(negatives, key=lambda n: m[a, n]))
                )
            self.assertEqual(mined_triplets(SemiHardNegativeMiner().mine(Batch(labels, x), EUCLIDEAN)), expected)

    def test_hard_pair_miner_matches_a_loop(self):
        labels, x = batch(6)
        m = matrix(x, EUCLIDEAN)
        pairs = HardPairMiner(neg_margin=2.0).mine(Batch(labels, x), EUCLIDEAN)

        def closest_negative(i):
            return min(m[i, k] for k in range(10) if labels[k] != labels[i])

        positive = {
            (a, b)
            for a, b in itertools.permutations(range(10), 2)
            if labels[a] == labels[b] and m[a, b] > min(closest_negative(a), closest_negative(b))
        }
        negative = {(a, b) for a, b in itertools.permutations(range(10), 2) if labels[a] != labels[b] and m[a, b] < 2.0}
        self.assertEqual({tuple(p) for p in np.argwhere(np.asarray(pairs.positive)).tolist()}, positive)
        self.assertEqual({tuple(p) for p in np.argwhere(np.asarray(pairs.negative)).tolist()}, negative)

    def test_indexed_triplets_come_from_the_targets(self):
        labels, x = batch(7, n=4)
        miner = IndexedTripletMiner()
        found_labels, targets = miner.split_targets(np.array([[0, 1, 2], [0, 0, 3], [1, 3, 0], [1, 2, 1]]))
        self.assertAllEqual(found_labels, [0, 0, 1, 1])
        mined = miner.mine(Batch(found_labels, x, targets=targets), EUCLIDEAN)
        self.assertEqual(mined_triplets(mined), {(0, 1, 2), (1, 0, 3), (2, 3, 0), (3, 2, 1)})

    def test_a_miner_with_its_own_distance_ignores_the_losss(self):
        labels, x = batch(8)
        own = TripletMarginMiner(0.1, "all", distance=CosineSimilarity())
        self.assertEqual(
            mined_triplets(own.mine(Batch(labels, x), EUCLIDEAN)),
            ref_triplet_margin(labels, matrix(x, CosineSimilarity()), 0.1, "all", True),
        )

    def test_selections_convert_between_pairs_and_triplets(self):
        positive = np.array([[False, True, False], [True, False, False], [False, False, False]])
        negative = np.array([[False, False, True], [False, False, True], [True, True, False]])
        triplets = triplets_of(Pairs(positive, negative))
        self.assertEqual(mined_triplets(triplets), {(0, 1, 2), (1, 0, 2)})
        back = pairs_of(triplets)
        self.assertAllEqual(back.positive, positive)
        self.assertAllEqual(back.negative, [[False, False, True], [False, False, True], [False, False, False]])
        self.assertIsInstance(pairs_of(back), Pairs)
        self.assertIsInstance(triplets_of(triplets), Triplets)

    def test_miners_serialise_inside_a_loss_and_bad_options_are_errors(self):
        loss = TripletLoss(0.3, miner=TripletMarginMiner(0.3, "semihard", distance=CosineSimilarity()))
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        self.assertEqual(restored.miner.get_config(), loss.miner.get_config())
        self.assertEqual(
            get_miner(keras.saving.serialize_keras_object(PairMarginMiner(0.1, 0.9))).get_config(),
            PairMarginMiner(0.1, 0.9).get_config(),
        )
        with self.assertRaisesRegex(TypeError, "miner must be a Miner"):
            get_miner("semihard")
        with self.assertRaisesRegex(ValueError, "type_of_triplets must be one of all, hard, semihard, easy"):
            TripletMarginMiner(type_of_triplets="medium")
