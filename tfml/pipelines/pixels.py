"""The one conversion of images from uint8 pixels to floats in [0, 1], and its numpy twin.

Images stay uint8 (RGB, 0-255) from decoding to the model; a tfml image model converts them in its
first layer, a ``Rescaling`` by ``UNIT_SCALE`` (``tfml.models.image_input``). Outside a model,
images become floats in one way only: ``unit_float`` (TensorFlow: an autoencoder's reconstruction
targets, distortions, TensorBoard images) or ``unit_float_array`` (numpy: baselines on raw pixels,
channel statistics).

>>> unit_float_array(np.array([0, 51, 255], np.uint8)).tolist()
[0.0, 0.20000000298023224, 1.0]
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def unit_float(images) -> tf.Tensor:
    """uint8 [0, 255] -> float32 [0, 1]: each value divided by 255."""
    return tf.cast(images, tf.float32) / 255.0


def unit_float_array(images, dtype=np.float32) -> np.ndarray:
    """The numpy twin of ``unit_float``: uint8 [0, 255] -> ``dtype`` [0, 1], each value divided by 255."""
    return np.asarray(images, dtype) / 255.0


UNIT_SCALE = float(unit_float_array(1, np.float64))
"""The factor of the models' Rescaling layer: the conversion of a pixel of value 1."""
