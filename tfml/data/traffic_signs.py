"""Traffic-sign crops (Tsinghua-Tencent 100K): class folders per sign code, train/ and test/.

``load_traffic_signs`` merges the two splits (a class present in only one split is kept like any
other), keeps the classes with at least ``min_images`` crops, and re-splits each class
``test_fraction`` / rest with a seed. Crops of any size are padded to a square (black, centred, so
signs keep their shape whatever the aspect ratio) and resized to image_size x image_size; crops whose
shorter side is below ``min_side`` pixels are skipped and counted (see tfml.data.images).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np

from tfml.data.images import load_image_folder
from tfml.data.splits import stratified_split

log = logging.getLogger(__name__)

# TT100K sign families by code prefix, in display order; io, po, wo are catch-all "other" classes.
FAMILIES = (("pl", "speed limit"), ("pm", "weight limit"), ("ph", "height limit"), ("pw", "width limit"),
            ("pr", "speed limit end"), ("pa", "axle limit"), ("p", "prohibitory"), ("i", "mandatory"),
            ("w", "warning"))
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


def load_traffic_signs(
    path: str | os.PathLike,
    image_size: int = 64,
    min_images: int = 20,
    test_fraction: float = 0.2,
    seed: int = 0,
    min_side: int = 4,
    progress: bool = False,
) -> TrafficSigns:
    """See the module docstring. Raises FileNotFoundError naming ``--data`` when the path is missing."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"traffic-sign data {path} does not exist; pass --data with the TT100K crops "
                                "(a folder or .tar.gz with train/<code>/ and test/<code>/, e.g. ../shared/data/tt100k-crops.tar.gz)")
    if min_images < 2:
        raise ValueError(f"min_images must be at least 2 to split every class, got {min_images}")
    parts = [load_image_folder(path, (image_size, image_size), subdir=split, seed=seed, progress=progress,
                               pad_to_square=True, min_side=min_side) for split in ("train", "test")]
    names = sorted(set(parts[0].class_names) | set(parts[1].class_names))
    images = np.concatenate([part.images for part in parts])
    labels = np.concatenate([np.array([names.index(part.class_names[l]) for l in part.labels], np.int64) for part in parts])
    counts = np.bincount(labels, minlength=len(names))
    kept = [i for i, count in enumerate(counts) if count >= min_images]
    dropped = {names[i]: int(counts[i]) for i in range(len(names)) if counts[i] < min_images}
    log.info("traffic signs: %d classes with >= %d images kept (%d images), %d dropped", len(kept), min_images,
             int(counts[kept].sum()), len(dropped))
    remap = np.full(len(names), -1, np.int64)
    remap[kept] = np.arange(len(kept))
    keep = remap[labels] >= 0
    images, labels = images[keep], remap[labels[keep]]
    train, test = stratified_split(labels, test_fraction, seed)
    return TrafficSigns(images[train], labels[train], images[test], labels[test], [names[i] for i in kept], dropped,
                        len(parts[0].skipped) + len(parts[1].skipped))
