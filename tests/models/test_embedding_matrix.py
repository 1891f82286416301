"""The embedding matrix model keeps its item ids through an .h5 round trip."""

import keras
import numpy as np

from tests.helpers import TestCase
from tfml.models.embedding_matrix import build_embedding_matrix, embedding_table


class EmbeddingMatrixTest(TestCase):
    """build_embedding_matrix."""

    def test_embedding_matrix_saves_its_item_ids(self):
        tmp_path = self.tmp_path
        model = build_embedding_matrix([7, 11, 42], dim=4, seed=0)
        model.save(tmp_path / "m.h5")
        loaded = keras.models.load_model(tmp_path / "m.h5")
        vectors, ids = embedding_table(loaded)
        assert ids.tolist() == [7, 11, 42] and vectors.shape == (3, 4)
        np.testing.assert_array_equal(loaded.predict(np.array([2, 0]), verbose=0), vectors[[2, 0]])
