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

A *label-profile* aligner meets in the space of labels the pairs share (a movie's genres) instead:
``build_label_predictor(poster_logits, text_logits)`` trains both towers' label logits (B, 2, L)
with ``paired_label_crossentropy`` (binary cross-entropy of each tower against the pair's
multi-hot labels), and ``label_profile_aligner(predictor, base_rates)`` gives the aligner for
retrieval, whose towers embed ``LabelProfile``: the unit vector of sigmoid(logits) minus the
labels' base rates, so that the cosine of a poster and a synopsis compares their predicted label
profiles, each relative to what is common. Every item's labels teach both towers, not only the
pair's match, which generalises where 1,000 pairs are too few to learn a joint space.
"""

from __future__ import annotations

import math

import keras
import numpy as np
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


@keras.saving.register_keras_serializable(package="tfml")
class LabelProfile(keras.layers.Layer):
    """Multi-label logits (B, L) -> unit(sigmoid(logits) - base_rates): the predicted label profile
    relative to the labels' base rates (e.g. their frequencies in the training set), L2-normalised.

    >>> import numpy as np
    >>> LabelProfile([0.5, 0.5])(np.array([[3.0, 0.0]], np.float32)).numpy().round(3).tolist()
    [[1.0, 0.0]]
    """

    def __init__(self, base_rates, **kwargs):
        super().__init__(**kwargs)
        self.base_rates = [float(rate) for rate in base_rates]

    def call(self, logits):
        profile = tf.sigmoid(logits) - tf.constant(self.base_rates, logits.dtype)
        return tf.math.l2_normalize(profile, axis=-1)

    def get_config(self):
        return {**super().get_config(), "base_rates": self.base_rates}


@keras.saving.register_keras_serializable(package="tfml")
def paired_label_crossentropy(y_true, y_pred):
    """y_true multi-hot labels (B, L) of each pair, y_pred (B, 2, L) the logits of both towers:
    (B, 2) binary cross-entropies, each the mean over the L labels."""
    y_pred = tf.convert_to_tensor(y_pred)
    labels = tf.cast(tf.convert_to_tensor(y_true), y_pred.dtype)
    if labels.shape.rank != 2 or y_pred.shape.rank != 3 or y_pred.shape[1] != 2:
        raise ValueError(
            f"paired_label_crossentropy takes labels (batch, labels) and logits (batch, 2, labels), "
            f"got {labels.shape} and {y_pred.shape}"
        )
    return keras.losses.binary_crossentropy(tf.stack([labels, labels], axis=1), y_pred, from_logits=True)


def before_normalization(tower: keras.Model, name: str) -> keras.Model:
    """The part of a tower that ends in a UnitNormalization layer: its input, the raw projection."""
    if not isinstance(tower.layers[-1], keras.layers.UnitNormalization):
        raise ValueError(f"{tower.name} does not end in a UnitNormalization layer")
    return keras.Model(tower.inputs, tower.layers[-1].input, name=name)


def build_label_predictor(
    poster_tower: keras.Model, text_tower: keras.Model, base_rates=None, name="label_predictor"
) -> keras.Model:
    """{"poster", "text"} -> (B, 2, L): the label logits of both towers (each tower's output before
    its L2 normalisation, L units), trained with ``paired_label_crossentropy``. With ``base_rates``
    each tower's last Dense layer starts at kernel 0 and bias log(r / (1 - r)): both towers first
    predict the base rates, and training moves them from there."""
    if base_rates is not None:
        rates = np.clip(np.asarray(base_rates, np.float64), 1e-4, 1 - 1e-4)
        for tower in (poster_tower, text_tower):
            head = tower.layers[-2]
            if not isinstance(head, keras.layers.Dense) or head.units != len(rates):
                raise ValueError(f"{tower.name} must end in a Dense layer of {len(rates)} units and its normalisation")
            head.kernel.assign(np.zeros(head.kernel.shape))
            head.bias.assign(np.log(rates / (1 - rates)))
    towers = {"poster": poster_tower, "text": text_tower}
    return pair_of_towers(
        {part: before_normalization(tower, f"{part}_label_logits") for part, tower in towers.items()}, name
    )


def label_profile_aligner(predictor: keras.Model, base_rates, name="aligner") -> keras.Model:
    """The aligner of a trained ``build_label_predictor``: {"poster", "text"} -> (B, 2, L) rows of the
    towers "poster_tower" and "text_tower", each ``LabelProfile(base_rates)`` of its label logits."""
    towers = {}
    for part in ("poster", "text"):
        logits = predictor.get_layer(f"{part}_label_logits")
        x = keras.Input(logits.input_shape[1:], dtype=logits.inputs[0].dtype, name=part)
        towers[part] = keras.Model(x, LabelProfile(base_rates, name=f"{part}_profile")(logits(x)), name=f"{part}_tower")
    return pair_of_towers(towers, name)


def ensemble_aligner(aligners: list[keras.Model], name="aligner") -> keras.Model:
    """The towers of several aligners side by side: each ensemble tower's output is its members'
    outputs (unit vectors) concatenated and divided by sqrt(k), so that the cosine of a poster and a
    synopsis is the mean of the k members' cosines. {"poster", "text"} -> (B, 2, k D) rows. The
    members are copies whose layers are renamed "member<i>_<name>": an .h5 file needs one name per
    weight."""
    towers = {}
    for part in ("poster", "text"):
        first = aligners[0].get_layer(f"{part}_tower")
        x = keras.Input(first.input_shape[1:], dtype=first.inputs[0].dtype, name=part)
        members = [
            renamed_copy(aligner.get_layer(f"{part}_tower"), f"member{i}_", f"{part}_member_{i}")(x)
            for i, aligner in enumerate(aligners)
        ]
        joined = keras.layers.Concatenate(name=f"{part}_members")(members)
        towers[part] = keras.Model(
            x, keras.layers.Rescaling(1 / math.sqrt(len(aligners)))(joined), name=f"{part}_tower"
        )
    return pair_of_towers(towers, name)


def renamed_copy(model: keras.Model, prefix: str, name: str) -> keras.Model:
    """A copy of a functional ``model`` (its weights' values) whose layers, and those of the models
    nested in it, are named prefix + name."""

    def renamed(layer):
        if isinstance(layer, keras.Model):
            return renamed_copy(layer, prefix, prefix + layer.name)
        return layer.__class__.from_config({**layer.get_config(), "name": prefix + layer.name})

    copy = keras.models.clone_model(model, clone_function=renamed)
    copy.set_weights(model.get_weights())
    return keras.Model(copy.input, copy.output, name=name)


def pair_of_towers(towers: dict[str, keras.Model], name: str) -> keras.Model:
    """{"poster", "text"} -> (B, 2, D): each tower's output (B, D) on its input, as the rows "poster_row"
    and "text_row" of one tensor."""
    inputs = {
        part: keras.Input(tower.input_shape[1:], dtype=tower.inputs[0].dtype, name=part)
        for part, tower in towers.items()
    }
    rows = [keras.layers.Reshape((1, -1), name=f"{part}_row")(tower(inputs[part])) for part, tower in towers.items()]
    return keras.Model(inputs, keras.layers.Concatenate(axis=1, name="pair")(rows), name=name)
