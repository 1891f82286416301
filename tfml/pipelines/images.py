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
