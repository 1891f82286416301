"""Batch normalisation on TensorFlow's fused kernel.

Keras 3's ``BatchNormalization`` computes moments and normalises in separate ops on the TensorFlow
backend; ``FusedBatchNormalization`` does the same in one ``FusedBatchNormV3`` op for 4-D NHWC
inputs, which makes a small CNN's training step about 1.7x faster on CPU (``benchmarks/train_speed.py``).
In training it normalises with the batch mean and (biased) variance, like Keras's layer; the moving
averages take the unbiased batch variance, like PyTorch's BatchNorm2d (Keras's layer averages the
biased one). Other inputs fall back to Keras's computation. Same weights and config as
``keras.layers.BatchNormalization``.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfml")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` (channels last) on the fused kernel; see the module docstring."""

    def call(self, inputs, training=None, mask=None):
        if inputs.shape.rank != 4 or self.axis not in (-1, 3) or inputs.dtype != tf.float32 or mask is not None:
            return super().call(inputs, training=training, mask=mask)
        if training and self.trainable:
            outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                self._scale(),
                self._offset(),
                mean=self.moving_mean,
                variance=self.moving_variance,
                epsilon=self.epsilon,
                is_training=True,
                exponential_avg_factor=1.0 - self.momentum,
            )
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
            return outputs
        outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            self._scale(),
            self._offset(),
            mean=self.moving_mean,
            variance=self.moving_variance,
            epsilon=self.epsilon,
            is_training=False,
        )
        return outputs

    def _scale(self):
        return self.gamma if self.scale else tf.ones(self.moving_mean.shape, tf.float32)

    def _offset(self):
        return self.beta if self.center else tf.zeros(self.moving_mean.shape, tf.float32)
