"""The model zoo: trained models in a folder (``saved_models/``, or $TFML_ZOO) listed in its ``zoo.json``.

Each entry: name, file, study, data, command (reproduces the model), metrics, size_bytes, sha256,
input_shape, output_shape, description. ``load(name)`` checks the file's sha256 before loading:
a mismatch is an error, never a silent load.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tfml import paths
from tfml.io import atomic_write, read_text, sha256, write_text

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
    if not path.exists():
        return []
    try:
        return json.loads(read_text(path))["models"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a readable zoo list ({type(error).__name__}: {error})") from None


NO_ZOO = (
    "there is no model zoo at {folder} (no zoo.json): the zoo's models live in the saved_models/ folder of "
    "tfml's repository, which an installed wheel does not carry; set TFML_ZOO to a copy of that folder, or give "
    "the path of a model file"
)


def missing(zoo_dir: str | os.PathLike | None = None) -> str | None:
    """Why there is no zoo at the folder (no zoo.json: where the models are), or None."""
    return None if (folder(zoo_dir) / "zoo.json").exists() else NO_ZOO.format(folder=folder(zoo_dir))


def entry(name: str, zoo_dir: str | os.PathLike | None = None) -> dict:
    for item in entries(zoo_dir):
        if item["name"] == name:
            return item
    if why := missing(zoo_dir):
        raise KeyError(f"no model named {name!r}: {why}")
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


def _keras():
    """Keras, with every tfml custom object registered (the command line imports them only when it loads a model)."""
    import keras

    import tfml.losses
    import tfml.models
    import tfml.training  # noqa: F401

    return keras


def load(name: str, zoo_dir: str | os.PathLike | None = None, compile: bool = False):
    """Loads zoo model ``name`` (sha256 checked)."""
    return _keras().models.load_model(verified_path(name, zoo_dir), compile=compile)


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


def output_shape(model) -> list | list[list]:
    """The output shape without the batch axis; a list of them for a model with several outputs."""
    if len(model.outputs) != 1:
        return [list(tensor.shape[1:]) for tensor in model.outputs]
    return list(model.outputs[0].shape[1:])


def model_kind(model) -> str:
    from tfml.models.inputs import describe_input

    if len(model.outputs) != 1:
        return "other"
    return kind_of_shapes(describe_input(model)["input_shape"], output_shape(model))


def require_kind(model, kind: str, reference: str, zoo_dir: str | os.PathLike | None = None, input_shape=None):
    """``model`` itself if it is of ``kind`` (and takes ``input_shape`` when given), else a ValueError
    saying what it is and which zoo models fit."""
    from tfml.models.inputs import describe_input

    actual, given = model_kind(model), describe_input(model)["input_shape"]
    if actual == kind and (input_shape is None or list(given) == list(input_shape)):
        return model
    fitting = [
        item["name"]
        for item in entries(zoo_dir)
        if kind_of_shapes(item["input_shape"], item["output_shape"]) == kind
        and (input_shape is None or list(item["input_shape"]) == list(input_shape))
    ]
    what = KINDS.get(actual, f"a model of another kind ({len(model.outputs)} output(s))")
    needed = KINDS[kind] + ("" if input_shape is None else f" taking {' x '.join(map(str, input_shape))} inputs")
    raise ValueError(
        f"{reference} is {what} (input {given}, output {output_shape(model)}); this command needs {needed}. "
        f"Zoo models that fit: {', '.join(fitting) or 'none'}"
    )


def load_model(reference: str, zoo_dir: str | os.PathLike | None = None) -> tuple:
    """(the model, its record {"model", "file", "sha256", "input_shape", "input_dtype", "preprocessing"})
    for a zoo name (sha256 checked) or a model file; a damaged file is a clear error. A model trained
    with a proxy loss (its ClassProxies on top) gives its embedding network."""
    from tfml.models import embedding_part
    from tfml.models.inputs import describe_input

    path = resolve(reference, zoo_dir)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a model file (.h5 or .keras) or a zoo name")
    try:
        model = _keras().models.load_model(path, compile=False)
    except Exception as error:  # h5py and Keras raise many types for a truncated or foreign file
        raise ValueError(f"{path} is not a readable Keras model file ({type(error).__name__}: {error})") from None
    model = embedding_part(model)
    return model, {"model": reference, "file": str(path), "sha256": sha256(path), **describe_input(model)}


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_new_name(name: str, overwrite: bool = False, zoo_dir: str | os.PathLike | None = None) -> dict | None:
    """The entry that a model named ``name`` would replace (None when the name is new); a
    FileExistsError unless ``overwrite``, a ValueError for a name that is not a plain file name."""
    if not NAME.match(name):
        raise ValueError(
            f"{name!r} is not a zoo name: use letters, digits, '.', '-' and '_' (it becomes the file name)"
        )
    existing = next((item for item in entries(zoo_dir) if item["name"] == name), None)
    if existing and not overwrite:
        raise FileExistsError(
            f"the zoo already has {name} ({folder(zoo_dir) / existing['file']}: {existing['description']}); "
            "pass --overwrite to replace it, or choose another name"
        )
    return existing


def add(
    name: str,
    model,
    *,
    study: str,
    data: str,
    command: str,
    metrics: dict,
    description: str,
    zoo_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> dict:
    """Saves ``model`` (without optimizer state) as ``<name>.h5`` and adds its entry; an existing
    name is replaced only with ``overwrite``."""
    from tfml.models.inputs import describe_input

    check_new_name(name, overwrite, zoo_dir)
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
        "output_shape": output_shape(model),
        "description": description,
    }
    others = [other for other in entries(zoo_dir) if other["name"] != name]
    write_text(
        zoo_dir / "zoo.json", json.dumps({"models": sorted(others + [item], key=lambda e: e["name"])}, indent=2) + "\n"
    )
    return item
