"""Embedding networks for metric learning, and Siamese wrappers for explicit pairs and triplets."""

from __future__ import annotations

import keras
from keras import layers

from tfml.models.inputs import image_input


def _conv_bn_relu(x, filters, strides=1):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def build_embedding_net(input_shape=(64, 64, 3), dim: int = 32, normalize: bool = True, filters=(32, 64, 128),
                        name: str = "embedding_net") -> keras.Model:
    """A small CNN: a stride-2 3x3 conv stem, then per entry of ``filters`` a 3x3 conv + batch norm +
    ReLU and a 2x2 max-pool, global average pooling and a linear Dense to ``dim``; L2-normalised
    output when ``normalize``. About 0.1 GFLOP per 64 x 64 image for training."""
    inputs, x = image_input(input_shape)
    x = _conv_bn_relu(x, filters[0], strides=2)
    for f in filters:
        x = _conv_bn_relu(x, f)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(dim, name="embedding")(x)
    if normalize:
        x = layers.UnitNormalization(name="l2_normalize")(x)
    return keras.Model(inputs, x, name=name)


def build_siamese(embedding_net: keras.Model, arity: int) -> keras.Model:
    """(B, arity, H, W, C) -> (B, arity, dim): the same network (shared weights) on each member of a
    pair (arity 2) or triplet (arity 3)."""
    inputs = keras.Input((arity, *embedding_net.input_shape[1:]), dtype=embedding_net.inputs[0].dtype, name="members")
    outputs = layers.TimeDistributed(embedding_net, name="shared")(inputs)
    return keras.Model(inputs, outputs, name=f"siamese_{arity}")
