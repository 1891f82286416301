"""Distortions as keyed TensorFlow ops: noise, projective warps, schedules, mixing."""

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TestCase
from tfml.pipelines.distortions import (
    DistortionSchedule,
    add_gaussian_noise,
    distort,
    distort_batch,
    distorted_batches,
    distortion_key,
    homography,
    mix_distortions,
    random_projective,
)


def key(i=0):
    return distortion_key(0, 0, i)


class DistortionsTest(TestCase):
    """The distortions and their keys."""

    def test_noise_has_the_requested_standard_deviation_and_stays_in_range(self):
        grey = tf.fill([64, 64, 3], 0.5)
        for strength in (0.02, 0.1):
            noisy = add_gaussian_noise(grey, key(), strength).numpy()
            assert noisy.min() >= 0 and noisy.max() <= 1
            assert np.std(noisy - 0.5) == pytest.approx(strength, rel=0.05)
        clipped = add_gaussian_noise(tf.ones([8, 8, 3]), key(), 0.5).numpy()
        assert clipped.max() == 1.0 and clipped.min() >= 0.0

    def test_homography_maps_each_source_point_to_its_target(self):
        source = np.array([[0, 0], [31, 0], [31, 31], [0, 31]], np.float32)
        target = source + np.array([[2, -1], [-3, 1.5], [0.5, 2], [-1, -2]], np.float32)
        a0, a1, a2, b0, b1, b2, c0, c1 = homography(tf.constant(source), tf.constant(target)).numpy()
        for (x, y), (tx, ty) in zip(source, target):
            w = c0 * x + c1 * y + 1
            assert (a0 * x + a1 * y + a2) / w == pytest.approx(tx, abs=1e-3)
            assert (b0 * x + b1 * y + b2) / w == pytest.approx(ty, abs=1e-3)

    def test_projective_with_zero_strength_is_the_identity(self):
        image = tf.random.stateless_uniform([32, 32, 3], [1, 2])
        np.testing.assert_allclose(random_projective(image, key(), 0.0), image, atol=1e-5)

    def test_projective_keeps_the_size_and_fills_uncovered_pixels_with_black(self):
        white = tf.ones([32, 32, 3])
        black_counts = []
        for i in range(8):
            warped = random_projective(white, key(i), 0.25).numpy()
            assert warped.shape == (32, 32, 3)
            black_counts.append(int((warped.max(axis=2) == 0).sum()))
            # only white, black or their blend along the border: grey levels, never colours
            np.testing.assert_allclose(warped[..., 0], warped[..., 1])
        assert max(black_counts) > 20
        assert not np.array_equal(random_projective(white, key(0), 0.25), random_projective(white, key(1), 0.25))

    def test_randomness_is_keyed_on_seed_epoch_and_index(self):
        images = np.random.default_rng(0).uniform(size=(6, 16, 16, 3)).astype(np.float32)
        for kind in ("noise", "projective"):
            a = distort_batch(images, kind, 0.2, seed=1, epoch=2)
            np.testing.assert_array_equal(a, distort_batch(images, kind, 0.2, seed=1, epoch=2))
            assert not np.array_equal(a, distort_batch(images, kind, 0.2, seed=1, epoch=3))
            assert not np.array_equal(a, distort_batch(images, kind, 0.2, seed=2, epoch=2))
            # image i is keyed on its index: a slice starting at 3 gives the same images 3..5
            np.testing.assert_array_equal(a[3:], distort_batch(images[3:], kind, 0.2, seed=1, epoch=2, first_index=3))
            batches = list(distorted_batches(images, kind, 0.2, seed=1, batch_size=4, epoch=2))
            np.testing.assert_array_equal(np.concatenate(batches), a)

    def test_distortions_are_graph_ops_without_python_functions(self):
        @tf.function
        def graph(image, k):
            return distort(image, k, "noise", 0.1), distort(image, k, "projective", 0.2)

        concrete = graph.get_concrete_function(tf.TensorSpec([32, 32, 3], tf.float32), tf.TensorSpec([2], tf.int64))
        op_types = {op.type for op in concrete.graph.get_operations()}
        assert "ImageProjectiveTransformV3" in op_types
        assert not op_types & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}
        with pytest.raises(ValueError, match="unknown distortion 'blur'"):
            distort(tf.zeros([4, 4, 3]), key(), "blur", 0.1)

    def test_schedule_ramps_linearly_then_stays(self):
        schedule = DistortionSchedule(share=(0.2, 0.8), noise=(0.0, 0.3), projective=(0.1, 0.1), ramp_epochs=4)
        assert schedule.values(0) == pytest.approx({"share": 0.2, "noise": 0.0, "projective": 0.1})
        assert schedule.values(1) == pytest.approx({"share": 0.4, "noise": 0.1, "projective": 0.1})
        assert (
            schedule.values(3) == schedule.values(9) == pytest.approx({"share": 0.8, "noise": 0.3, "projective": 0.1})
        )

    def test_mixing_share_zero_is_clean_and_share_one_distorts_everything(self):
        images = tf.random.stateless_uniform([20, 16, 16, 3], [0, 1])
        clean = DistortionSchedule(share=(0.0, 0.0), ramp_epochs=1)
        always = DistortionSchedule(share=(1.0, 1.0), noise=(0.3, 0.3), projective=(0.3, 0.3), ramp_epochs=1)
        for i in range(20):
            np.testing.assert_array_equal(mix_distortions(images[i], key(i), 0, clean), images[i])
        changed = [
            not np.allclose(mix_distortions(images[i], key(i), 0, always), images[i], atol=1e-3) for i in range(20)
        ]
        assert sum(changed) >= 18  # a drawn strength near 0 may leave an image almost unchanged

    def test_uint8_images_are_distorted_in_unit_range_and_rounded(self):
        images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3)).astype(np.uint8)
        for kind in ("noise", "projective"):
            as_uint8 = distort_batch(images, kind, 0.2, seed=1)
            as_float = distort_batch(images.astype(np.float32) / 255, kind, 0.2, seed=1)
            assert as_uint8.dtype == np.uint8
            np.testing.assert_array_equal(as_uint8, np.round(np.clip(as_float, 0, 1) * 255).astype(np.uint8))
