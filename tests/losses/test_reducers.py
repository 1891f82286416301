"""Reducers against numpy: mean, mean over non-zero, sum, thresholds, per anchor, class-weighted;
counts of repeated terms; names and serialisation; the per-anchor values Keras reduces."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.losses import (
    AvgNonZeroReducer,
    ClassWeightedReducer,
    ContrastiveLoss,
    MeanReducer,
    PerAnchorReducer,
    SumReducer,
    Terms,
    ThresholdReducer,
    TripletLoss,
    get_reducer,
    reduce_terms,
)


def random_part(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(6, 5)).astype(dtype)
    values[rng.random((6, 5)) < 0.3] = 0.0  # terms at exactly zero, as hinges give
    mask = rng.random((6, 5)) < 0.6
    mask[2] = False  # an anchor without terms
    return values, mask


def total(reducer, part, labels=None):
    return float(tf.reduce_sum(reducer.reduce(part, labels).shares))


class ReducerTest(parameterized.TestCase, TestCase):
    @parameterized.product(seed=[0, 1, 2], dtype=[np.float32, np.float64])
    def test_each_reducer_matches_numpy(self, seed, dtype):
        values, mask = random_part(seed, dtype)
        terms = values[mask].astype(np.float64)
        part = Terms(values, mask)
        tolerance = 1e-5 if dtype == np.float32 else 1e-12
        self.assertAllClose(total(MeanReducer(), part), terms.mean(), rtol=tolerance)
        self.assertAllClose(total(AvgNonZeroReducer(), part), terms[terms > 0].mean(), rtol=tolerance)
        self.assertAllClose(total(SumReducer(), part), terms.sum(), rtol=tolerance)
        self.assertAllClose(
            total(ThresholdReducer(-0.5, 1.0), part), terms[(terms > -0.5) & (terms < 1.0)].mean(), rtol=tolerance
        )
        self.assertAllClose(total(ThresholdReducer(high=0.2), part), terms[terms < 0.2].mean(), rtol=tolerance)
        per_anchor = [values[a][mask[a]].astype(np.float64).mean() if mask[a].any() else 0.0 for a in range(6)]
        self.assertAllClose(total(PerAnchorReducer(), part), np.mean(per_anchor), rtol=tolerance)
        self.assertAllClose(
            total(PerAnchorReducer(AvgNonZeroReducer()), part),
            np.mean([v for v in per_anchor if v > 0]),
            rtol=tolerance,
        )
        labels = np.array([0, 1, 2, 0, 1, 2])
        weights = np.array([0.5, 2.0, 1.0])
        weighted = (values * weights[labels][:, None])[mask]
        self.assertAllClose(total(ClassWeightedReducer(weights), part, labels), weighted.mean(), rtol=tolerance)

    def test_counts_make_a_term_count_as_often_as_it_was_drawn(self):
        values, mask = random_part(3)
        count = np.random.default_rng(3).integers(1, 4, size=values.shape)
        expected = np.repeat(values[mask], count[mask])
        self.assertAllClose(total(MeanReducer(), Terms(values, mask, count)), expected.mean())
        self.assertAllClose(total(AvgNonZeroReducer(), Terms(values, mask, count)), expected[expected > 0].mean())
        self.assertAllClose(total(SumReducer(), Terms(values, mask, count)), expected.sum())

    def test_a_part_without_terms_is_zero_and_parts_add_with_their_weights(self):
        empty = Terms(np.ones((3, 2)), np.zeros((3, 2), bool))
        for reducer in (MeanReducer(), AvgNonZeroReducer(), SumReducer(), ThresholdReducer(0.0, 2.0)):
            self.assertEqual(total(reducer, empty), 0.0)
        values, mask = random_part(4)
        per_anchor, valid = reduce_terms(
            {"a": Terms(values, mask, weight=0.5), "b": Terms(values, mask, weight=2.0)}, MeanReducer()
        )
        self.assertAllClose(per_anchor.numpy()[valid.numpy()].mean(), 2.5 * values[mask].mean())
        self.assertAllEqual(valid, mask.any(axis=1))

    def test_names_serialisation_and_errors(self):
        self.assertIsInstance(get_reducer("mean_nonzero"), AvgNonZeroReducer)
        self.assertIsInstance(get_reducer("sum"), SumReducer)
        loss = ContrastiveLoss(reducer=PerAnchorReducer(ThresholdReducer(0.1, 3.0)))
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        self.assertIsInstance(restored.reducer, PerAnchorReducer)
        self.assertEqual(restored.reducer.reducer.get_config(), {"low": 0.1, "high": 3.0})
        self.assertEqual(TripletLoss(reducer="mean_nonzero").get_config()["reducer"], "mean_nonzero")
        with self.assertRaisesRegex(ValueError, "reducer must be one of mean, mean_nonzero, sum"):
            get_reducer("median")
        with self.assertRaisesRegex(ValueError, "needs low, high or both"):
            ThresholdReducer()
        with self.assertRaisesRegex(ValueError, "needs class labels"):
            ClassWeightedReducer([1.0]).reduce(Terms(np.ones((1, 1)), np.ones((1, 1), bool)), None)

    def test_a_threshold_reducer_inside_a_loss(self):
        rng = np.random.default_rng(5)
        labels, x = rng.integers(0, 3, 12), rng.normal(size=(12, 3))
        d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
        terms = [
            max(d[a, p] - d[a, n] + 0.5, 0.0)
            for a in range(12)
            for p in range(12)
            for n in range(12)
            if a != p and labels[a] == labels[p] and labels[n] != labels[a]
        ]
        terms = np.array(terms)
        loss = TripletLoss(0.5, reducer=ThresholdReducer(0.1, 1.5), dtype="float64")
        self.assertAllClose(loss(labels, x), terms[(terms > 0.1) & (terms < 1.5)].mean())
