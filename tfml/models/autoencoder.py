"""Convolutional autoencoder: encoder, decoder and autoencoder = decoder(encoder(x))."""

from __future__ import annotations

import keras
from keras import layers

from tfml.models.inputs import image_input


def build_encoder(input_shape=(32, 32, 3), latent_dim: int = 10, filters=(32, 64, 128)) -> keras.Model:
    """uint8 image (H, W, C) -> code (latent_dim,). Rescaling to [0, 1], a stride-1 conv, then one
    stride-2 conv block per entry of ``filters`` (H and W must be divisible by 2**len(filters)),
    then a linear Dense to the code."""
    inputs, x = image_input(input_shape)
    x = layers.Conv2D(filters[0], 3, padding="same", activation="relu")(x)
    for f in filters:
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    code = layers.Dense(latent_dim, name="code")(x)
    return keras.Model(inputs, code, name="encoder")


def build_decoder(output_shape=(32, 32, 3), latent_dim: int = 10, filters=(128, 64, 32)) -> keras.Model:
    """code (latent_dim,) -> image (H, W, C) in [0, 1] (sigmoid); mirrors build_encoder."""
    height, width, channels = output_shape
    scale = 2 ** len(filters)
    inputs = keras.Input((latent_dim,), name="code")
    x = layers.Dense((height // scale) * (width // scale) * filters[0], activation="relu")(inputs)
    x = layers.Reshape((height // scale, width // scale, filters[0]))(x)
    for f in filters:
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
    outputs = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="decoder")


def build_autoencoder(input_shape=(32, 32, 3), latent_dim: int = 10, filters=(32, 64, 128)):
    """Returns (encoder, decoder, autoencoder); the autoencoder (uint8 image -> float image in [0, 1])
    shares the other two's layers."""
    encoder = build_encoder(input_shape, latent_dim, filters)
    decoder = build_decoder(input_shape, latent_dim, tuple(reversed(filters)))
    inputs = keras.Input(input_shape, dtype="uint8", name="image")
    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    return encoder, decoder, autoencoder
