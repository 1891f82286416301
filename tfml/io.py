"""Writing files: every file tfml writes goes to a temporary name first and is renamed, so none is
ever left half-written.

``atomic_write(path, write)`` is the mechanism; ``write_text``, ``save_model``, ``save_weights`` and
``save_figure`` are its common uses. A process killed mid-way leaves at most a ``*.partial*`` file
beside the target, never a damaged target.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

LEGACY_HDF5_NOTICE = "You are saving your model as an HDF5 file"


class _DropLegacyHdf5Notice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(LEGACY_HDF5_NOTICE)


def quiet_saving() -> None:
    """Drops Keras's "legacy format" notice, logged through absl at every .h5 save. tfml saves .h5 on
    purpose (the zoo's format, readable by plain keras.models.load_model) and one checkpoint can be
    saved every epoch, so the notice would fill the console. Idempotent."""
    logger = logging.getLogger("absl")
    if not any(isinstance(f, _DropLegacyHdf5Notice) for f in logger.filters):
        logger.addFilter(_DropLegacyHdf5Notice())


quiet_saving()


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary name a file is written under before its rename: ``x.h5`` -> ``x.partial.h5``
    (``x.weights.h5`` -> ``x.partial.weights.h5``, as Keras requires that ending)."""
    path = Path(path)
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix
    return path.with_name(path.name[: len(path.name) - len(suffix)] + ".partial" + suffix)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Calls ``write(temporary_path)`` and renames the result over ``path``; a process killed
    mid-way leaves at most a ``*.partial*`` file behind, never a damaged ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    write(temporary)
    os.replace(temporary, path)
    return path


def save_model(model, path: str | os.PathLike) -> Path:
    """``model.save`` (format from the suffix, e.g. ``.h5``), atomically."""
    return atomic_write(path, model.save)


def save_weights(model, path: str | os.PathLike) -> Path:
    """``model.save_weights`` (``path`` ends with ``.weights.h5``), atomically."""
    return atomic_write(path, model.save_weights)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes a text file atomically (UTF-8)."""
    return atomic_write(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def save_figure(figure, path: str | os.PathLike) -> Path:
    """Saves a matplotlib figure as PNG, atomically, and closes it."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(
            path, lambda temporary: figure.savefig(temporary, dpi=110, bbox_inches="tight", format="png")
        )
    finally:
        plt.close(figure)


def sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
