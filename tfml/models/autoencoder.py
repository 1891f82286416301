"""Convolutional autoencoder: encoder, decoder and autoencoder = decoder(encoder(x))."""

from __future__ import annotations

import keras
from keras import layers


def build_encoder(input_shape=(32, 32, 3), latent_dim: int = 10, filters=(32, 64, 128)) -> keras.Model:
    """x (H, W, C) -> code (latent_dim,). A stride-1 conv, then one stride-2 conv block per entry of
    ``filters`` (H and W must be divisible by 2**len(filters)), then a linear Dense to the code."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(filters[0], 3, padding="same", activation="relu")(inputs)
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
    """Returns (encoder, decoder, autoencoder); the autoencoder shares the other two's layers."""
    encoder = build_encoder(input_shape, latent_dim, filters)
    decoder = build_decoder(input_shape, latent_dim, tuple(reversed(filters)))
    inputs = keras.Input(input_shape, name="image")
    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    return encoder, decoder, autoencoder
