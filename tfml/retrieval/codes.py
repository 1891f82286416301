"""Encoded images on disk (``codes.npz``): one writer and one reader.

A codes file holds, per row, the code, the label (-1 when unknown), and the image's id (its
relative path or archive member name, e.g. ``test/cat/0042.jpg``), plus the class names and a JSON
record of how it was made: the data source and the encoder (zoo name or file, sha256, input shape
and dtype, preprocessing). ``tfml retrieve`` compares that record with the encoder it is given, so
codes from another encoder are refused instead of giving confident nonsense.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from tfml.io import atomic_write

FORMAT = "tfml-codes-1"


@dataclasses.dataclass
class Codes:
    codes: np.ndarray  # float32 (N, D)
    labels: np.ndarray  # int64 (N,), -1 = unknown
    ids: np.ndarray  # str (N,): relative path or archive member of each image
    class_names: list[str]
    source: str  # the data source as given (--data)
    encoder: dict  # {"model", "file", "sha256", "input_shape", "input_dtype", "preprocessing"}

    def __post_init__(self):
        self.codes = np.asarray(self.codes, np.float32)
        self.labels = np.asarray(self.labels, np.int64).reshape(-1)
        self.ids = np.asarray(self.ids, str).reshape(-1)
        if self.codes.ndim != 2:
            raise ValueError(f"codes must be (N, D), got shape {self.codes.shape}")
        n = len(self.codes)
        if len(self.labels) != n or len(self.ids) != n:
            raise ValueError(
                f"{n} codes but {len(self.labels)} labels and {len(self.ids)} ids; each row needs one of each"
            )
        if len(self.labels) and self.labels.max() >= len(self.class_names):
            raise ValueError(f"label {int(self.labels.max())} has no class name (there are {len(self.class_names)})")

    def label_names(self, rows) -> list[str]:
        return ["?" if label < 0 else self.class_names[label] for label in self.labels[rows].tolist()]


def save_codes(path: str | os.PathLike, codes: Codes) -> Path:
    """Writes ``codes`` to ``path`` (.npz, atomically)."""
    if not str(path).endswith(".npz"):
        raise ValueError(f"{path}: a codes file must end with .npz")
    meta = json.dumps({"format": FORMAT, "source": codes.source, "encoder": codes.encoder})
    return atomic_write(
        path,
        lambda p: np.savez_compressed(
            p,
            codes=codes.codes,
            labels=codes.labels,
            ids=codes.ids,
            class_names=np.asarray(codes.class_names, str),
            meta=np.asarray(meta),
        ),
    )


def load_codes(path: str | os.PathLike) -> Codes:
    """Reads a codes file written by ``save_codes``, or a shard directory (``tfml encode --runner
    beam``); a missing, foreign or damaged file is a clear error."""
    path = Path(path)
    if path.is_dir():
        from tfml.retrieval.shards import EmbeddingShards, is_shard_directory

        if not is_shard_directory(path):
            raise IsADirectoryError(
                f"{path} is a folder but not a shard directory (no manifest.json); give a codes file "
                "(.npz) or a shard directory written by `tfml encode --runner beam`"
            )
        shards = EmbeddingShards(path)
        manifest = shards.manifest
        return Codes(
            shards.vectors(np.arange(len(shards))),
            shards.labels,
            shards.ids,
            list(manifest.get("class_names", [])),
            manifest.get("source", ""),
            manifest.get("encoder", {}),
        )
    if not path.is_file():
        raise FileNotFoundError(f"codes file {path} does not exist (make one with `tfml encode`)")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a readable .npz codes file (not an .npz archive; `tfml encode` writes codes files)"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path} is not a readable .npz codes file ({type(error).__name__}: {error})") from None
    missing = {"codes", "labels", "ids", "class_names", "meta"} - set(arrays)
    if missing:
        raise ValueError(
            f"{path} is not a tfml codes file: it lacks {', '.join(sorted(missing))} (re-encode with `tfml encode`)"
        )
    meta = json.loads(str(arrays["meta"]))
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown codes format {meta.get('format')!r} (expected {FORMAT})")
    codes = Codes(
        arrays["codes"],
        arrays["labels"],
        arrays["ids"],
        arrays["class_names"].tolist(),
        meta["source"],
        meta["encoder"],
    )
    if not np.isfinite(codes.codes).all():
        raise ValueError(f"{path}: codes contain NaN or inf")
    return codes
