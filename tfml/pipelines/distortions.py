"""Image distortions as TensorFlow ops (graph- and GPU-friendly), with stateless randomness.

Each distortion takes one image, a key and a strength; training pipelines draw a random strength
per image on top (see ``mix_distortions``).

Every random draw is keyed on a seed tensor of shape (2,), made by ``distortion_key(seed, epoch,
index)`` from the run seed, the epoch and the image's index in its data set, so the same image gets
the same distortion in the same epoch of any run, resumed or not.

- ``add_gaussian_noise``: x + N(0, strength^2) per pixel, clipped to [0, 1].
- ``random_projective``: each corner of the image is moved by up to ``strength`` x (height, width)
  in a random direction; the image is warped by the homography that maps the output corners to the
  moved corners (``ImageProjectiveTransformV3``, bilinear), keeping the size; pixels that come from
  outside the image are black (0, 0, 0).

Both work on float images in [0, 1]. ``distort``, ``distort_batch`` and ``mix_distortions`` also
take uint8 images (the pipelines' and models' format) and then return uint8: the distorted image
is rounded to the nearest level, as it would be when saved as a file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from tfml.pipelines.pixels import unit_float

KINDS = ("noise", "projective")


def distortion_key(seed, epoch, index) -> tf.Tensor:
    """Stateless seed (2,) int32 keyed on (seed, epoch, index)."""
    key = tf.random.experimental.stateless_fold_in(
        tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)]), tf.cast(epoch, tf.int64)
    )
    return tf.random.experimental.stateless_fold_in(key, tf.cast(index, tf.int64))


def add_gaussian_noise(image: tf.Tensor, key: tf.Tensor, strength) -> tf.Tensor:
    """One image (H, W, C) in [0, 1] plus Gaussian noise of standard deviation ``strength``, clipped."""
    noise = tf.random.stateless_normal(tf.shape(image), key, dtype=image.dtype) * tf.cast(strength, image.dtype)
    return tf.clip_by_value(image + noise, 0.0, 1.0)


def homography(source_points: tf.Tensor, target_points: tf.Tensor) -> tf.Tensor:
    """The 8 projective parameters [a0, a1, a2, b0, b1, b2, c0, c1] that map each source point (x, y)
    to its target (X, Y): X = (a0 x + a1 y + a2) / (c0 x + c1 y + 1), Y likewise with b.
    source_points, target_points: (4, 2) float32."""
    x, y = source_points[:, 0], source_points[:, 1]
    big_x, big_y = target_points[:, 0], target_points[:, 1]
    zeros, ones = tf.zeros_like(x), tf.ones_like(x)
    rows_x = tf.stack([x, y, ones, zeros, zeros, zeros, -x * big_x, -y * big_x], axis=1)
    rows_y = tf.stack([zeros, zeros, zeros, x, y, ones, -x * big_y, -y * big_y], axis=1)
    matrix = tf.concat([rows_x, rows_y], axis=0)
    rhs = tf.concat([big_x, big_y], axis=0)[:, None]
    return tf.linalg.solve(matrix, rhs)[:, 0]


def random_projective(image: tf.Tensor, key: tf.Tensor, strength) -> tf.Tensor:
    """One image (H, W, C) warped by a random homography whose corners move by up to strength x size;
    same size, black where the warp reaches outside the image."""
    shape = tf.shape(image)
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    corners = tf.stack([[0.0, 0.0], [width - 1, 0.0], [width - 1, height - 1], [0.0, height - 1]])
    shifts = (
        tf.random.stateless_uniform([4, 2], key, -1.0, 1.0) * tf.cast(strength, tf.float32) * tf.stack([width, height])
    )
    transform = homography(corners, corners + shifts)
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(image, tf.float32)[None],
        transforms=transform[None],
        output_shape=shape[:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return tf.cast(warped[0], image.dtype)


DISTORTIONS = {"noise": add_gaussian_noise, "projective": random_projective}


def _in_unit_range(function):
    """Applies ``function`` (on float images in [0, 1]) to a uint8 image too, rounding back to uint8."""

    def apply(image, *args):
        if image.dtype != tf.uint8:
            return function(image, *args)
        distorted = function(unit_float(image), *args)
        return tf.cast(tf.round(tf.clip_by_value(distorted, 0.0, 1.0) * 255.0), tf.uint8)

    return apply


def distort(image: tf.Tensor, key: tf.Tensor, kind: str, strength) -> tf.Tensor:
    """``DISTORTIONS[kind](image, key, strength)``; kind is "noise" or "projective"; float or uint8."""
    if kind not in DISTORTIONS:
        raise ValueError(f"unknown distortion {kind!r}; choose one of {', '.join(KINDS)}")
    return _in_unit_range(DISTORTIONS[kind])(tf.convert_to_tensor(image), key, strength)


def distort_batch(images, kind: str, strength: float, seed: int, epoch: int = 0, first_index: int = 0) -> np.ndarray:
    """Distorts a batch (N, H, W, C), uint8 or float in [0, 1] (returned in the same type); image i
    uses key (seed, epoch, first_index + i)."""
    images = np.asarray(images)
    images = tf.convert_to_tensor(images if images.dtype == np.uint8 else images.astype(np.float32))
    return _distort_in_graph(
        images,
        tf.constant(seed, tf.int64),
        tf.constant(epoch, tf.int64),
        tf.constant(first_index, tf.int64),
        kind,
        tf.constant(strength, tf.float32),
    ).numpy()


@tf.function(reduce_retracing=True)
def _distort_in_graph(images, seed, epoch, first_index, kind, strength):
    return _keyed_map(images, lambda image, key: distort(image, key, kind, strength), seed, epoch, first_index)


def _keyed_map(images, function, seed, epoch, first_index):
    # in a graph, map_fn is one while loop, not a Python loop over images as in eager mode
    indices = tf.range(first_index, first_index + tf.cast(tf.shape(images)[0], tf.int64), dtype=tf.int64)
    keys = tf.map_fn(lambda i: distortion_key(seed, epoch, i), indices, fn_output_signature=tf.int64)
    return tf.map_fn(
        lambda args: function(args[0], args[1]),
        (images, keys),
        fn_output_signature=images.dtype,
        parallel_iterations=16,
    )


def keyed_map(images, function, seed: int, epoch: int = 0, first_index: int = 0) -> np.ndarray:
    """``function(image, key)`` for each image i of a batch (uint8, or float as float32), with key
    distortion_key(seed, epoch, first_index + i), run as one graph (a while loop, not a Python loop)."""
    images = np.asarray(images)
    images = tf.convert_to_tensor(images if images.dtype == np.uint8 else images.astype(np.float32))

    in_graph = tf.function(lambda *args: _keyed_map(args[0], function, *args[1:]))
    return in_graph(
        images, tf.constant(seed, tf.int64), tf.constant(epoch, tf.int64), tf.constant(first_index, tf.int64)
    ).numpy()


def distorted_batches(
    images, kind: str, strength: float, seed: int, batch_size: int = 128, epoch: int = 0
) -> Iterator[np.ndarray]:
    """Python generator over ``images`` in order, yielding distorted batches (same keys as the
    tf.data pipeline: image i of the array uses (seed, epoch, i))."""
    for start in range(0, len(images), batch_size):
        yield distort_batch(images[start : start + batch_size], kind, strength, seed, epoch, start)


@dataclasses.dataclass(frozen=True)
class DistortionSchedule:
    """Linear ramps over ``ramp_epochs`` epochs (then constant) of: the share of training inputs that
    are distorted, and the largest strength of each distortion kind. Each (first, last) pair is the
    value at epoch 0 and from epoch ramp_epochs - 1 on."""

    share: tuple[float, float] = (0.25, 0.75)
    noise: tuple[float, float] = (0.05, 0.3)
    projective: tuple[float, float] = (0.05, 0.25)
    ramp_epochs: int = 10

    def at(self, epoch):
        """{"share", "noise", "projective"} at ``epoch`` (a Python number or a tensor)."""
        progress = tf.minimum(tf.cast(epoch, tf.float32) / float(max(self.ramp_epochs - 1, 1)), 1.0)
        return {
            name: first + (last - first) * progress
            for name, (first, last) in (("share", self.share), ("noise", self.noise), ("projective", self.projective))
        }

    def values(self, epoch: int) -> dict[str, float]:
        return {name: float(value) for name, value in self.at(epoch).items()}


def mix_distortions(image: tf.Tensor, key: tf.Tensor, epoch, schedule: DistortionSchedule) -> tf.Tensor:
    """The training input for one clean image (float or uint8): with probability
    schedule.share(epoch) a distortion (kind uniformly chosen) of strength U(0, 1) x
    schedule.<kind>(epoch), else the image itself."""
    if image.dtype == tf.uint8:
        return _in_unit_range(lambda x: mix_distortions(x, key, epoch, schedule))(image)
    keys = tf.random.experimental.stateless_split(key, 4)
    draws = tf.random.stateless_uniform([3], keys[0])
    now = schedule.at(epoch)
    noisy = lambda: add_gaussian_noise(image, keys[1], draws[2] * now["noise"])  # noqa: E731
    warped = lambda: random_projective(image, keys[2], draws[2] * now["projective"])  # noqa: E731
    distorted = lambda: tf.cond(draws[1] < 0.5, noisy, warped)  # noqa: E731
    return tf.cond(draws[0] < now["share"], distorted, lambda: image)
