"""What the tests share: the base TestCase (tf.test.TestCase with pytest's fixtures as attributes)
and the real data sets beside the project (a test that needs one skips with the reason when absent)."""

import tarfile
from pathlib import Path

import pytest
import tensorflow as tf

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def shared_file(name: str) -> Path:
    """../shared/data/<name>, or a skip saying that this machine does not have it."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{name} not found in {SHARED_DATA} (the real data sets beside the project)")
    return path


class TestCase(tf.test.TestCase):
    """tf.test.TestCase, run by pytest, with pytest's tmp_path, monkeypatch, capsys and caplog as
    attributes of the test."""

    @pytest.fixture(autouse=True)
    def _pytest_fixtures(self, tmp_path, monkeypatch, capsys, caplog):
        self.tmp_path, self.monkeypatch, self.capsys, self.caplog = tmp_path, monkeypatch, capsys, caplog


def extract_classes(archive_path: Path, root: Path, classes: tuple[str, ...] | None, per_split: int) -> Path:
    """The first ``per_split`` images of each class (``None``: every class) from train/ and test/ of
    a class-folder archive, extracted into ``root``."""
    taken: dict = {}
    with tarfile.open(archive_path) as archive:
        for member in archive:
            parts = member.name.split("/")
            key = (parts[0], parts[1]) if len(parts) == 3 else None
            if member.isfile() and key and (classes is None or key[1] in classes) and taken.get(key, 0) < per_split:
                taken[key] = taken.get(key, 0) + 1
                archive.extract(member, root, filter="data")
    short = {key: count for key, count in taken.items() if count < per_split}
    assert not short and (classes is None or len(taken) == 2 * len(classes)), f"too few images: {taken}"
    return root


def extract_crops(root: Path, codes: tuple[str, ...], per_split: int) -> Path:
    """``per_split`` crops of each class ``codes`` from train/ and test/ of the real TT100K crops,
    extracted into ``root`` (skips when the archive is absent)."""
    return extract_classes(shared_file("tt100k-crops.tar.gz"), root, codes, per_split)
