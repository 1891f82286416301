"""Atomic writes (a process killed while writing never leaves a damaged file), outputs claimed
before any work, text decoded or refused with its file and line."""

import codecs
import errno

import keras
import pytest

from tests.helpers import TestCase
from tfml.io import atomic_folder, atomic_write, claim_outputs, partial_path, read_text, save_model, write_text


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

    def test_a_failed_write_names_the_users_file_and_leaves_no_partial_file(self):
        target = write_text(self.tmp_path / "model.h5", "old")

        def full_disk(path):
            path.write_text("ha")
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

        with pytest.raises(OSError) as raised:
            atomic_write(target, full_disk)
        self.assertEqual(raised.value.filename, str(target))
        self.assertEqual(raised.value.errno, errno.ENOSPC)
        self.assertEqual(sorted(p.name for p in self.tmp_path.iterdir()), ["model.h5"])
        self.assertEqual(target.read_text(), "old")


class AtomicFolderTest(TestCase):
    def test_a_folder_is_replaced_whole_and_a_failed_build_keeps_the_old_one(self):
        folder = self.tmp_path / "shards"

        def build(files):
            return lambda temporary: [(temporary / name).write_text(name) for name in files]

        atomic_folder(folder, build(["0", "1", "2", "3", "manifest"]))
        atomic_folder(folder, build(["0", "1", "manifest"]))
        self.assertEqual(sorted(p.name for p in folder.iterdir()), ["0", "1", "manifest"])  # no shard 2, 3 left over

        def broken(temporary):
            (temporary / "0").write_text("new")
            raise ValueError("the encoder failed")

        with pytest.raises(ValueError):
            atomic_folder(folder, broken)
        self.assertEqual(sorted(p.name for p in folder.iterdir()), ["0", "1", "manifest"])
        self.assertEqual((folder / "0").read_text(), "0")
        self.assertEqual(sorted(p.name for p in self.tmp_path.iterdir()), ["shards"])


class ClaimOutputsTest(TestCase):
    def test_every_output_is_checked_before_any_is_written(self):
        image = self.tmp_path / "mine.png"
        image.write_bytes(b"png")
        folder = self.tmp_path / "folder"
        folder.mkdir()
        cases = [
            (dict(outputs=[image], inputs=[image], overwrite=True), "is also an input of this command"),
            (dict(outputs=[image]), "exists; pass --overwrite"),
            (dict(outputs=[folder]), "is a folder; name a file"),
            (dict(outputs=[image], folders=[image], overwrite=True), "is a file; name a folder"),
            (dict(outputs=[self.tmp_path / "a.png", self.tmp_path / "." / "a.png"]), "would be written to the same"),
            (dict(outputs=[image / "inside.png"]), "is a file, not a folder"),
        ]
        for arguments, message in cases:
            with pytest.raises(OSError if "folder" in message or "exists" in message else ValueError, match=message):
                claim_outputs(**arguments)
        self.assertEqual(image.read_bytes(), b"png")
        self.assertEqual(claim_outputs([folder], folders=[folder]), [folder])  # an empty folder may be filled


class ReadTextTest(TestCase):
    def test_utf8_and_byte_order_marks_decode_and_other_encodings_name_file_line_and_column(self):
        path = self.tmp_path / "movies.csv"
        for data in (
            "id,title\n1,Amélie\n".encode(),
            codecs.BOM_UTF8 + "id,title\n1,Amélie\n".encode(),
            "id,title\n1,Amélie\n".encode("utf-16"),
            "id,title\n1,Amélie\n".encode("utf-32"),
        ):
            path.write_bytes(data)
            self.assertEqual(read_text(path), "id,title\n1,Amélie\n")
        path.write_bytes("id,title\n1,Amélie\n".encode("latin-1"))
        with pytest.raises(ValueError, match=r"movies.csv, line 2, column 5: not utf-8 text \(byte 0xe9\)"):
            read_text(path)
        self.assertEqual(read_text(path, "latin-1"), "id,title\n1,Amélie\n")
