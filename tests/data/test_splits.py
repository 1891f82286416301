"""Seeded, class-stratified splits."""

import numpy as np
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.data import stratified_split


class StratifiedSplitTest(parameterized.TestCase, TestCase):
    """stratified_split."""

    @parameterized.parameters(0.1, 30)
    def test_stratified_split_is_seeded_disjoint_and_keeps_class_shares(self, holdout):
        labels = np.repeat(np.arange(3), 100)
        kept, held = stratified_split(labels, holdout, seed=5)
        assert len(held) == 30 and len(kept) == 270
        assert set(kept).isdisjoint(held) and len(set(kept) | set(held)) == 300
        assert np.bincount(labels[held]).tolist() == [10, 10, 10]
        np.testing.assert_array_equal(stratified_split(labels, holdout, seed=5)[1], held)
        assert not np.array_equal(stratified_split(labels, holdout, seed=6)[1], held)

    def test_splits_that_cannot_be_made_say_why(self):
        labels = np.array([0] * 5 + [1])
        with self.assertRaisesRegex(ValueError, "class b has only 1 item: a stratified split needs at least 2"):
            stratified_split(labels, 0.5, seed=0, class_names=["a", "b"])
        labels = np.repeat(np.arange(10), 3)
        with self.assertRaisesRegex(ValueError, "held-out part of 3 of 30 items cannot hold every one of the 10"):
            stratified_split(labels, 0.1, seed=0)
        with self.assertRaisesRegex(ValueError, "hold out between 10 and 20 items"):
            stratified_split(labels, 5000, seed=0)  # e.g. a validation size meant for the full data set
