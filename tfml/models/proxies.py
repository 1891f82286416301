"""Trainable class proxies: the weights of the proxy and classifier losses, held by a layer.

``ClassProxies(num_classes)`` sits on top of an embedding network during training and maps each
embedding e (B, D) to its cosine similarity with every class's proxy w_c, cos(e, w_c) (B, C); with
``sub_centers`` K > 1 a class has K proxies and its similarity is the largest of the K (SubCenter
ArcFace). The proxy losses of ``tfml.losses.proxies`` read that matrix.

Why a layer that holds the weights and a loss that reads their similarities: Keras trains,
saves and restores a model's layers' weights, and nothing else. In a layer the proxies are
trained by ``model.fit`` with the rest of the model, distributed by the strategy like any weight,
written into the ``.h5`` file (and the exact-resume backup) and reloaded with the model, while the
loss stays a stateless ``keras.losses.Loss`` that serialises by its options. A loss that owned
variables would need its own optimiser step, checkpoint and restore path. The embedding network
itself stays a separate model (the layer's input): it is what retrieval and ``tfml evaluate`` use.

``learning_rate_multiplier``: the layer stores w / multiplier and uses multiplier x stored, so an
optimiser that normalises its steps (Adam) moves the proxies ``multiplier`` times as fast as the
network's weights, the usual proxy learning rate (x100 in the Proxy Anchor paper).
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfml")
class ClassProxies(keras.layers.Layer):
    """(B, D) embeddings -> (B, C) cosine similarity to each class's proxy (the largest of a class's
    ``sub_centers`` proxies). Weights: ``proxies`` (C K, D), class c's k-th proxy in row c K + k,
    stored divided by ``learning_rate_multiplier``. ``initializer``: a Keras initializer (default: a
    standard normal, as pytorch-metric-learning; its Proxy Anchor uses a Kaiming normal, which
    ``ProxyAnchorLoss.proxy_initializer`` names).

    >>> import numpy as np
    >>> layer = ClassProxies(2)
    >>> _ = layer(np.zeros((1, 2), np.float32))
    >>> layer.set_class_proxies(np.array([[1.0, 0.0], [0.0, 3.0]]))
    >>> [round(float(c), 4) for c in layer(np.array([[1.0, 1.0]], np.float32))[0]]
    [0.7071, 0.7071]
    """

    def __init__(
        self,
        num_classes: int,
        sub_centers: int = 1,
        learning_rate_multiplier: float = 1.0,
        initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_classes < 1 or sub_centers < 1 or not learning_rate_multiplier > 0:
            raise ValueError("ClassProxies needs num_classes >= 1, sub_centers >= 1 and a positive multiplier")
        self.num_classes, self.sub_centers = int(num_classes), int(sub_centers)
        self.learning_rate_multiplier = float(learning_rate_multiplier)
        self.initializer = keras.initializers.get(initializer or keras.initializers.RandomNormal(stddev=1.0))

    def build(self, input_shape):
        scale = self.learning_rate_multiplier
        self.proxies = self.add_weight(
            name="proxies",
            shape=(self.num_classes * self.sub_centers, input_shape[-1]),
            initializer=lambda shape, dtype=None: self.initializer(shape, dtype) / scale,
        )

    def class_proxies(self):
        """The proxies (C K, D) on their own scale."""
        return self.proxies * self.learning_rate_multiplier

    def set_class_proxies(self, values) -> None:
        self.proxies.assign(ops.convert_to_tensor(values, self.proxies.dtype) / self.learning_rate_multiplier)

    def call(self, embeddings):
        embeddings = ops.cast(embeddings, self.compute_dtype)
        proxies = ops.cast(self.class_proxies(), embeddings.dtype)
        unit = lambda x: x / ops.maximum(ops.norm(x, axis=1, keepdims=True), 1e-12)  # noqa: E731
        cosine = ops.matmul(unit(embeddings), ops.transpose(unit(proxies)))
        if self.sub_centers == 1:
            return cosine
        return ops.max(ops.reshape(cosine, (-1, self.num_classes, self.sub_centers)), axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "sub_centers": self.sub_centers,
            "learning_rate_multiplier": self.learning_rate_multiplier,
            "initializer": keras.initializers.serialize(self.initializer),
        }


def with_class_proxies(embedding_net: keras.Model, num_classes: int, **options) -> keras.Model:
    """The training model of a proxy loss: ``embedding_net`` (as one layer, under its own name)
    followed by ``ClassProxies`` (its options as keyword arguments); fit it with labels as targets.
    ``embedding_part(model)`` gives the embedding network back, from this model or its reloaded file.

    >>> import numpy as np
    >>> net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="net")
    >>> model = with_class_proxies(net, 5)
    >>> model.output_shape, embedding_part(model).name
    ((None, 5), 'net')
    """
    inputs = keras.Input(embedding_net.input_shape[1:], dtype=embedding_net.inputs[0].dtype)
    similarities = ClassProxies(num_classes, name="class_proxies", **options)(embedding_net(inputs))
    return keras.Model(inputs, similarities, name=f"{embedding_net.name}_with_proxies")


def embedding_part(model: keras.Model) -> keras.Model:
    """The embedding network inside a ``with_class_proxies`` model; any other model as it is."""
    proxies = [layer for layer in model.layers if isinstance(layer, ClassProxies)]
    if not proxies:
        return model
    inner = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(inner) != 1:
        raise ValueError(f"{model.name}: expected one embedding network before its ClassProxies layer")
    return inner[0]
