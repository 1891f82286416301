"""A CLIP-style dual-tower aligner: a poster tower and a text tower into one space, and the learned
logit scale of the InfoNCE loss.

``build_aligner(poster_tower, text_tower)`` takes {"poster": uint8 images, "text": raw strings} and
returns (B, 2, D): each poster's embedding times the logit scale s, and its synopsis' embedding
(both towers L2-normalise), the input ``tfml.losses.ClipLoss`` expects. s = exp(t), with t a weight
of the ``LogitScale`` layer initialised to log(1 / 0.07) and used clamped to at most log(100), as in
CLIP. For retrieval, use the towers (``get_layer("poster_tower")``, ``get_layer("text_tower")``).

``objective="siglip"`` builds the input of ``tfml.losses.SigLipLoss`` instead: t starts at log 10 and
a ``LogitBias`` layer adds the learned bias b (from -10) as one more coordinate, (B, 2, D + 1) rows
(s u, b) and (v, 1) whose dot product is s u . v + b, as in SigLIP (Zhai et al. 2023).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

MAX_LOG_SCALE = math.log(100.0)


@keras.saving.register_keras_serializable(package="tfml")
class LogitScale(keras.layers.Layer):
    """x -> exp(min(t, log 100)) x with a learned t (initially log(1 / 0.07)); ``scale`` reads s."""

    def __init__(self, initial: float = math.log(1 / 0.07), **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)
        self.log_scale = self.add_weight(
            shape=(), name="log_scale", initializer=keras.initializers.Constant(self.initial)
        )

    def call(self, x):
        return x * tf.exp(tf.minimum(tf.cast(self.log_scale, x.dtype), MAX_LOG_SCALE))

    @property
    def scale(self) -> float:
        return float(math.exp(min(float(keras.ops.convert_to_numpy(self.log_scale)), MAX_LOG_SCALE)))

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


@keras.saving.register_keras_serializable(package="tfml")
class LogitBias(keras.layers.Layer):
    """[q (B, D), k (B, D)] -> (B, 2, D + 1): rows (q, b) and (k, 1), whose dot product is q . k + b,
    with a learned b (initially ``initial``).

    >>> import numpy as np
    >>> pair = LogitBias()([np.ones((1, 2), np.float32), np.ones((1, 2), np.float32)])
    >>> float(np.dot(pair[0, 0], pair[0, 1]))   # 1 + 1 - 10
    -8.0
    """

    def __init__(self, initial: float = -10.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)
        self.bias = self.add_weight(shape=(), name="bias", initializer=keras.initializers.Constant(self.initial))

    def call(self, inputs):
        query, key = (tf.convert_to_tensor(x) for x in inputs)
        column = tf.ones_like(query[:, :1])
        query = tf.concat([query, column * tf.cast(self.bias, query.dtype)], axis=1)
        return tf.stack([query, tf.concat([key, tf.cast(column, key.dtype)], axis=1)], axis=1)

    def compute_output_shape(self, input_shape):
        query = input_shape[0]
        return (query[0], 2, None if query[-1] is None else query[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


# the logit scale's starting log; "supcon" (a label-comparison loss on the pairs) reads rows as "clip" does
OBJECTIVES = {"clip": math.log(1 / 0.07), "siglip": math.log(10.0), "supcon": math.log(1 / 0.07)}


def build_aligner(
    poster_tower: keras.Model, text_tower: keras.Model, name: str = "aligner", objective: str = "clip"
) -> keras.Model:
    """{"poster", "text"} -> (B, 2, D) = (s u, v) for "clip" and "supcon", (B, 2, D + 1) =
    ((s u, b), (v, 1)) for "siglip"; see the module docstring."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r}: expected one of {', '.join(OBJECTIVES)}")
    posters = keras.Input(poster_tower.input_shape[1:], dtype="uint8", name="poster")
    texts = keras.Input((), dtype="string", name="text")
    scaled = LogitScale(OBJECTIVES[objective], name="logit_scale")(poster_tower(posters))
    if objective == "siglip":
        pair = LogitBias(name="pair")([scaled, text_tower(texts)])
        return keras.Model({"poster": posters, "text": texts}, pair, name=name)
    dim = poster_tower.output_shape[-1]
    rows = [
        keras.layers.Reshape((1, dim), name=f"{part}_row")(x)
        for part, x in (("poster", scaled), ("text", text_tower(texts)))
    ]
    pair = keras.layers.Concatenate(axis=1, name="pair")(rows)
    return keras.Model({"poster": posters, "text": texts}, pair, name=name)
