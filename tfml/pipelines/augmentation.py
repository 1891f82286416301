"""Training augmentations as stateless TensorFlow ops on one uint8 image, keyed like the distortions
(``distortion_key(seed, epoch, index)``), so a resumed run augments exactly as an uninterrupted one.

- ``pad_and_crop``: pad ``padding`` black pixels on every side, then take a random crop of the
  original size (the usual CIFAR "random crop with 4-px padding").
- ``horizontal_flip``: mirror left-right with probability 1/2.
"""

from __future__ import annotations

import tensorflow as tf


def pad_and_crop(image: tf.Tensor, key: tf.Tensor, padding: int) -> tf.Tensor:
    """A random (H, W) window of the image padded by ``padding`` black pixels on each side."""
    if padding == 0:
        return image
    shape = tf.shape(image)
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    offset = tf.random.stateless_uniform([2], key, 0, 2 * padding + 1, dtype=tf.int32)
    return tf.slice(padded, tf.stack([offset[0], offset[1], 0]), shape)


def horizontal_flip(image: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
    """The image mirrored left-right with probability 1/2."""
    flip = tf.random.stateless_uniform([], key) < 0.5
    return tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)


def augment(image: tf.Tensor, key: tf.Tensor, padding: int = 0, flip: bool = False) -> tf.Tensor:
    """pad_and_crop then, if ``flip``, horizontal_flip, with independent keys split from ``key``."""
    crop_key, flip_key = tf.unstack(tf.random.experimental.stateless_split(key, 2))
    image = pad_and_crop(image, crop_key, padding)
    return horizontal_flip(image, flip_key) if flip else image
