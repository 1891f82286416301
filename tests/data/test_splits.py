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
