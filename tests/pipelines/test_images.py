"""Reconstruction batches: uint8 inputs, unit-float targets, keyed distortions, exact resume."""

import numpy as np

from tests.helpers import TestCase
from tfml.pipelines.distortions import distort, distort_batch
from tfml.pipelines.images import reconstruction_batches


class ReconstructionBatchesTest(TestCase):
    """reconstruction_batches."""

    def test_epoch_keyed_pipeline_matches_the_generator_and_resumes_identically(self):
        images = (np.arange(10)[:, None, None, None] * 20 + np.zeros((10, 8, 8, 3))).astype(np.uint8)
        noisy = lambda image, k, epoch: distort(image, k, "noise", 0.1)  # noqa: E731
        stream = reconstruction_batches(images, 4, seed=3, epochs=2, input_map=noisy)
        full = list(stream(0, 0))
        assert len(full) == 6 and stream.steps_per_epoch == 3  # 3 batches per epoch, the last one of 2 images
        for first_epoch, first_step in ((1, 0), (1, 1), (0, 2)):
            resumed = list(stream(first_epoch, first_step))
            skipped = first_epoch * 3 + first_step
            assert len(resumed) == 6 - skipped
            for (a_in, a_out), (b_in, b_out) in zip(full[skipped:], resumed):
                np.testing.assert_array_equal(a_in, b_in)
                np.testing.assert_array_equal(a_out, b_out)
        expected = distort_batch(images, "noise", 0.1, seed=3, epoch=1)
        epoch_one_inputs = np.concatenate([batch[0] for batch in full[3:]])
        epoch_one_targets = np.concatenate([batch[1] for batch in full[3:]])
        assert epoch_one_inputs.dtype == np.uint8 and epoch_one_targets.dtype == np.float32  # targets in [0, 1]
        order = np.rint(epoch_one_targets[:, 0, 0, 0] * 255 / 20).astype(int)
        assert sorted(order.tolist()) == list(range(10))
        assert order.tolist() != list(range(10))  # shuffled
        np.testing.assert_array_equal(epoch_one_inputs, expected[order])
        first_epoch_order = np.rint(np.concatenate([b[1] for b in full[:3]])[:, 0, 0, 0] * 255 / 20).astype(int)
        assert first_epoch_order.tolist() != order.tolist()  # a new order each epoch
