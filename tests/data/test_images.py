"""Image folders and archives: classes, seeded order, RGB conversion, resizing, skipped files."""

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import TestCase
from tfml.data import decode_image, load_image_files, load_image_folder


def write_image(path, mode="RGB", size=(8, 6), value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode in ("L", "P") else tuple([value] * len(mode))
    Image.new(mode, size, colour).save(path)
    return path


def make_folder(root):
    for i in range(3):
        write_image(root / "cat" / f"{i}.png", value=10 + i)
        write_image(root / "dog" / f"{i}.png", value=200 + i)
    return root


def tar_of(root, path):
    with tarfile.open(path, "w:gz") as archive:
        archive.add(root, arcname=".")
    return path


class ImageFolderTest(TestCase):
    """load_image_folder, load_image_files and decode_image."""

    def setUp(self):
        super().setUp()
        self.folder = make_folder(Path(self.get_temp_dir()) / "images")

    def test_loads_classes_labels_and_rgb_uint8(self):
        folder = self.folder
        data = load_image_folder(folder)
        assert data.class_names == ["cat", "dog"]
        assert data.images.shape == (6, 6, 8, 3) and data.images.dtype == np.uint8
        for image, label, path in zip(data.images, data.labels, data.paths):
            assert path.startswith(data.class_names[label] + "/")
            assert (image < 100).all() == (label == 0)
        assert data.skipped == []

    def test_order_is_a_seeded_shuffle_of_the_sorted_paths(self):
        folder = self.folder
        first, again, other = (load_image_folder(folder, seed=s) for s in (1, 1, 2))
        assert first.paths == again.paths
        assert first.paths != other.paths or first.paths != sorted(first.paths)
        expected = np.array(sorted(first.paths))[np.random.default_rng(1).permutation(6)]
        assert first.paths == expected.tolist()

    def test_tar_gz_gives_the_same_result_as_the_folder(self):
        folder = self.folder
        tmp_path = self.tmp_path
        archive = tar_of(folder, tmp_path / "images.tar.gz")
        a, b = load_image_folder(folder, seed=3), load_image_folder(archive, seed=3)
        assert a.paths == b.paths and a.class_names == b.class_names
        np.testing.assert_array_equal(a.images, b.images)

    def test_subdir_selects_a_split(self):
        tmp_path = self.tmp_path
        for split in ("train", "test"):
            write_image(tmp_path / "d" / split / "a" / "x.png", value=50 if split == "train" else 150)
        archive = tar_of(tmp_path / "d", tmp_path / "d.tar.gz")
        for source in (tmp_path / "d", archive):
            assert load_image_folder(source, subdir="test").images.min() == 150
            assert load_image_folder(source, subdir="train").images.max() == 50

    def test_grayscale_rgba_and_palette_images_are_converted_to_rgb(self):
        tmp_path = self.tmp_path
        write_image(tmp_path / "a" / "gray.png", "L", value=77)
        write_image(tmp_path / "a" / "rgba.png", "RGBA", value=77)
        write_image(tmp_path / "a" / "palette.gif", "P", value=3)
        data = load_image_folder(tmp_path)
        assert data.images.shape == (3, 6, 8, 3)
        gray = data.images[data.paths.index("a/gray.png")]
        assert (gray == 77).all()

    def test_other_sizes_are_resized_and_without_image_size_they_are_an_error(self):
        tmp_path = self.tmp_path
        write_image(tmp_path / "a" / "small.png", size=(4, 4))
        write_image(tmp_path / "a" / "large.png", size=(50, 20))
        data = load_image_folder(tmp_path, image_size=(32, 32))
        assert data.images.shape == (2, 32, 32, 3)
        with pytest.raises(ValueError, match="differ in size.*image_size"):
            load_image_folder(tmp_path)

    def test_corrupt_and_zero_byte_files_are_skipped_counted_and_named(self):
        folder = self.folder
        (folder / "cat" / "empty.jpg").write_bytes(b"")
        (folder / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        png = io.BytesIO()
        Image.new("RGB", (8, 6)).save(png, format="PNG")
        (folder / "dog" / "truncated.png").write_bytes(png.getvalue()[:40])
        with pytest.warns(UserWarning, match=r"skipped 3 file\(s\).*cat/empty.jpg \(empty file"):
            data = load_image_folder(folder)
        assert len(data.images) == 6
        assert sorted(p for p, _ in data.skipped) == ["cat/empty.jpg", "dog/broken.jpg", "dog/truncated.png"]

    def test_missing_path_and_empty_folders_are_clear_errors(self):
        tmp_path = self.tmp_path
        with pytest.raises(FileNotFoundError, match="does not exist"):
            load_image_folder(tmp_path / "nowhere")
        (tmp_path / "empty" / "class").mkdir(parents=True)
        with pytest.raises(ValueError, match="no readable images"):
            load_image_folder(tmp_path / "empty")
        with pytest.raises(FileNotFoundError, match="not a directory"):
            load_image_folder(tmp_path / "empty", subdir="train")

    def test_files_outside_class_folders_are_skipped(self):
        folder = self.folder
        write_image(folder / "loose.png")
        with pytest.warns(UserWarning, match="loose.png \\(not inside a class subfolder\\)"):
            assert len(load_image_folder(folder).images) == 6

    def test_single_image_files(self):
        tmp_path = self.tmp_path
        good = write_image(tmp_path / "q.png", "L", size=(40, 40))
        assert load_image_files([good], (32, 32)).shape == (1, 32, 32, 3)
        with pytest.raises(FileNotFoundError, match="missing.png"):
            load_image_files([tmp_path / "missing.png"])
        (tmp_path / "bad.jpg").write_bytes(b"nope")
        with pytest.raises(ValueError, match="bad.jpg: not a readable image"):
            load_image_files([tmp_path / "bad.jpg"])
        with pytest.raises(ValueError, match="empty file"):
            decode_image(b"")
