"""Traffic-sign crops: merge, filter, the reference split, padding, skipped files, sign families."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import TestCase, shared_file
from tfml.data.traffic_signs import family_order, load_traffic_signs, sign_family


def write(path, size, colour=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def make_small_signs(root):
    root = root / "signs"
    for i in range(3):
        write(root / "train" / "pl50" / f"{i}.png", (30, 32))
        write(root / "test" / "pl50" / f"{i}.png", (40, 40))
    for i in range(4):
        write(root / "test" / "w57" / f"{i}.png", (60, 6) if i == 0 else (20, 20))  # only in test, one extreme
    write(root / "train" / "io" / "0.png", (20, 20))  # a class with one image
    write(root / "train" / "pl50" / "tiny.png", (3, 3))  # below min_side
    return root


class TrafficSignsTest(TestCase):
    """load_traffic_signs and the sign families."""

    def setUp(self):
        super().setUp()
        self.small_signs = make_small_signs(Path(self.get_temp_dir()))

    def test_merge_filter_split_pad_and_skip(self):
        small_signs = self.small_signs
        with pytest.warns(UserWarning, match="tiny.png \\(too small \\(3x3 px"):
            data = load_traffic_signs(
                small_signs, image_size=16, min_images=4, train_fraction=0.75, seed=0, pad_to_square=True
            )
        assert data.class_names == ["pl50", "w57"]  # w57 only in test before merging: kept
        assert data.dropped_classes == {"io": 1}
        assert data.skipped_files == 1
        assert len(data.x_train) + len(data.x_test) == 10 and data.x_train.shape[1:] == (16, 16, 3)
        assert np.bincount(data.y_test).tolist() == [2, 1]
        # the 60 x 6 crop is padded to a square: a thin red band between black rows
        all_images = np.concatenate([data.x_train, data.x_test])
        banded = [im for im in all_images if im[0].max() == 0 and im[8, :, 0].max() > 100]
        assert len(banded) == 1

    def test_split_follows_the_reference_rule(self):
        small_signs = self.small_signs

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = load_traffic_signs(small_signs, image_size=16, min_images=4, train_fraction=0.75, seed=3)
        # the rule written out: classes sorted, files sorted by name, one rng in class order, first round(0.75 n) train
        rng = np.random.default_rng(3)
        expected_train, expected_test = [], []
        for _code, files in (
            ("pl50", [f"{split}/pl50/{i}.png" for i in range(3) for split in ("test", "train")]),
            ("w57", [f"test/w57/{i}.png" for i in range(4)]),
        ):
            files = sorted(files, key=lambda f: (f.rsplit("/", 1)[1], f))
            permuted = [files[i] for i in rng.permutation(len(files))]
            expected_train += permuted[: round(0.75 * len(files))]
            expected_test += permuted[round(0.75 * len(files)) :]
        assert data.ids_train == expected_train and data.ids_test == expected_test

    def test_missing_data_names_the_option(self):
        tmp_path = self.tmp_path
        with pytest.raises(FileNotFoundError, match="pass --data"):
            load_traffic_signs(tmp_path / "nowhere.tar.gz")
        with pytest.raises(ValueError, match="min_images must be at least 2"):
            load_traffic_signs(tmp_path, min_images=1)

    def test_families(self):
        assert sign_family("pl80") == "speed limit" and sign_family("pm55") == "weight limit"
        assert sign_family("io") == sign_family("po") == "other" and sign_family("w57") == "warning"
        assert sign_family("i5") == "mandatory" and sign_family("p11") == "prohibitory"
        names = ["w57", "io", "pl80", "i5", "pl5"]
        assert [names[i] for i in family_order(names)] == ["pl5", "pl80", "i5", "w57", "io"]

    def test_real_crops_give_71_classes_and_24214_images(self):
        data = load_traffic_signs(shared_file("tt100k-crops.tar.gz"))
        assert len(data.class_names) == 71
        assert len(data.x_train) + len(data.x_test) == 24214
        assert (len(data.x_train), len(data.x_test)) == (19371, 4843)  # the reference split's counts
        assert data.x_train.shape[1:] == (64, 64, 3) and data.x_train.dtype == np.uint8
