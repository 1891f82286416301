"""A CLIP-style dual-tower aligner: a poster tower and a text tower into one space, and the learned
logit scale of the InfoNCE loss.

``build_aligner(poster_tower, text_tower)`` takes {"poster": uint8 images, "text": raw strings} and
returns (B, 2, D): each poster's embedding times the logit scale s, and its synopsis' embedding
(both towers L2-normalise), the input ``tfml.losses.ClipLoss`` expects. s = exp(t), with t a weight
of the ``LogitScale`` layer initialised to log(1 / 0.07) and used clamped to at most log(100), as in
CLIP. For retrieval, use the towers (``get_layer("poster_tower")``, ``get_layer("text_tower")``).
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


def build_aligner(poster_tower: keras.Model, text_tower: keras.Model, name: str = "aligner") -> keras.Model:
    """{"poster", "text"} -> (B, 2, D) = (s u, v); see the module docstring."""
    posters = keras.Input(poster_tower.input_shape[1:], dtype="uint8", name="poster")
    texts = keras.Input((), dtype="string", name="text")
    scaled = LogitScale(name="logit_scale")(poster_tower(posters))
    dim = poster_tower.output_shape[-1]
    rows = [
        keras.layers.Reshape((1, dim), name=f"{part}_row")(x)
        for part, x in (("poster", scaled), ("text", text_tower(texts)))
    ]
    pair = keras.layers.Concatenate(axis=1, name="pair")(rows)
    return keras.Model({"poster": posters, "text": texts}, pair, name=name)
