"""The run owner: the one object a study asks for its run directory, strategy, trainings, best
models and outputs, and the functions it is made of (run directories, seeds, strategies).

``Run(config)`` checks the run directory (a new or empty folder, or a run tfml made with the same
settings, which is then resumed), seeds everything, records config.json and picks the
distribution strategy. Under a multi-worker strategy (``--strategy multi-worker``, or TF_CONFIG
set) every worker runs the study; the chief writes the run directory, each other worker its own
beside it (``<run dir>-worker-<i>``: its backups, needed to resume, and copies of the outputs
nobody reads), so no file is written twice in one place.

A study trains through ``run.fit`` (exact resume, best checkpoint by the figure the study names,
training curves drawn after each training), gets the chosen checkpoint back with
``run.best_model(name)`` and hands every output to the run: models, JSON, any other file through
``run.save(filename, writer, ...)``, figures (``run.figure`` gives the path to draw into and
captions it for the report), tables (flattened into metrics on request), Markdown paragraphs.
``run.finish()`` writes metrics.json and report.html.

>>> import dataclasses, tempfile
>>> @dataclasses.dataclass(kw_only=True)
... class Demo(StudyConfig):
...     NAME, TITLE = "demo", "A demonstration"
>>> run = Run(Demo(run_dir=tempfile.mkdtemp() + "/run"))
>>> run.table("Numbers", pd.DataFrame({"x": [0.5]}, index=["a"]), metrics="{index}/{column}")
>>> run.finish() == run.dir
True
>>> json.loads((run.dir / "metrics.json").read_text())
{'a/x': 0.5}
>>> sorted(path.name for path in run.dir.iterdir())
['config.json', 'figures', 'metrics.json', 'report.html', 'run.lock']
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import platform
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tfml.config import Checked, option
from tfml.io import save_model, write_text
from tfml.training.callbacks import EpochTimer
from tfml.training.curves import training_curves
from tfml.training.fit import check_data_service, read_history
from tfml.training.fit import fit as fit_model
from tfml.training.lock import LOCK_FILE, lock_run_dir, unlock_run_dir
from tfml.training.report import write_report

CONFIG_FILE = "config.json"
STRATEGIES = ("default", "mirrored", "multi-worker")


@dataclasses.dataclass(kw_only=True)
class StudyConfig(Checked):
    """What every study's configuration has. Subclasses set NAME (the study's name on the command
    line; the default run directory is logs/NAME[-quick]), TITLE (the report's title) and QUICK
    (the overrides of quick mode)."""

    NAME: ClassVar[str] = "study"
    TITLE: ClassVar[str] = "study"
    QUICK: ClassVar[dict] = {}
    REPORT_ONLY: ClassVar[tuple[str, ...]] = ()  # options that change only the report: free on resume
    seed: int = option(0, "seed of every random choice (data order, initial weights, splits)", low=0, high=2**32 - 1)
    quick: bool = option(False, "quick mode: small data and few epochs (under 2 minutes on 2 cores)")
    run_dir: str | None = option(
        None, "run directory (default logs/<study>[-quick]); an existing run is resumed", metavar="DIR"
    )
    fresh: bool = option(False, "start over: delete the run directory first (only one that tfml made)")
    strategy: str = option(
        "default",
        "distribution: one device, all local devices (mirrored), or the workers of TF_CONFIG "
        "(multi-worker; the default when TF_CONFIG is set)",
        choices=STRATEGIES,
    )
    backup_seconds: float = option(
        60.0,
        "seconds between mid-epoch backups (an interrupted run resumes from the last; each costs a model save)",
        low=1,
    )
    data_service: str | None = option(
        None,
        "address of a tf.data service dispatcher (grpc://host:port) whose workers make the training batches",
        metavar="ADDRESS",
    )

    @classmethod
    def quick_mode(cls, **overrides):
        return cls(**{**cls.QUICK, "quick": True, **overrides})

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir or f"logs/{self.NAME}{'-quick' if self.quick else ''}")


QUICK_ANSWERS_NOTHING = (
    "**Too small to answer the study's questions**: a quick run's data and epochs show that every step works, "
    "not which model is better; its numbers differ from a full run's by more than the differences the study is "
    "about. Run the study without `--quick` for the answers."
)

# Recorded in config.json but allowed to change when a run directory is resumed.
NOT_COMPARED_ON_RESUME = ("run_dir", "fresh", "backup_seconds", "data_service", "strategy")


# --- the parts: versions, seeds, run directories, strategies ---------------------------------------


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        tfml_version = version("tfml")
    except PackageNotFoundError:  # running from a source tree that was never installed
        tfml_version = "source"
    return {
        "python": platform.python_version(),
        "tfml": tfml_version,
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


def prepare_run_dir(
    run_dir: str | Path, args: dict, fresh: bool = False, extra: dict | None = None, not_compared: tuple[str, ...] = ()
) -> Path:
    """Creates ``run_dir`` (or reuses it to resume) and writes ``config.json`` = {"args", "versions",
    "command", **extra}.

    A user's folder is never touched: an existing ``run_dir`` must be empty or a run tfml made
    (its config.json says so); anything else, and a file, is a ValueError. The directory is then
    locked for this process (``tfml.training.lock``: a second process is refused). ``fresh``
    empties a tfml run directory first. A directory this call made is removed again if it fails.
    Resuming needs the same arguments (except ``not_compared``) as the run that
    made the directory: a difference is a ValueError naming them, so a run never silently continues
    with other settings.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(
            f"--run-dir {run_dir} is a file, not a directory; name a new or empty directory, or a tfml run"
        )
    if run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir()) and not is_tfml_run(run_dir):
        raise ValueError(
            f"--run-dir {run_dir} is a folder that tfml did not make (it has no tfml config.json) and is not "
            "empty; nothing was changed. Name a new or empty directory, or an earlier tfml run"
        )
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock_run_dir(run_dir)
        if fresh:
            for path in run_dir.iterdir():
                if path.name != LOCK_FILE:
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        _write_run_config(run_dir, args, extra, not_compared)
    except BaseException:
        unlock_run_dir(run_dir)
        if created:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir


def _write_run_config(run_dir: Path, args: dict, extra: dict | None, not_compared: tuple[str, ...]) -> None:
    """config.json, after checking that a run already there had the same settings."""
    config_path = run_dir / CONFIG_FILE
    args = json.loads(json.dumps(args, default=str))  # as stored: tuples become lists
    if config_path.exists():
        previous = json.loads(config_path.read_text()).get("args", {})
        changed = sorted(
            key for key in set(previous) | set(args) if key not in not_compared and previous.get(key) != args.get(key)
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


def tf_config() -> dict:
    """The TF_CONFIG environment variable ({} when unset), checked: a JSON object whose "cluster"
    maps task types to lists of "host:port" addresses and whose "task" names one of them."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    problem = "is not JSON"
    try:
        value = json.loads(text)
        cluster, task = value.get("cluster"), value.get("task", {})
        problem = 'has no "cluster" of task types with lists of "host:port" addresses'
        if not isinstance(cluster, dict) or not cluster:
            raise ValueError
        for addresses in cluster.values():
            if not isinstance(addresses, list) or not all(isinstance(a, str) and ":" in a for a in addresses):
                raise ValueError
        kind, index = task.get("type"), task.get("index", 0)
        problem = f'has a "task" that is not in its cluster ({task})'
        if kind not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
            raise ValueError
    except (ValueError, AttributeError, TypeError):
        raise ValueError(
            f"the environment variable TF_CONFIG {problem}: {text[:80]!r}; see the README, 'From one machine to many'"
        ) from None
    return value


def check_free_space(folder: Path, model: keras.Model) -> None:
    """Enough free disk in ``folder`` for a model's first checkpoint and backup (weights and
    optimizer state, with room to spare), else an OSError (ENOSPC) saying how much is needed."""
    try:
        needed = 6 * 4 * model.count_params() + 16 * 2**20
    except ValueError:  # a model not built yet: nothing to estimate
        return
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise OSError(
            errno.ENOSPC,
            f"only {free / 2**20:.0f} MB free; the model's checkpoint and backup need about {needed / 2**20:.0f} MB "
            "(free some space, or name a --run-dir on another disk)",
            str(folder),
        )


def get_strategy(name: str = "default") -> tf.distribute.Strategy:
    """ "default" (one device), "mirrored" (MirroredStrategy over all GPUs, else all logical CPUs) or
    "multi-worker" (MultiWorkerMirroredStrategy over the cluster of the TF_CONFIG environment
    variable, with tfml's Keras fixes applied, see ``tfml.training.multiworker``)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi-worker":
        if not tf_config():
            raise ValueError(
                "--strategy multi-worker needs the TF_CONFIG environment variable: the cluster's workers and this "
                "process's task (see the README, 'From one machine to many')"
            )
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
    return [
        json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}}) for i in range(workers)
    ]


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


def flatten(frame: pd.DataFrame, key: str = "{index}/{column}") -> dict[str, float]:
    """The numbers of a table as flat metrics: one per cell, its name from ``key`` with ``{index}``
    (the row's index values joined by "/", floats as %g), ``{level[i]}`` (one index value) and
    ``{column}``; empty (NaN) cells are left out.

    >>> table = pd.DataFrame({"mse": [0.25, float("nan")]}, index=pd.Index([0.1, 0.5], name="noise"))
    >>> flatten(table, "noise/{index}/{column}")
    {'noise/0.1/mse': 0.25}
    """
    metrics = {}
    for index, row in frame.iterrows():
        level = tuple(
            f"{v:g}" if isinstance(v, float) else str(v) for v in (index if isinstance(index, tuple) else (index,))
        )
        for column, value in row.items():
            if isinstance(value, (int, float, np.number)) and not pd.isna(value):
                metrics[key.format(index="/".join(level), level=level, column=column)] = _plain(value)
    return metrics


# --- the run owner ------------------------------------------------------------------------------------


class Run:
    """One run of a study in one directory (see the module docstring)."""

    def __init__(self, config: StudyConfig):
        self.config = config
        cluster = tf_config().get("cluster")
        if config.data_service:
            check_data_service(config.data_service)
        strategy = "multi-worker" if config.strategy == "default" and cluster else config.strategy
        self.strategy = get_strategy(
            strategy
        )  # first: a multi-worker strategy must exist before TensorFlow runs anything
        task = worker_task(self.strategy)
        self.is_chief = is_chief(task, cluster)
        self.multi_worker = task is not None
        run_dir = config.resolved_run_dir()
        if not self.is_chief:  # a worker keeps its backups and copies of the outputs beside the chief's run directory
            run_dir = run_dir.with_name(f"{run_dir.name}-{task[0]}-{task[1]}")
        self.created = not run_dir.exists()
        self.trained = False
        self.dir = prepare_run_dir(
            run_dir,
            dataclasses.asdict(config),
            fresh=config.fresh,
            not_compared=NOT_COMPARED_ON_RESUME + type(config).REPORT_ONLY,
        )
        set_seed(config.seed)
        self._checkpoints: dict[str, Path] = {}
        self._figures: dict[str, str] = {}
        self._tables: dict[str, pd.DataFrame] = {}
        self._notes: list[str] = []
        self._summary: list[str] = []
        self._metrics: dict[str, float] = {}
        self._facts: dict[str, Any] = {}

    # --- where things go ---------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        """A path inside the run directory (parents created)."""
        path = self.dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def record(self, **facts: Any) -> None:
        """Adds facts about the run (data source, counts, skipped files) to config.json."""
        self._facts.update(facts)
        update_run_record(self.dir, **facts)

    def scope(self):
        """The strategy scope to build and compile models in."""
        return self.strategy.scope()

    # --- training ----------------------------------------------------------------------------------
    def training_dir(self, name: str = "") -> Path:
        return self.dir / "runs" / name if name else self.dir

    def fit(
        self,
        model: keras.Model,
        batches,
        *,
        validation=None,
        epochs: int,
        name: str = "",
        checkpoint: str | None = "model.h5",
        monitor: str = "val_loss",
        mode: str = "min",
        callbacks=(),
        verbose: int | None = None,
        curves: str | None = "",
        tensorboard: bool = True,
    ) -> pd.DataFrame:
        """Trains ``model`` on ``batches`` (a BatchStream) as training ``name`` (its logs in
        runs/<name>/, or the run directory itself for the study's one training), keeping the best
        epoch by ``monitor`` in ``checkpoint``; resumes exactly where an interrupted run stopped, and
        a finished training gives back its last weights. Each epoch's training seconds are logged
        (``epoch_seconds``). Afterwards the training curves are drawn into the report, titled
        ``curves`` (None: no figure). Returns the history of every epoch."""
        log_dir = self.training_dir(name)
        if checkpoint is not None:
            self._checkpoints[name] = log_dir / checkpoint
        check_free_space(self.dir, model)
        self.trained = True
        history = fit_model(
            model,
            batches,
            validation=validation,
            log_dir=log_dir,
            epochs=epochs,
            checkpoint=checkpoint,
            monitor=monitor,
            mode=mode,
            callbacks=[EpochTimer(), *callbacks],
            verbose=verbose,
            backup_seconds=None if self.multi_worker else self.config.backup_seconds,  # workers back up together
            data_service=self.config.data_service,
            tensorboard=tensorboard,
        )
        if curves is not None:
            filename = f"curves_{name.replace('/', '_')}.png" if name else "training_curves.png"
            caption = f"Training curves: {name}" if name else "Training curves"
            training_curves(history, self.figure(filename, caption), curves or name or type(self.config).TITLE)
        return history

    def history(self, name: str = "") -> pd.DataFrame:
        return read_history(self.training_dir(name))

    def best_model(self, name: str = "", compile: bool = False) -> keras.Model:
        """The checkpoint that training ``name`` chose, loaded from its file."""
        if name not in self._checkpoints:
            raise KeyError(
                f"no training named {name!r} in this run; trained: {', '.join(map(repr, self._checkpoints)) or 'none'}"
            )
        path = self._checkpoints[name]
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: training {name!r} wrote no checkpoint (its monitored value was never finite)"
            )
        return keras.models.load_model(path, compile=compile)

    # --- outputs -----------------------------------------------------------------------------------
    def save_model(self, model: keras.Model, filename: str) -> Path:
        return save_model(model, self.path(filename))

    def save(self, filename: str, writer: Callable[..., Any], *args, **kwargs) -> Path:
        """Any other output: ``writer(path, *args, **kwargs)`` writes the file (or folder) at
        ``filename`` in the run directory, e.g. ``run.save("codes.npz", save_codes, codes)``."""
        path = self.path(filename)
        writer(path, *args, **kwargs)
        return path

    def write_json(self, filename: str, data) -> Path:
        return write_text(
            self.path(filename), json.dumps(data, indent=2, ensure_ascii=False, default=_json_value) + "\n"
        )

    def figure(self, filename: str, caption: str | None = None) -> Path:
        """The path of figures/<filename> to draw into; with a caption the figure goes into the report."""
        if caption is not None:
            self._figures[caption] = f"figures/{filename}"
        return self.path("figures", filename)

    def table(self, caption: str, frame: pd.DataFrame, metrics: str | None = None) -> None:
        """A table of the report; with ``metrics`` (a key template, see ``flatten``) its numbers also
        go into metrics.json."""
        self._tables[caption] = frame
        if metrics is not None:
            self.add_metrics(flatten(frame, metrics))

    def add_metrics(self, metrics: dict[str, Any]) -> None:
        """Numbers for metrics.json (flat keys)."""
        for key, value in metrics.items():
            value = _plain(value)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"metric {key!r} must be a number, not {value!r}")
            self._metrics[key] = value

    def note(self, text: str) -> None:
        """A Markdown paragraph of the report's notes (data, protocol, what the numbers mean)."""
        self._notes.append(text)

    def summarise(self, text: str) -> None:
        """A Markdown paragraph of the report's opening, after the runner's "what was run" line."""
        self._summary.append(text)

    def finding(self, text: str) -> None:
        """A Markdown paragraph that answers one of the study's questions (say "A is ahead of B" only
        when the paired interval of the difference excludes 0, see ``tfml.retrieval.paired_difference``).
        A quick run answers none: the report says once that it is too small to."""
        if not self.config.quick:
            self._summary.append(text)
        elif QUICK_ANSWERS_NOTHING not in self._summary:
            self._summary.append(QUICK_ANSWERS_NOTHING)

    def opening(self) -> str:
        """What was run: the command, quick mode or a full run, the data and the seed."""
        config = self.config
        command = json.loads((self.dir / CONFIG_FILE).read_text()).get("command", f"tfml train {config.NAME}")
        what = (
            "Quick mode (small data and few epochs: the figures show the study works, not how well)"
            if config.quick
            else "Full run"
        )
        data = f" on {self._facts['data_source']}" if "data_source" in self._facts else ""
        return f"**Run**: {what}{data}, seed {config.seed}: `{command}`."

    def figures(self) -> dict[str, Path]:
        """The report's figures so far: caption -> file."""
        return {caption: self.dir / relative for caption, relative in self._figures.items()}

    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables so far: caption -> table."""
        return dict(self._tables)

    def summary(self) -> str:
        """The report's opening as Markdown: what was run, then the steps' summaries and findings."""
        return "\n\n".join([self.opening(), *self._summary])

    def close(self, failed: bool = False) -> None:
        """Lets the run directory go; a run that ``failed`` before any training, in a directory it
        made, removes the directory (a corrected command then starts afresh)."""
        unlock_run_dir(self.dir)
        if failed and self.created and not self.trained:
            shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self) -> Path:
        """Writes metrics.json (flat keys, numbers) and report.html; returns the run directory."""
        self.write_json("metrics.json", self._metrics)
        write_report(
            self.dir,
            type(self.config).TITLE,
            self._metrics,
            summary=[self.opening(), *self._summary],
            tables=self._tables,
            figures=self._figures,
            notes=self._notes,
        )
        return self.dir


def _plain(value):
    """numpy scalars and arrays as Python numbers and lists; anything else unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _json_value(value):
    plain = _plain(value)
    return str(plain) if plain is value else plain
