"""Embedding networks for metric learning, and Siamese wrappers for explicit pairs and triplets."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from tfml.models.batch_norm import FusedBatchNormalization
from tfml.models.inputs import image_input
from tfml.pipelines.pixels import unit_float_array

NETWORKS = {
    # pytorch-metric-learning reference: 4 x [conv 3x3 (no bias), BN, ReLU, max-pool 2], 398,080 weights at d = 32
    "reference": {"filters": (32, 64, 128, 256), "stem": False},
    # tfml's first network: a stride-2 conv stem, then 3 x [conv, BN, ReLU, max-pool], 107k parameters
    "small": {"filters": (32, 64, 128), "stem": True},
}


def channel_statistics(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and variance of uint8 images scaled to [0, 1] (what a Normalization layer's
    ``adapt`` computes), for ``build_embedding_net(standardize=...)``."""
    pixels = unit_float_array(images, np.float64).reshape(-1, np.shape(images)[-1])
    return pixels.mean(axis=0), pixels.var(axis=0)


def build_embedding_net(
    input_shape=(64, 64, 3),
    dim: int = 32,
    normalize: bool = True,
    network: str = "reference",
    standardize: tuple[np.ndarray, np.ndarray] | None = None,
    name: str = "embedding_net",
) -> keras.Model:
    """uint8 image -> embedding (dim,). ``network``: "reference" (4 conv blocks of 32/64/128/256
    channels, as pytorch-metric-learning's benchmark network) or "small" (a stride-2 stem and 3
    blocks of 32/64/128). Each block: 3x3 conv without bias, batch norm (the fused kernel), ReLU,
    2x2 max-pool; then global average pooling and a linear Dense to ``dim``, L2-normalised when
    ``normalize``. ``standardize`` = (mean, variance) per channel of the training images (see
    ``channel_statistics``) adds a Normalization layer after the scaling, saved in the model."""
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    spec = NETWORKS[network]
    inputs, x = image_input(input_shape)
    if standardize is not None:
        mean, variance = standardize
        x = layers.Normalization(
            mean=np.asarray(mean, np.float32), variance=np.asarray(variance, np.float32), name="standardize"
        )(x)
    if spec["stem"]:
        x = _conv_bn_relu(x, spec["filters"][0], strides=2)
    for filters in spec["filters"]:
        x = _conv_bn_relu(x, filters)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(dim, name="embedding")(x)
    if normalize:
        x = layers.UnitNormalization(name="l2_normalize")(x)
    return keras.Model(inputs, x, name=name)


def _conv_bn_relu(x, filters, strides=1):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)(x)  # PyTorch's BatchNorm2d defaults
    return layers.ReLU()(x)


def build_siamese(embedding_net: keras.Model, arity: int) -> keras.Model:
    """(B, arity, H, W, C) -> (B, arity, dim): the same network (shared weights) on each member of a
    pair (arity 2) or triplet (arity 3)."""
    inputs = keras.Input((arity, *embedding_net.input_shape[1:]), dtype=embedding_net.inputs[0].dtype, name="members")
    outputs = layers.TimeDistributed(embedding_net, name="shared")(inputs)
    return keras.Model(inputs, outputs, name=f"siamese_{arity}")
