import numpy as np
import pytest
import tensorflow as tf

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
from tfml.pipelines.images import reconstruction_batches


def key(i=0):
    return distortion_key(0, 0, i)


def test_noise_has_the_requested_standard_deviation_and_stays_in_range():
    grey = tf.fill([64, 64, 3], 0.5)
    for strength in (0.02, 0.1):
        noisy = add_gaussian_noise(grey, key(), strength).numpy()
        assert noisy.min() >= 0 and noisy.max() <= 1
        assert np.std(noisy - 0.5) == pytest.approx(strength, rel=0.05)
    clipped = add_gaussian_noise(tf.ones([8, 8, 3]), key(), 0.5).numpy()
    assert clipped.max() == 1.0 and clipped.min() >= 0.0


def test_homography_maps_each_source_point_to_its_target():
    source = np.array([[0, 0], [31, 0], [31, 31], [0, 31]], np.float32)
    target = source + np.array([[2, -1], [-3, 1.5], [0.5, 2], [-1, -2]], np.float32)
    a0, a1, a2, b0, b1, b2, c0, c1 = homography(tf.constant(source), tf.constant(target)).numpy()
    for (x, y), (tx, ty) in zip(source, target):
        w = c0 * x + c1 * y + 1
        assert (a0 * x + a1 * y + a2) / w == pytest.approx(tx, abs=1e-3)
        assert (b0 * x + b1 * y + b2) / w == pytest.approx(ty, abs=1e-3)


def test_projective_with_zero_strength_is_the_identity():
    image = tf.random.stateless_uniform([32, 32, 3], [1, 2])
    np.testing.assert_allclose(random_projective(image, key(), 0.0), image, atol=1e-5)


def test_projective_keeps_the_size_and_fills_uncovered_pixels_with_black():
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


def test_randomness_is_keyed_on_seed_epoch_and_index():
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


def test_distortions_are_graph_ops_without_python_functions():
    @tf.function
    def graph(image, k):
        return distort(image, k, "noise", 0.1), distort(image, k, "projective", 0.2)

    concrete = graph.get_concrete_function(tf.TensorSpec([32, 32, 3], tf.float32), tf.TensorSpec([2], tf.int64))
    op_types = {op.type for op in concrete.graph.get_operations()}
    assert "ImageProjectiveTransformV3" in op_types
    assert not op_types & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}
    with pytest.raises(ValueError, match="unknown distortion 'blur'"):
        distort(tf.zeros([4, 4, 3]), key(), "blur", 0.1)


def test_schedule_ramps_linearly_then_stays():
    schedule = DistortionSchedule(share=(0.2, 0.8), noise=(0.0, 0.3), projective=(0.1, 0.1), ramp_epochs=4)
    assert schedule.values(0) == pytest.approx({"share": 0.2, "noise": 0.0, "projective": 0.1})
    assert schedule.values(1) == pytest.approx({"share": 0.4, "noise": 0.1, "projective": 0.1})
    assert schedule.values(3) == schedule.values(9) == pytest.approx({"share": 0.8, "noise": 0.3, "projective": 0.1})


def test_mixing_share_zero_is_clean_and_share_one_distorts_everything():
    images = tf.random.stateless_uniform([20, 16, 16, 3], [0, 1])
    clean = DistortionSchedule(share=(0.0, 0.0), ramp_epochs=1)
    always = DistortionSchedule(share=(1.0, 1.0), noise=(0.3, 0.3), projective=(0.3, 0.3), ramp_epochs=1)
    for i in range(20):
        np.testing.assert_array_equal(mix_distortions(images[i], key(i), 0, clean), images[i])
    changed = [not np.allclose(mix_distortions(images[i], key(i), 0, always), images[i], atol=1e-3) for i in range(20)]
    assert sum(changed) >= 18  # a drawn strength near 0 may leave an image almost unchanged


def test_epoch_keyed_pipeline_matches_the_generator_and_resumes_identically():
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


def test_uint8_images_are_distorted_in_unit_range_and_rounded():
    images = np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3)).astype(np.uint8)
    for kind in ("noise", "projective"):
        as_uint8 = distort_batch(images, kind, 0.2, seed=1)
        as_float = distort_batch(images.astype(np.float32) / 255, kind, 0.2, seed=1)
        assert as_uint8.dtype == np.uint8
        np.testing.assert_array_equal(as_uint8, np.round(np.clip(as_float, 0, 1) * 255).astype(np.uint8))
