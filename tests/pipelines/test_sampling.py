"""P x K batches, offline pairs and triplets, random in-batch triplets, the labelled batch stream."""

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TestCase
from tfml.pipelines import random_in_batch_triplets
from tfml.pipelines.sampling import labelled_batches, offline_pairs, offline_triplets, pk_indices, shuffled_order

LABELS = np.array([0] * 10 + [1] * 3 + [2] * 6 + [3] * 1)


class SamplingTest(TestCase):
    """pk_indices, offline pairs and triplets, shuffled_order."""

    def test_pk_batches_hold_p_classes_with_k_images_each(self):
        batches = pk_indices(LABELS, 3, 4, n_batches=50, seed=0)
        assert batches.shape == (50, 12)
        for row in batches:
            groups = LABELS[row].reshape(3, 4)
            assert len(set(groups[:, 0])) == 3 and (groups == groups[:, :1]).all()
            for group, indices in zip(groups, row.reshape(3, 4)):
                if (LABELS == group[0]).sum() >= 4:
                    assert len(set(indices)) == 4  # without replacement when the class is large enough
        # class 3 has one image and class 1 three: sampled with replacement
        small = [row for row in batches if 3 in LABELS[row]]
        assert small and all((row[LABELS[row] == 3] == 19).all() for row in small)
        np.testing.assert_array_equal(pk_indices(LABELS, 3, 4, 50, seed=0), batches)
        assert not np.array_equal(pk_indices(LABELS, 3, 4, 50, seed=0, epoch=1), batches)
        with pytest.raises(ValueError, match="P=5 classes per batch, but the labels hold only 4"):
            pk_indices(LABELS, 5, 2, 1, seed=0)

    def test_offline_pairs_are_half_positive_and_correct(self):
        pairs, similar = offline_pairs(LABELS, 101, seed=1)
        assert pairs.shape == (101, 2) and similar.sum() == 50
        same = LABELS[pairs[:, 0]] == LABELS[pairs[:, 1]]
        np.testing.assert_array_equal(same, similar == 1)
        assert (pairs[similar == 1, 0] != pairs[similar == 1, 1]).all()
        assert 3 not in LABELS[pairs[similar == 1, 0]]  # a one-image class has no positive pair

    def test_offline_triplets_are_valid(self):
        triplets = offline_triplets(LABELS, 200, seed=2)
        a, p, n = LABELS[triplets[:, 0]], LABELS[triplets[:, 1]], LABELS[triplets[:, 2]]
        assert (a == p).all() and (a != n).all() and (triplets[:, 0] != triplets[:, 1]).all()

    def test_degenerate_labels_are_clear_errors(self):
        with pytest.raises(ValueError, match="no class has two images"):
            offline_triplets(np.arange(5), 3, seed=0)
        with pytest.raises(ValueError, match="a single class"):
            offline_pairs(np.zeros(5), 4, seed=0)

    def test_shuffled_order_is_a_seeded_permutation_per_epoch(self):
        indices, targets = shuffled_order(np.arange(103), np.arange(103) * 2, seed=3)(1)
        assert sorted(indices.tolist()) == list(range(103)) and (targets == indices * 2).all()
        np.testing.assert_array_equal(indices, shuffled_order(np.arange(103), np.arange(103), seed=3)(1)[0])
        assert not np.array_equal(indices, shuffled_order(np.arange(103), np.arange(103), seed=3)(2)[0])


class LabelledBatchesTest(TestCase):
    """The tf.data stream of (images, targets) batches that every metric-learning study trains on."""

    def test_uint8_and_the_pair_structure_are_kept(self):
        images = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1) * np.ones((1, 2, 2, 3), np.uint8)
        pairs, similar = offline_pairs(LABELS, 8, seed=0)
        stream = labelled_batches(images, lambda epoch: (pairs, similar), batch_size=8, epochs=1, seed=0)
        ((x, y),) = list(stream())
        self.assertEqual(x.shape, (8, 2, 2, 2, 3))
        self.assertEqual(x.dtype, tf.uint8)
        self.assertAllEqual(x[:, :, 0, 0, 0], pairs)
        self.assertAllEqual(y, similar)

    def test_augmented_batches_are_keyed_and_resume_identically(self):
        images = np.random.default_rng(0).integers(0, 256, (30, 8, 8, 3)).astype(np.uint8)
        order = shuffled_order(np.arange(30), np.arange(30), seed=4)
        stream = labelled_batches(images, order, batch_size=7, epochs=2, seed=4, padding=2, flip=True)
        self.assertEqual(stream.steps_per_epoch, 4)  # 30 // 7, the rest sits the epoch out
        full = [x for x, _ in stream()]
        resumed = [x for x, _ in stream(1, 2)]
        for a, b in zip(full[6:], resumed):
            self.assertAllEqual(a, b)
        ((x, y),) = list(labelled_batches(images, order, 30, 1, seed=4, padding=2, flip=True)())
        crops_or_flips = [not np.array_equal(x[i], images[y[i]]) for i in range(30)]
        self.assertGreater(sum(crops_or_flips), 20)  # most images moved or mirrored
        ((plain, targets),) = list(labelled_batches(images, order, 30, 1, seed=4)())
        self.assertAllEqual(plain, images[targets])  # no augmentation


class RandomInBatchTripletsTest(TestCase):
    def test_picks_are_a_positive_and_a_negative_of_each_anchor_and_seeded(self):
        labels = np.repeat(np.arange(8), 4).reshape(2, 16)
        picks = random_in_batch_triplets(labels, seed=5, epoch=2)
        self.assertEqual(picks.shape, (2, 16, 2))
        for b in range(2):
            for a in range(16):
                p, n = picks[b, a]
                self.assertNotEqual(p, a)
                self.assertEqual(labels[b, p], labels[b, a])
                self.assertNotEqual(labels[b, n], labels[b, a])
        self.assertAllEqual(picks, random_in_batch_triplets(labels, seed=5, epoch=2))
        self.assertNotAllEqual(picks, random_in_batch_triplets(labels, seed=5, epoch=3))
        # every positive of a class of four is drawn, over many epochs
        drawn = {int(random_in_batch_triplets(labels, seed=5, epoch=e)[0, 0, 0]) for e in range(40)}
        self.assertEqual(drawn, {1, 2, 3})
        with self.assertRaisesRegex(ValueError, "need a positive and a negative"):
            random_in_batch_triplets(np.array([[0, 1, 2, 3]]), seed=0)
