"""Run directories, configuration records, seeds and distribution strategies."""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfml.training.saving import write_text

# Recorded in config.json but allowed to change when a run directory is resumed.
NOT_COMPARED_ON_RESUME = ("run_dir", "fresh", "verbose", "progress")


def versions() -> dict[str, str]:
    import tfml

    return {
        "python": platform.python_version(),
        "tfml": tfml.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def set_seed(seed: int) -> None:
    """Seeds Python, numpy and TensorFlow and makes TensorFlow ops deterministic (same seed, same
    data, same result on CPU)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def prepare_run_dir(run_dir: str | Path, args: dict, fresh: bool = False, extra: dict | None = None) -> Path:
    """Creates ``run_dir`` (or reuses it to resume) and writes ``config.json`` = {"args", "versions",
    "command", **extra}.

    Resuming needs the same arguments as the run that made the directory: a difference is a
    ValueError naming the arguments, so a run never silently continues with other settings.
    ``fresh`` deletes an existing run directory first.
    """
    run_dir = Path(run_dir)
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    config_path = run_dir / "config.json"
    args = json.loads(json.dumps(args, default=str))  # as stored: tuples become lists
    if config_path.exists():
        previous = json.loads(config_path.read_text()).get("args", {})
        changed = sorted(
            key for key in set(previous) | set(args)
            if key not in NOT_COMPARED_ON_RESUME and previous.get(key) != args.get(key)
        )
        if changed:
            details = ", ".join(f"{key}: {previous.get(key)!r} -> {args.get(key)!r}" for key in changed)
            raise ValueError(
                f"run directory {run_dir} holds a run with other settings ({details}); "
                "resume with the same arguments, pick another --run-dir, or pass --fresh"
            )
    (run_dir / "figures").mkdir(parents=True, exist_ok=True)
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])  # "tfml train ...", not the venv path
    config = {"args": args, "versions": versions(), "command": command, **(extra or {})}
    write_text(config_path, json.dumps(config, indent=2, default=str))
    return run_dir


def get_strategy(name: str = "default") -> tf.distribute.Strategy:
    """"default" (one device) or "mirrored" (MirroredStrategy over all GPUs, else all logical CPUs)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    raise ValueError(f"unknown strategy {name!r}; use 'default' or 'mirrored'")
