"""Reading and writing files: every file tfml writes goes to a temporary name first and is renamed,
so none is ever left half-written, and no output lands on a user's file by mistake.

- ``atomic_write(path, write)`` is the mechanism for a file (``write_text``, ``save_model``,
  ``save_weights`` and ``save_figure`` are its common uses), ``atomic_folder(path, build)`` for a
  folder (built beside it, then renamed into place whole). A process killed mid-way leaves at most a
  ``*.partial*`` file or folder beside the target, never a damaged target; a failed write removes
  its partial file and names the target, not the temporary name.
- ``claim_outputs(paths, inputs=..., overwrite=...)`` checks the outputs a command is about to write,
  all of them before any is written: none is one of its inputs, none is named twice, none exists
  unless ``overwrite``, and a file output is not a folder (and the other way round).
- ``read_text(path)`` decodes a text file (UTF-8, or UTF-8 / UTF-16 / UTF-32 with a byte-order
  mark); a file in another encoding is a ValueError naming the file and the line.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterable
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


def _named(error: OSError, path: Path) -> OSError:
    """The same error, naming ``path`` (the user's file) instead of a temporary name."""
    named = (
        type(error)(error.errno, error.strerror or str(error), str(path))
        if error.errno
        else type(error)(f"{path}: {error}")
    )
    return named


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Calls ``write(temporary_path)`` and renames the result over ``path``; a process killed
    mid-way leaves at most a ``*.partial*`` file behind, never a damaged ``path``. A write that
    fails (a full disk, say) removes its partial file and raises an error that names ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _named(error, path) from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def atomic_folder(path: str | os.PathLike, build: Callable[[Path], object]) -> Path:
    """Calls ``build(temporary_folder)`` (a new empty folder beside ``path``) and puts the result in
    place of ``path`` whole: an earlier folder there is replaced only once the new one is complete,
    so it never ends up holding a mix of old and new files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.partial-{os.getpid()}")
    previous = path.with_name(f"{path.name}.previous-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        build(temporary)
        if path.exists():
            os.replace(path, previous)
        os.replace(temporary, path)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise _named(error, path) from error
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(previous, ignore_errors=True)
    return path


def claim_outputs(
    outputs: Iterable[str | os.PathLike],
    *,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
    folders: Iterable[str | os.PathLike] = (),
    option: str = "--overwrite",
) -> list[Path]:
    """Checks every output a command will write before it writes any (see the module docstring);
    ``folders`` are the outputs that are folders. Returns the outputs as paths; a problem is an
    error that names the path."""
    outputs = [Path(p) for p in outputs]
    folder_outputs = {Path(p).resolve() for p in folders}
    inputs = {Path(p).resolve(): Path(p) for p in inputs}
    seen: dict[Path, Path] = {}
    for path in outputs:
        resolved = path.resolve()
        if resolved in inputs:
            raise ValueError(
                f"{path} is also an input of this command: writing it would destroy the input; name another output"
            )
        if resolved in seen:
            raise ValueError(f"{seen[resolved]} and {path} would be written to the same file")
        seen[resolved] = path
        is_folder = resolved in folder_outputs
        if path.exists() and not is_folder and path.is_dir():
            raise IsADirectoryError(f"{path} is a folder; name a file")
        if path.exists() and is_folder and not path.is_dir():
            raise NotADirectoryError(f"{path} is a file; name a folder")
        if path.exists() and not overwrite and not (is_folder and not any(path.iterdir())):
            raise FileExistsError(
                f"{path} exists; pass {option} to replace it, or name another {'folder' if is_folder else 'file'}"
            )
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise NotADirectoryError(f"{path}: {parent} is a file, not a folder")
                break
    return outputs


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_text(path: str | os.PathLike, encoding: str | None = None) -> str:
    """The text of a file: in ``encoding`` when given, else UTF-8, or the encoding its byte-order
    mark names. Bytes that do not decode are a ValueError naming the file, the line and the column."""
    path = Path(path)
    data = path.read_bytes()
    if encoding is None:
        encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ValueError(
            f"{path}, line {line}, column {column}: not {encoding} text (byte 0x{data[error.start]:02x}); "
            "save the file as UTF-8"
        ) from None


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
