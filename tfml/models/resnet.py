"""ResNet-18 (He et al. 2016): basic blocks, [2, 2, 2, 2], as a Keras functional model.

- ``stem="imagenet"``: 7 x 7 stride-2 convolution and a 3 x 3 stride-2 max-pool (224 x 224 inputs);
  with a 1000-way head it has 11,689,512 trainable parameters, as torchvision's resnet18.
- ``stem="cifar"``: a 3 x 3 stride-1 convolution and no max-pool, for 32 x 32 inputs.

Layers are named ``stem_*``, ``stage{s}_block{b}_*``, ``pool`` and ``head``;
``build_resnet18(include_top=False)`` is the backbone (globally average-pooled 512 features).
"""

from __future__ import annotations

import keras
from keras import layers

from tfml.models.inputs import image_input

STAGES = ((64, 2), (128, 2), (256, 2), (512, 2))  # (filters, blocks)
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9  # torchvision's 0.1 update rate: moving statistics settle within a short budget


def _conv_bn(x, filters, kernel, strides, name, relu=True):
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        name=f"{name}_conv",
        kernel_initializer="he_normal",
    )(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _basic_block(x, filters, strides, name):
    """relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)); the shortcut is a 1 x 1 strided
    convolution + batch norm when the shape changes, else the identity."""
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, strides, f"{name}_shortcut", relu=False)
    y = _conv_bn(x, filters, 3, strides, f"{name}_1")
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", relu=False)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def build_resnet18(
    input_shape=(224, 224, 3),
    classes: int | None = 1000,
    stem: str = "imagenet",
    include_top: bool = True,
    name: str = "resnet18",
) -> keras.Model:
    """ResNet-18 on uint8 ``input_shape`` images (scaled to [0, 1] inside); without the top it
    returns the 512 average-pooled features, with it a softmax over ``classes``."""
    if stem not in ("imagenet", "cifar"):
        raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
    inputs, x = image_input(input_shape)
    if stem == "imagenet":
        x = _conv_bn(x, 64, 7, 2, "stem")
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = _conv_bn(x, 64, 3, 1, "stem")
    for stage, (filters, blocks) in enumerate(STAGES, start=1):
        for block in range(1, blocks + 1):
            x = _basic_block(x, filters, 2 if block == 1 and stage > 1 else 1, f"stage{stage}_block{block}")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if include_top:
        x = layers.Dense(classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, x, name=name)


def classifier(backbone: keras.Model, classes: int, name: str = "classifier") -> keras.Model:
    """``backbone`` (image -> features) followed by a Dense softmax head named "head"."""
    inputs = keras.Input(backbone.input_shape[1:], dtype="uint8", name="image")
    outputs = layers.Dense(classes, activation="softmax", name="head")(backbone(inputs))
    return keras.Model(inputs, outputs, name=name)


def backbone_stem(backbone: keras.Model) -> str:
    return "imagenet" if any(layer.name == "stem_pool" for layer in backbone.layers) else "cifar"


def load_backbone(weights: str, input_shape=(32, 32, 3), stem: str = "imagenet") -> keras.Model:
    """A ResNet-18 backbone (image -> 512 features) named "backbone":
    - "none": randomly initialised, with ``stem``;
    - a ``.weights.h5`` file: weights saved from such a backbone (with ``stem``);
    - an ``.h5`` model file: a saved ResNet-18 backbone (its own stem) with 512 features and as many
      input channels; its weights move to ``input_shape`` (convolutions and pooling do not depend
      on the image size);
    - "imagenet": the keras-hub preset ``resnet_18_imagenet`` (optional extra; needs the network).
    """
    if weights == "imagenet":
        return imagenet_backbone(input_shape)
    if weights == "none":
        return build_resnet18(input_shape, stem=stem, include_top=False, name="backbone")
    from pathlib import Path

    if not Path(weights).is_file():
        raise FileNotFoundError(
            f"backbone weights {weights} do not exist (give a .h5 / .weights.h5 file, a zoo name, 'imagenet' or 'none')"
        )
    if str(weights).endswith(".weights.h5"):
        model = build_resnet18(input_shape, stem=stem, include_top=False, name="backbone")
        model.load_weights(weights)
        return model
    try:
        model = keras.models.load_model(weights, compile=False)
    except Exception as error:  # h5py and Keras raise many types for a truncated or foreign file
        raise ValueError(f"{weights} is not a readable Keras model file ({type(error).__name__}: {error})") from None
    if model.input_shape[-1] != input_shape[-1] or tuple(model.output_shape[1:]) != (512,):
        raise ValueError(
            f"{weights} maps {model.input_shape[1:]} to {model.output_shape[1:]}; a ResNet-18 backbone for "
            f"{input_shape[-1]}-channel images with 512 features is needed"
        )
    copy = build_resnet18(input_shape, stem=backbone_stem(model), include_top=False, name="backbone")
    try:
        copy.set_weights(model.get_weights())
    except ValueError as error:
        raise ValueError(f"{weights} is not a ResNet-18 backbone of this layout ({error})") from None
    return copy


IMAGENET_PRESET = "resnet_18_imagenet"


def imagenet_backbone(input_shape=(224, 224, 3)) -> keras.Model:
    """This module's ImageNet-layout backbone with the weights of keras-hub's ``resnet_18_imagenet``,
    copied in order (the two must list the same weight shapes). keras-hub is an optional extra; the
    preset is downloaded from Kaggle, so this fails clearly without the network."""
    try:
        import keras_hub
    except ImportError:
        raise RuntimeError(
            "--weights imagenet needs keras-hub (pip install 'tfml[hub]' or pip install keras-hub); "
            "or pass a local weights file / a zoo backbone"
        ) from None
    try:
        source = keras_hub.models.Backbone.from_preset(IMAGENET_PRESET)
    except Exception as error:  # network, Kaggle credentials, missing preset: all end the same way for the user
        raise RuntimeError(
            f"could not fetch the keras-hub preset {IMAGENET_PRESET!r} ({type(error).__name__}: {error}); "
            "ImageNet weights need the network. Use a local weights file or the zoo's backbone instead"
        ) from None
    target = build_resnet18(input_shape, stem="imagenet", include_top=False, name="backbone")
    source_weights = [w for w in source.weights if "seed_generator" not in w.path]
    if [tuple(w.shape) for w in source_weights] != [tuple(w.shape) for w in target.weights]:
        raise ValueError(
            f"keras-hub's {IMAGENET_PRESET} lists {len(source_weights)} weights whose shapes do not match "
            f"this ResNet-18's {len(target.weights)}; cannot copy them"
        )
    target.set_weights([keras.ops.convert_to_numpy(w) for w in source_weights])
    return target
