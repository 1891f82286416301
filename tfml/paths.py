"""Where tfml finds its files, in one place.

The project root is the folder that holds ``data/`` (the embedded samples and the download cache),
``saved_models/`` (the model zoo) and ``benchmarks/results/``: by default the folder above the
``tfml`` package. Two environment variables move them:

- ``TFML_ROOT``: another project root;
- ``TFML_ZOO``: another model zoo folder (one with a ``zoo.json``).

A variable that names no folder is an error that says so, never a silent fallback.

>>> zoo_dir().name
'saved_models'
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_VARIABLE = "TFML_ROOT"
ZOO_VARIABLE = "TFML_ZOO"
PACKAGE_DIR = Path(__file__).resolve().parent


def _folder_from(variable: str) -> Path | None:
    value = os.environ.get(variable, "")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise NotADirectoryError(
            f"the environment variable {variable}={value!r} names no folder; unset it or name an existing one"
        )
    return path


def project_root() -> Path:
    """$TFML_ROOT, or the folder above the ``tfml`` package."""
    return _folder_from(ROOT_VARIABLE) or PACKAGE_DIR.parent


def data_dir() -> Path:
    """The embedded data sets (``cifar10-sample.tar.gz``, ``ml-latest-small/``)."""
    return project_root() / "data"


def cache_dir() -> Path:
    """Downloads (CIFAR-10 through keras.datasets or tensorflow-datasets)."""
    return data_dir() / "cache"


def zoo_dir() -> Path:
    """$TFML_ZOO, or ``saved_models/`` of the project root."""
    return _folder_from(ZOO_VARIABLE) or project_root() / "saved_models"


def benchmark_results_dir() -> Path:
    """Recorded benchmark results (e.g. the pytorch-metric-learning reference rows)."""
    return project_root() / "benchmarks" / "results"
