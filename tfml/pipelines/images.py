"""tf.data builders for image arrays."""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf


def reconstruction_dataset(
    images: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    input_map: Callable[[tf.Tensor], tf.Tensor] | None = None,
) -> tf.data.Dataset:
    """(input, target) batches for an autoencoder: target = the image, input = input_map(image) or
    the image itself. Shuffling is seeded and reshuffled each epoch; the last batch may be smaller.
    """
    dataset = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if input_map is None:
        dataset = dataset.map(lambda x: (x, x))
    else:
        dataset = dataset.map(lambda x: (input_map(x), x), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def epoch_keyed_reconstruction_dataset(
    images: np.ndarray,
    batch_size: int,
    seed: int,
    epochs: int,
    initial_epoch: int = 0,
    input_map: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
) -> tf.data.Dataset:
    """(input, target) batches of epochs initial_epoch .. epochs - 1 one after another, for
    ``fit(steps_per_epoch=ceil(len(images) / batch_size))``. Everything random is keyed on
    (seed, epoch[, image index]): each epoch's order is a stateless shuffle, and
    input = input_map(image, distortion_key(seed, epoch, index), epoch) or the image itself, so a
    resumed run sees exactly the batches of an uninterrupted one. uint8 images are scaled to [0, 1]
    per batch (cache them as uint8 to keep memory small)."""
    from tfml.pipelines.distortions import distortion_key

    images = tf.constant(images)
    count = int(images.shape[0])

    def to_float(image):
        return tf.cast(image, tf.float32) / 255.0 if image.dtype == tf.uint8 else tf.cast(image, tf.float32)

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), distortion_key(seed, epoch, -1))

        def example(index):
            clean = to_float(tf.gather(images, index))
            if input_map is None:
                return clean, clean
            return input_map(clean, distortion_key(seed, epoch, index), epoch), clean

        return tf.data.Dataset.from_tensor_slices(order).map(example, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)

    batches = max(epochs - initial_epoch, 0) * -(-count // batch_size)
    dataset = tf.data.Dataset.range(initial_epoch, epochs).flat_map(one_epoch)
    return dataset.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)
