"""Embedding networks for metric learning, and Siamese wrappers for explicit pairs and triplets."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
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


@keras.saving.register_keras_serializable(package="tfml")
class ColourHistogram(layers.Layer):
    """Images in [0, 1] (B, H, W, 3) -> joint RGB histograms (B, bins^3), each summing to 1: the
    pixel value p = round(255 x) of each channel falls in cell floor(p bins / 256); with
    ``square_root`` each share is square-rooted (then Euclidean distance is Hellinger's).

    >>> import numpy as np
    >>> ColourHistogram(2)(np.array([[[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]]], np.float32)).numpy().tolist()
    [[0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]]
    """

    def __init__(self, bins: int = 4, square_root: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= int(bins) <= 256:
            raise ValueError(f"bins must be in 1 .. 256, got {bins}")
        self.bins, self.square_root = int(bins), bool(square_root)

    def call(self, images):
        images = tf.convert_to_tensor(images)
        cells = tf.cast(tf.round(images * 255.0), tf.int32) * self.bins // 256
        codes = (cells[..., 0] * self.bins + cells[..., 1]) * self.bins + cells[..., 2]
        codes = tf.reshape(codes, [tf.shape(codes)[0], -1])
        cells_total = self.bins**3
        counts = tf.cast(tf.math.bincount(codes, minlength=cells_total, maxlength=cells_total, axis=-1), images.dtype)
        shares = counts / tf.reduce_sum(counts, axis=1, keepdims=True)
        return tf.sqrt(shares) if self.square_root else shares

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins**3)

    def get_config(self):
        return {**super().get_config(), "bins": self.bins, "square_root": self.square_root}


def build_histogram_net(
    input_shape: tuple[int, int, int], dim: int, training_images: np.ndarray, bins: int = 4, name: str = "embedding_net"
) -> keras.Model:
    """uint8 image -> L2-normalised embedding (dim,) of its square-rooted joint RGB histogram
    (``ColourHistogram``, bins^3 cells), standardised with the statistics of ``training_images``'
    histograms (saved in the model), then a linear Dense ("embedding"): a network that cannot
    learn more than colour, for few training images."""
    inputs, x = image_input(input_shape)
    histogram = ColourHistogram(bins, square_root=True, name="colour_histogram")
    features = histogram(unit_float_array(training_images)).numpy()
    standardize = layers.Normalization(
        mean=features.mean(axis=0), variance=features.var(axis=0) + 1e-6, name="standardize_histogram"
    )
    x = layers.Dense(dim, name="embedding")(standardize(histogram(x)))
    return keras.Model(inputs, layers.UnitNormalization(name="l2_normalize")(x), name=name)
