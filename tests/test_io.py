"""Atomic writes: a process killed while writing never leaves a damaged file."""

import keras
import pytest

from tests.helpers import TestCase
from tfml.io import atomic_write, partial_path, save_model, write_text


def tiny_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])
    model.compile(
        keras.optimizers.Adam(0.01), keras.losses.MeanSquaredError(), metrics=[keras.metrics.MeanAbsoluteError("mae")]
    )
    return model


class AtomicWriteTest(TestCase):
    def test_save_model_never_leaves_a_half_written_file(self):
        tmp_path = self.tmp_path
        monkeypatch = self.monkeypatch
        model = tiny_model()
        target = save_model(model, tmp_path / "model.h5")
        before = target.read_bytes()

        def crash(self, path, *args, **kwargs):
            with open(path, "wb") as handle:
                handle.write(b"half")
            raise KeyboardInterrupt("killed while writing")

        monkeypatch.setattr(keras.Model, "save", crash)
        with pytest.raises(KeyboardInterrupt):
            save_model(model, target)
        assert target.read_bytes() == before
        assert partial_path(target).name == "model.partial.h5"

    def test_text_is_written_whole_or_not_at_all(self):
        target = write_text(self.tmp_path / "notes.txt", "first")

        def crash(path):
            path.write_text("half")
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            atomic_write(target, crash)
        self.assertEqual(target.read_text(), "first")
        self.assertEqual(partial_path(self.tmp_path / "w.weights.h5").name, "w.partial.weights.h5")
