"""Images from any named source as one labelled set with stable ids (for encoding and retrieval)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from tfml.data.cifar10 import load_cifar10
from tfml.data.images import archive_members, is_archive, load_image_folder


@dataclasses.dataclass
class LabelledImages:
    images: np.ndarray  # uint8 (N, H, W, 3)
    labels: np.ndarray  # int64 (N,)
    class_names: list[str]
    ids: list[str]  # relative path or archive member ("test/cat/0042.jpg"); "cifar10:test/3" for a download


def _has_splits(path: Path) -> bool:
    if is_archive(path):
        for name, member, _ in archive_members(path):
            if name.split("/", 1)[0] in ("train", "test"):
                return True
            if member.isfile():
                return False
        return False
    return (path / "train").is_dir() and (path / "test").is_dir()


def load_labelled_images(
    source: str | os.PathLike, image_size=(32, 32), seed: int = 0, progress: bool = False
) -> LabelledImages:
    """``source``: "cifar10", "sample", a folder/.tar.gz with train/ and test/ class folders (the
    CIFAR-10 loader; train first, then test), or any other class-folder tree (the folder loader)."""
    path = Path(source)
    if str(source) in ("cifar10", "sample") or (path.exists() and _has_splits(path)):
        data = load_cifar10(source, seed=seed, progress=progress)
        images = np.concatenate([data.x_train, data.x_test])
        labels = np.concatenate([data.y_train, data.y_test]).reshape(-1)
        return LabelledImages(images, labels, data.class_names, data.ids_train + data.ids_test)
    folder = load_image_folder(path, image_size, seed=seed, progress=progress)
    return LabelledImages(folder.images, folder.labels, folder.class_names, folder.paths)
