"""The input of every tfml image model: uint8 RGB images, converted to float in the model.

``image_input`` returns a ``keras.Input(dtype="uint8")`` and its ``Rescaling`` layer (named
"to_unit_float", scale ``tfml.pipelines.pixels.UNIT_SCALE``): where images become floats in
[0, 1] inside a model. The layer is saved with the model, so a saved model says what it expects
(``describe_input``) and takes images as decoded.
"""

from __future__ import annotations

import keras

from tfml.pipelines.pixels import UNIT_SCALE

SCALE_LAYER = "to_unit_float"


def image_input(shape, name: str = "image") -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """(uint8 input of ``shape`` (H, W, C), the same images as float32 in [0, 1])."""
    inputs = keras.Input(tuple(shape), dtype="uint8", name=name)
    return inputs, keras.layers.Rescaling(UNIT_SCALE, name=SCALE_LAYER)(inputs)


def describe_input(model: keras.Model) -> dict:
    """{"input_shape", "input_dtype", "preprocessing"} of a model, for zoo entries and codes files; a
    model with several named inputs (the aligner's "poster" and "text") gives a dict per field."""
    layers = list(all_layers(model))
    if len(model.inputs) > 1:
        described = {tensor.name: _describe_tensor(layers, tensor) for tensor in model.inputs}
        return {
            field: {name: facts[field] for name, facts in described.items()}
            for field in ("input_shape", "input_dtype", "preprocessing")
        }
    return (
        _describe_tensor(layers, model.inputs[0])
        if model.inputs
        else {
            "input_shape": list(model.input_shape[1:]),
            "input_dtype": "float32",
            "preprocessing": "float32 input as given",
        }
    )


def all_layers(model: keras.Model):
    """Every layer of ``model``, those of nested models included (depth first)."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):  # a nested model (an autoencoder's encoder, an aligner's towers)
            yield from all_layers(layer)


def _describe_tensor(layers: list, tensor) -> dict:
    dtype = str(tensor.dtype)
    # by what the layer does, not its name: an ensemble's members carry renamed copies of it
    if dtype == "uint8" and any(
        isinstance(layer, keras.layers.Rescaling) and layer.scale == UNIT_SCALE and not layer.offset for layer in layers
    ):
        preprocessing = "uint8 RGB 0-255; the model divides by 255 (Rescaling layer 'to_unit_float')"
        if any(isinstance(layer, keras.layers.Normalization) for layer in layers):
            preprocessing += ", then standardises per channel (Normalization layer, adapted on the training images)"
    elif dtype == "string":
        preprocessing = "raw text; the model cleans, tokenises and weighs it with statistics of its training texts"
    else:
        preprocessing = f"{dtype} input as given (no preprocessing layer)"
    return {"input_shape": list(tensor.shape[1:]), "input_dtype": dtype, "preprocessing": preprocessing}
