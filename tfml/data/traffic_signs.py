"""Traffic-sign crops (Tsinghua-Tencent 100K): class folders per sign code, train/ and test/.

``load_traffic_signs`` merges the two splits (a class present in only one split is kept like any
other), keeps the classes with at least ``min_images`` crops, and re-splits each class by the rule of
the pytorch-metric-learning reference (so figures compare one to one): classes in sorted order, each
class's files sorted by file name, one ``numpy.random.default_rng(seed)`` drawing
``perm = rng.permutation(n)`` per class in that order, the first ``round(train_fraction * n)`` of the
permuted files for training. With seed 0 and the TT100K crops: 71 classes, 19,371 training and
4,843 test images. Crops are resized to image_size x image_size (PIL bilinear, as the reference), or
first padded to a square (``pad_to_square``: black, centred, signs keep their shape); crops whose
shorter side is below ``min_side`` pixels are skipped and counted (see tfml.data.images).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np

from tfml.data.images import load_image_folder

log = logging.getLogger(__name__)

# TT100K sign families by code prefix, in display order; io, po, wo are catch-all "other" classes.
FAMILIES = (
    ("pl", "speed limit"),
    ("pm", "weight limit"),
    ("ph", "height limit"),
    ("pw", "width limit"),
    ("pr", "speed limit end"),
    ("pa", "axle limit"),
    ("p", "prohibitory"),
    ("i", "mandatory"),
    ("w", "warning"),
)
OTHER = ("io", "po", "wo")


def sign_family(code: str) -> str:
    """The family of a TT100K code: 'speed limit' for pl80, 'other' for io/po/wo, ..."""
    if code in OTHER:
        return "other"
    for prefix, family in FAMILIES:
        if code.startswith(prefix):
            return family
    return "other"


def family_order(class_names: list[str]) -> list[int]:
    """Class indices sorted by family (FAMILIES order, 'other' last), then by code."""
    rank = {family: i for i, (_, family) in enumerate(FAMILIES)}
    rank["other"] = len(rank)
    return sorted(range(len(class_names)), key=lambda i: (rank[sign_family(class_names[i])], class_names[i]))


@dataclasses.dataclass
class TrafficSigns:
    x_train: np.ndarray  # uint8 (N, S, S, 3)
    y_train: np.ndarray  # int64 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    dropped_classes: dict[str, int]  # class -> images, for classes under min_images
    skipped_files: int
    ids_train: list[str] = dataclasses.field(default_factory=list)  # "train/pl50/1234.jpg": split folder, class, file
    ids_test: list[str] = dataclasses.field(default_factory=list)


def load_traffic_signs(
    path: str | os.PathLike,
    image_size: int = 64,
    min_images: int = 20,
    train_fraction: float = 0.8,
    seed: int = 0,
    pad_to_square: bool = False,
    min_side: int = 4,
    progress: bool = False,
) -> TrafficSigns:
    """See the module docstring. Raises FileNotFoundError naming ``--data`` when the path is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"traffic-sign data {path} does not exist; pass --data with the TT100K crops "
            "(a folder or .tar.gz with train/<code>/ and test/<code>/, e.g. ../shared/data/tt100k-crops.tar.gz)"
        )
    if min_images < 2:
        raise ValueError(f"min_images must be at least 2 to split every class, got {min_images}")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    parts = {
        split: load_image_folder(
            path,
            (image_size, image_size),
            subdir=split,
            seed=seed,
            progress=progress,
            pad_to_square=pad_to_square,
            min_side=min_side,
        )
        for split in ("train", "test")
    }
    by_class: dict[str, list[tuple[str, str, np.ndarray]]] = {}
    for split, part in parts.items():
        for relative, image in zip(part.paths, part.images):
            code, name = relative.split("/", 1)
            by_class.setdefault(code, []).append((Path(name).name, f"{split}/{relative}", image))
    dropped = {code: len(files) for code, files in sorted(by_class.items()) if len(files) < min_images}
    kept = sorted(code for code, files in by_class.items() if len(files) >= min_images)
    if not kept:
        raise ValueError(f"{path}: no class has {min_images} or more crops")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label, code in enumerate(kept):
        files = sorted(by_class[code], key=lambda item: (item[0], item[1]))  # by file name
        permuted = [files[i] for i in rng.permutation(len(files))]
        cut = round(train_fraction * len(files))
        train += [(label, item) for item in permuted[:cut]]
        test += [(label, item) for item in permuted[cut:]]
    log.info(
        "traffic signs: %d classes with >= %d images kept (%d train, %d test), %d dropped",
        len(kept),
        min_images,
        len(train),
        len(test),
        len(dropped),
    )

    def arrays(rows):
        return (
            np.stack([item[2] for _, item in rows]),
            np.array([label for label, _ in rows], np.int64),
            [item[1] for _, item in rows],
        )

    x_train, y_train, ids_train = arrays(train)
    x_test, y_test, ids_test = arrays(test)
    return TrafficSigns(
        x_train,
        y_train,
        x_test,
        y_test,
        kept,
        dropped,
        len(parts["train"].skipped) + len(parts["test"].skipped),
        ids_train,
        ids_test,
    )
