"""The model zoo: trained models in a folder (``saved_models/``, or $TFML_ZOO) listed in its ``zoo.json``.

Each entry: name, file, study, data, command (reproduces the model), metrics, size_bytes, sha256,
input_shape, output_shape, description. ``load(name)`` checks the file's sha256 before loading:
a mismatch is an error, never a silent load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras

from tfml import paths
from tfml.io import atomic_write, sha256, write_text
from tfml.models.inputs import describe_input

KINDS = {
    "image-encoder": "an image encoder (uint8 image -> embedding vector)",
    "autoencoder": "an autoencoder (uint8 image -> reconstructed image)",
    "movie-embedding": "a movie embedding matrix (movie index -> vector, rows carry MovieLens ids)",
    "poster-text-aligner": "a poster / synopsis aligner (inputs poster and text -> their embeddings, shape 2 x D)",
}


def folder(zoo_dir: str | os.PathLike | None = None) -> Path:
    """``zoo_dir``, or the project's zoo (``tfml.paths.zoo_dir``)."""
    return Path(zoo_dir) if zoo_dir is not None else paths.zoo_dir()


def entries(zoo_dir: str | os.PathLike | None = None) -> list[dict]:
    """All entries of zoo.json (empty when there is none)."""
    path = folder(zoo_dir) / "zoo.json"
    return json.loads(path.read_text())["models"] if path.exists() else []


def entry(name: str, zoo_dir: str | os.PathLike | None = None) -> dict:
    for item in entries(zoo_dir):
        if item["name"] == name:
            return item
    names = ", ".join(item["name"] for item in entries(zoo_dir)) or "none"
    raise KeyError(f"no model named {name!r} in the zoo ({folder(zoo_dir) / 'zoo.json'}); available: {names}")


def verified_path(name: str, zoo_dir: str | os.PathLike | None = None) -> Path:
    """The file of zoo model ``name`` after checking that it exists and its sha256 matches."""
    item = entry(name, zoo_dir)
    path = folder(zoo_dir) / item["file"]
    if not path.is_file():
        raise FileNotFoundError(f"zoo model {name!r}: file {path} is missing")
    actual = sha256(path)
    if actual != item["sha256"]:
        raise ValueError(
            f"zoo model {name!r}: {path} has sha256 {actual}, zoo.json expects {item['sha256']}; "
            "the file is damaged or was replaced"
        )
    return path


def load(name: str, zoo_dir: str | os.PathLike | None = None, compile: bool = False) -> keras.Model:
    """Loads zoo model ``name`` (sha256 checked)."""
    return keras.models.load_model(verified_path(name, zoo_dir), compile=compile)


def resolve(name_or_path: str, zoo_dir: str | os.PathLike | None = None) -> Path:
    """A model file path: ``name_or_path`` itself if it is a file, else the verified zoo file."""
    if Path(name_or_path).is_file():
        return Path(name_or_path)
    try:
        return verified_path(name_or_path, zoo_dir)
    except KeyError as error:
        raise FileNotFoundError(f"{name_or_path!r} is neither a model file nor a zoo model: {error.args[0]}") from None


def kind_of_shapes(input_shape, output_shape) -> str:
    """ "image-encoder", "autoencoder", "movie-embedding", "poster-text-aligner" or "other", from a
    model's shapes (batch axis left out; a dict for a model with named inputs)."""
    if isinstance(input_shape, dict):
        return "poster-text-aligner" if set(input_shape) == {"poster", "text"} else "other"
    if len(input_shape) == 0 and len(output_shape) == 1:
        return "movie-embedding"
    if len(input_shape) == 3 and len(output_shape) == 1:
        return "image-encoder"
    if len(input_shape) == 3 and list(output_shape) == list(input_shape):
        return "autoencoder"
    return "other"


def model_kind(model: keras.Model) -> str:
    return kind_of_shapes(describe_input(model)["input_shape"], model.output_shape[1:])


def require_kind(
    model: keras.Model, kind: str, reference: str, zoo_dir: str | os.PathLike | None = None
) -> keras.Model:
    """``model`` itself if it is of ``kind``, else a ValueError saying what it is and which zoo models fit."""
    actual = model_kind(model)
    if actual == kind:
        return model
    fitting = [
        item["name"] for item in entries(zoo_dir) if kind_of_shapes(item["input_shape"], item["output_shape"]) == kind
    ]
    raise ValueError(
        f"{reference} is {KINDS.get(actual, 'a model of another kind')} (input {describe_input(model)['input_shape']}, "
        f"output {list(model.output_shape[1:])}); this command needs {KINDS[kind]}. "
        f"Zoo models that fit: {', '.join(fitting) or 'none'}"
    )


def load_model(reference: str, zoo_dir: str | os.PathLike | None = None) -> tuple[keras.Model, dict]:
    """(the model, its record {"model", "file", "sha256", "input_shape", "input_dtype", "preprocessing"})
    for a zoo name (sha256 checked) or a model file; a damaged file is a clear error."""
    path = resolve(reference, zoo_dir)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # h5py and Keras raise many types for a truncated or foreign file
        raise ValueError(f"{path} is not a readable Keras model file ({type(error).__name__}: {error})") from None
    return model, {"model": reference, "file": str(path), "sha256": sha256(path), **describe_input(model)}


def add(
    name: str,
    model: keras.Model,
    *,
    study: str,
    data: str,
    command: str,
    metrics: dict,
    description: str,
    zoo_dir: str | os.PathLike | None = None,
) -> dict:
    """Saves ``model`` (without optimizer state) as ``<name>.h5`` and adds or replaces its entry."""
    zoo_dir = folder(zoo_dir)
    path = atomic_write(zoo_dir / f"{name}.h5", lambda p: model.save(p, include_optimizer=False))
    item = {
        "name": name,
        "file": path.name,
        "study": study,
        "data": data,
        "command": command,
        "metrics": metrics,
        "size_bytes": path.stat().st_size,
        "sha256": sha256(path),
        **describe_input(model),
        "output_shape": list(model.output_shape[1:]),
        "description": description,
    }
    others = [other for other in entries(zoo_dir) if other["name"] != name]
    write_text(
        zoo_dir / "zoo.json", json.dumps({"models": sorted(others + [item], key=lambda e: e["name"])}, indent=2) + "\n"
    )
    return item
