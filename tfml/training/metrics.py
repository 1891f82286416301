"""Keras metrics used while training (registered, so compiled models reload from .h5)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfml")
def psnr(y_true, y_pred):
    """Peak signal-to-noise ratio per image, 10 log10(1 / MSE), for images in [0, 1]."""
    return tf.image.psnr(tf.cast(y_true, y_pred.dtype), y_pred, max_val=1.0)


@keras.saving.register_keras_serializable(package="tfml")
class PSNR(keras.metrics.MeanMetricWrapper):
    """Mean PSNR (dB) over images in [0, 1]."""

    def __init__(self, name="psnr", dtype=None):
        super().__init__(psnr, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
