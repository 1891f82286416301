"""CIFAR-10 as numpy arrays from a named source; never a silent fallback between sources.

Sources (``--data``):
- ``"cifar10"``: the real data set, from tensorflow-datasets, else ``keras.datasets.cifar10``;
  downloads and caches when online, and fails with a clear error offline.
- ``"sample"``: the 2,500-image sample embedded in the package (``tfml/embedded/cifar10-sample.tar.gz``:
  the first 200 training and 50 test images of each class of the JPEG copy of CIFAR-10).
- a path: a folder or ``.tar.gz`` with ``train/<class>/*`` and ``test/<class>/*``, ordered by the
  seeded shuffle of ``tfml.data.images``.

Contract: x_* are uint8 RGB, shape (N, 32, 32, 3) (the models convert them); y_* are int64, shape
(N, 1); ids_* name each image: its path inside the folder or archive ("test/cat/0042.jpg"), or its
position in the official split ("cifar10:test/42") for a download.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from pathlib import Path

import numpy as np

from tfml import paths
from tfml.data.images import load_image_folder

log = logging.getLogger(__name__)

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SAMPLE_FILE = "cifar10-sample.tar.gz"


@dataclasses.dataclass
class Cifar10:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str  # what was loaded, e.g. "tfds:cifar10" or the resolved path
    ids_train: list[str]
    ids_test: list[str]


def _from_uint8(x_train, y_train, x_test, y_test, class_names, source, ids_train=None, ids_test=None) -> Cifar10:
    prefix = source.split(":")[-1]
    return Cifar10(
        np.asarray(x_train, dtype=np.uint8),
        np.asarray(y_train, dtype=np.int64).reshape(-1, 1),
        np.asarray(x_test, dtype=np.uint8),
        np.asarray(y_test, dtype=np.int64).reshape(-1, 1),
        list(class_names),
        source,
        ids_train or [f"{prefix}:train/{i}" for i in range(len(x_train))],
        ids_test or [f"{prefix}:test/{i}" for i in range(len(x_test))],
    )


DOWNLOAD_HOST = "www.cs.toronto.edu"  # where both tensorflow-datasets and keras.datasets fetch CIFAR-10


def _reachable(host: str, timeout: float = 5.0) -> bool:
    """Whether ``host`` answers on port 443 (tensorflow-datasets retries a failing download for
    minutes; this tells in seconds that it would fail)."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _download(cache_dir: Path | None) -> Cifar10:
    """The real CIFAR-10: tensorflow-datasets (the ``tfds`` extra; prepared once in the cache), else
    keras.datasets, each route's failure said in one line; both failing is an error naming the others."""
    errors = []
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        tfds = None
        log.warning(
            "tensorflow-datasets is not installed (pip install 'tfml[tfds]'); downloading CIFAR-10 through "
            "keras.datasets"
        )
    if tfds is not None:
        data_dir = str(cache_dir / "tfds") if cache_dir else None  # None: tensorflow-datasets' own folder
        if tfds.builder("cifar10", data_dir=data_dir).is_prepared() or _reachable(DOWNLOAD_HOST):
            try:
                splits = tfds.load("cifar10", split=["train", "test"], as_supervised=True, data_dir=data_dir)
                arrays = []
                for split in splits:
                    batches = list(tfds.as_numpy(split.batch(10_000)))
                    arrays += [np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])]
                return _from_uint8(*arrays, CLASS_NAMES, "tfds:cifar10")
            except Exception as error:  # tfds raises many types (DownloadError, OSError, missing dependencies, ...)
                errors.append(f"tensorflow-datasets: {type(error).__name__}: {error}")
                log.warning(
                    "tensorflow-datasets could not load cifar10 (%s: %s); trying keras.datasets",
                    type(error).__name__,
                    error,
                )
        else:
            errors.append(f"tensorflow-datasets: cifar10 is not in {data_dir} and {DOWNLOAD_HOST} cannot be reached")
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
        return _from_uint8(x_train, y_train, x_test, y_test, CLASS_NAMES, "keras.datasets:cifar10")
    except Exception as error:
        errors.append(f"keras.datasets: {type(error).__name__}: {error}")
    raise RuntimeError(
        "could not download CIFAR-10 (offline?): "
        + "; ".join(errors)
        + ". Use --data sample (the embedded sample) or --data PATH to a folder or .tar.gz with "
        "train/<class>/ and test/<class>/ (e.g. ../shared/data/cifar10-jpg.tar.gz)."
    )


def sample_path() -> Path:
    """The embedded 2,500-image sample."""
    return paths.embedded_dir() / SAMPLE_FILE


def load_cifar10(source: str | os.PathLike = "sample", seed: int = 0, progress: bool = False) -> Cifar10:
    """Loads CIFAR-10 from ``source`` ("cifar10", "sample" or a path); see the module docstring."""
    if str(source) == "cifar10":
        data = _download(paths.cache_dir())
    else:
        path = sample_path() if str(source) == "sample" else Path(source)
        if not path.exists():
            raise FileNotFoundError(
                f"CIFAR-10 source {path} does not exist; --data takes 'cifar10', 'sample' or a path"
            )
        train = load_image_folder(path, (32, 32), subdir="train", seed=seed, progress=progress)
        test = load_image_folder(path, (32, 32), subdir="test", seed=seed, progress=progress)
        if train.class_names != test.class_names:
            raise ValueError(f"{path}: train classes {train.class_names} differ from test classes {test.class_names}")
        data = _from_uint8(
            train.images,
            train.labels,
            test.images,
            test.labels,
            train.class_names,
            str(path.resolve()),
            [f"train/{p}" for p in train.paths],
            [f"test/{p}" for p in test.paths],
        )
    log.info("CIFAR-10 source: %s (%d train, %d test)", data.source, len(data.x_train), len(data.x_test))
    return data
