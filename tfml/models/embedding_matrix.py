"""An embedding matrix as a Keras model: item indices (B,) -> rows of V (B, d).

The layer also stores the item id of each row (non-trainable, saved with the weights), so a saved
model says which movie each row is.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="tfml")
class EmbeddingMatrix(layers.Layer):
    """V (n_items, dim), initialised N(0, init_scale^2), and ``item_ids`` (n_items,) int64."""

    def __init__(self, n_items: int, dim: int, init_scale: float = 0.1, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.n_items, self.dim, self.init_scale, self.seed = n_items, dim, init_scale, seed
        self.embeddings = self.add_weight(
            shape=(n_items, dim),
            name="embeddings",
            initializer=keras.initializers.RandomNormal(stddev=init_scale, seed=seed),
        )
        self.item_ids = self.add_weight(
            shape=(n_items,), name="item_ids", dtype="int64", trainable=False, initializer="zeros"
        )

    def call(self, indices):
        return ops.take(self.embeddings, ops.cast(indices, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        return {
            **super().get_config(),
            "n_items": self.n_items,
            "dim": self.dim,
            "init_scale": self.init_scale,
            "seed": self.seed,
        }


def build_embedding_matrix(
    item_ids, dim: int, init_scale: float = 0.1, seed: int | None = None, name: str = "embedding_matrix"
) -> keras.Model:
    """A model holding V (len(item_ids), dim); ``item_ids`` are stored with it."""
    item_ids = np.asarray(item_ids, np.int64)
    indices = keras.Input((), dtype="int32", name="item_index")
    matrix = EmbeddingMatrix(len(item_ids), dim, init_scale, seed, name="matrix")
    model = keras.Model(indices, matrix(indices), name=name)
    matrix.item_ids.assign(item_ids)
    return model


def embedding_table(model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    """(V, item_ids) of a model built by ``build_embedding_matrix``."""
    matrix = model.get_layer("matrix")
    return ops.convert_to_numpy(matrix.embeddings), ops.convert_to_numpy(matrix.item_ids)
