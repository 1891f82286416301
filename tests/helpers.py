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


def extract_crops(root: Path, codes: tuple[str, ...], per_split: int) -> Path:
    """``per_split`` crops of each class ``codes`` from train/ and test/ of the real TT100K crops,
    extracted into ``root`` (skips when the archive is absent)."""
    wanted = {(split, code): per_split for split in ("train", "test") for code in codes}
    with tarfile.open(shared_file("tt100k-crops.tar.gz")) as archive:
        for member in archive:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and wanted.get((parts[0], parts[1]), 0) > 0:
                wanted[parts[0], parts[1]] -= 1
                archive.extract(member, root, filter="data")
    assert not any(wanted.values()), f"too few crops in the archive: {wanted}"
    return root
