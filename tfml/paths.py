"""Where tfml finds its files, in one place.

The embedded data sets travel inside the package (``tfml/embedded/``, also in the wheel). The
project root is the repository checkout that holds ``saved_models/`` (the model zoo) and
``benchmarks/results/``: by default the folder above the ``tfml`` package. Downloads go to the
user's cache (``$XDG_CACHE_HOME/tfml`` or ``~/.cache/tfml``). Two environment variables move the rest:

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


def embedded_dir() -> Path:
    """The embedded data sets (``cifar10-sample.tar.gz``, ``ml-latest-small/``), package data."""
    return PACKAGE_DIR / "embedded"


def cache_dir() -> Path | None:
    """$XDG_CACHE_HOME/tfml (an absolute path), else ~/.cache/tfml; None without a home folder.
    Downloads (CIFAR-10 through tensorflow-datasets) and the command line's study list live here."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "tfml"


def zoo_dir() -> Path:
    """$TFML_ZOO, or ``saved_models/`` of the project root."""
    return _folder_from(ZOO_VARIABLE) or project_root() / "saved_models"


def benchmark_results_dir() -> Path:
    """Recorded benchmark results (e.g. the pytorch-metric-learning reference rows)."""
    return project_root() / "benchmarks" / "results"
