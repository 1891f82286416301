"""Run directories, configuration records, seeds and distribution strategies."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfml.training.saving import write_text

CONFIG_FILE = "config.json"


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


def is_tfml_run(path: Path) -> bool:
    """Whether ``path`` holds a config.json written by tfml (its "versions" name tfml)."""
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "tfml" in config.get("versions", {})


def prepare_run_dir(run_dir: str | Path, args: dict, fresh: bool = False, extra: dict | None = None,
                    not_compared: tuple[str, ...] = ()) -> Path:
    """Creates ``run_dir`` (or reuses it to resume) and writes ``config.json`` = {"args", "versions",
    "command", **extra}.

    A user's folder is never touched: an existing ``run_dir`` must be empty or a run tfml made
    (its config.json says so); anything else, and a file, is a ValueError. ``fresh`` deletes a tfml
    run directory first. Resuming needs the same arguments (except ``not_compared``) as the run that
    made the directory: a difference is a ValueError naming them, so a run never silently continues
    with other settings.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"--run-dir {run_dir} is a file, not a directory; name a new or empty directory, or a tfml run")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not is_tfml_run(run_dir):
        raise ValueError(f"--run-dir {run_dir} is a folder that tfml did not make (it has no tfml config.json) and is not "
                         "empty; nothing was changed. Name a new or empty directory, or an earlier tfml run")
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    config_path = run_dir / CONFIG_FILE
    args = json.loads(json.dumps(args, default=str))  # as stored: tuples become lists
    if config_path.exists():
        previous = json.loads(config_path.read_text()).get("args", {})
        changed = sorted(
            key for key in set(previous) | set(args)
            if key not in not_compared and previous.get(key) != args.get(key)
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


def update_run_record(run_dir: str | Path, **facts) -> None:
    """Adds ``facts`` (data source, counts) to the run's config.json."""
    path = Path(run_dir) / CONFIG_FILE
    config = json.loads(path.read_text())
    config.update(json.loads(json.dumps(facts, default=str)))
    write_text(path, json.dumps(config, indent=2, default=str))


STRATEGIES = ("default", "mirrored", "multi-worker")


def get_strategy(name: str = "default") -> tf.distribute.Strategy:
    """"default" (one device), "mirrored" (MirroredStrategy over all GPUs, else all logical CPUs) or
    "multi-worker" (MultiWorkerMirroredStrategy over the cluster of the TF_CONFIG environment
    variable, with tfml's Keras fixes applied, see ``tfml.training.multiworker``)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy multi-worker needs the TF_CONFIG environment variable: the cluster's workers and this "
                             "process's task (see the README, 'From one machine to many')")
        from tfml.training import multiworker

        multiworker.apply()
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; use {', '.join(STRATEGIES)}")


def loopback_tf_configs(workers: int) -> list[str]:
    """One TF_CONFIG value per worker of a cluster on 127.0.0.1, on ports free now (for trying
    multi-worker training on one machine, as the tests and benchmarks/multiworker.py do)."""
    sockets = [socket.socket() for _ in range(workers)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        addresses = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()
    return [json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}}) for i in range(workers)]


def worker_task(strategy: tf.distribute.Strategy) -> tuple[str, int] | None:
    """(task type, task index) of this process in a multi-worker cluster, or None."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return None
    return resolver.task_type, int(resolver.task_id or 0)


def is_chief(task: tuple[str, int] | None, cluster: dict | None = None) -> bool:
    """The chief writes the run's files: the "chief" task, or worker 0 of a cluster without one."""
    if task is None:
        return True
    kind, index = task
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in (cluster or {}))
