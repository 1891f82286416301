"""Model files are written to a temporary name and renamed, so none is ever left half-written."""

from __future__ import annotations

import os
from pathlib import Path

import keras


def partial_path(path: str | os.PathLike) -> Path:
    """The temporary name a file is written under before its rename: ``x.h5`` -> ``x.partial.h5``."""
    path = Path(path)
    suffix = ".weights.h5" if path.name.endswith(".weights.h5") else path.suffix
    return path.with_name(path.name[: -len(suffix)] + ".partial" + suffix)


def save_model(model: keras.Model, path: str | os.PathLike) -> Path:
    """Saves ``model`` (format from the suffix, e.g. ``.h5``) by writing a temporary file and renaming
    it over ``path``; a process killed mid-way leaves at most a ``*.partial.*`` file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    model.save(temporary)
    os.replace(temporary, path)
    return path


def save_weights(model: keras.Model, path: str | os.PathLike) -> Path:
    """Like save_model, for ``model.save_weights`` (``path`` ends with ``.weights.h5``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    model.save_weights(temporary)
    os.replace(temporary, path)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes a text file atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text)
    os.replace(temporary, path)
    return path
