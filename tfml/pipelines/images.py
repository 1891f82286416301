"""Image batches for training: uint8 images in, the model converts them.

Images stay uint8 (RGB, 0-255) from decoding to the model; every tfml image model starts with a
``Rescaling`` layer (``tfml.models.image_input``), so a saved model says what it expects. The
one float image outside a model is a reconstruction target (an autoencoder's loss compares floats
in [0, 1]), made by ``tfml.pipelines.pixels.unit_float``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfml.pipelines.batches import BatchStream, seeded_permutation
from tfml.pipelines.distortions import distortion_key
from tfml.pipelines.pixels import unit_float


def reconstruction_batches(
    images: np.ndarray,
    batch_size: int,
    seed: int,
    epochs: int,
    input_map: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
) -> BatchStream:
    """(input, target) batches for an autoencoder: each epoch a seeded permutation of ``images``
    (uint8), the last batch possibly smaller; target = unit_float(image), input = the uint8 image
    or ``input_map(image, distortion_key(seed, epoch, index), epoch)`` (uint8 in, uint8 out)."""
    pixels = tf.constant(images)

    def example(index, epoch):
        image = tf.gather(pixels, index)
        source = image if input_map is None else input_map(image, distortion_key(seed, epoch, index), epoch)
        return source, unit_float(image)

    return BatchStream(seeded_permutation(len(images), seed), example, batch_size, epochs, drop_remainder=False)


def reconstruction_pairs(
    inputs: np.ndarray, targets: np.ndarray | None = None, batch_size: int = 256
) -> tf.data.Dataset:
    """Fixed (input, unit_float(target)) batches in order, for validation (targets default to inputs)."""
    targets = inputs if targets is None else targets
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size)
    return dataset.map(lambda x, y: (x, unit_float(y))).prefetch(tf.data.AUTOTUNE)
