"""The run owner: the one object a study asks for its run directory, strategy, trainings, best
models and outputs.

Under a multi-worker strategy (``--strategy multi-worker``, or TF_CONFIG set) every worker runs the
study; the chief writes the run directory, each other worker writes its own beside it
(``<run dir>-worker-<i>``: its backups, needed to resume, and copies of the outputs nobody reads),
so files are never written twice in one place.

A study opens a ``Run`` from its configuration (which checks the run directory, seeds everything,
records config.json and picks the strategy), trains through ``run.fit`` (exact resume, best
checkpoint by the metric the study names), gets the best model back with ``run.best_model(name)``,
and hands its outputs to the run: models, codes, JSON, figures (``run.figure`` gives the path to
draw into and captions it for the report), tables and notes. ``run.finish(metrics)`` writes
metrics.json and report.html. Every file goes through the run, so where a run writes is decided in
one place.

>>> import dataclasses, tempfile
>>> @dataclasses.dataclass(kw_only=True)
... class Demo(StudyConfig):
...     NAME, TITLE = "demo", "A demonstration"
>>> run = Run(Demo(run_dir=tempfile.mkdtemp() + "/run"))
>>> run.table("Numbers", pd.DataFrame({"x": [1.0]}))
>>> run.finish({"x": 1.0}) == run.dir
True
>>> sorted(path.name for path in run.dir.iterdir())
['config.json', 'figures', 'metrics.json', 'report.html']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from tfml.retrieval.codes import Codes, save_codes
from tfml.training import fit as fit_model
from tfml.training import (
    get_strategy,
    is_chief,
    prepare_run_dir,
    read_history,
    save_model,
    set_seed,
    update_run_record,
    worker_task,
    write_text,
)
from tfml.viz.projector import write_projector
from tfml.viz.report import write_report
from tfml.workflows.config import NOT_COMPARED_ON_RESUME, StudyConfig


class Run:
    """One run of a study in one directory (see the module docstring)."""

    def __init__(self, config: StudyConfig):
        import dataclasses

        self.config = config
        strategy = "multi-worker" if config.strategy == "default" and "TF_CONFIG" in os.environ else config.strategy
        self.strategy = get_strategy(strategy)  # first: a multi-worker strategy must exist before TensorFlow runs anything
        task = worker_task(self.strategy)
        self.is_chief = is_chief(task, json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster"))
        run_dir = config.resolved_run_dir()
        if not self.is_chief:  # a worker keeps its backups and copies of the outputs beside the chief's run directory
            run_dir = run_dir.with_name(f"{run_dir.name}-{task[0]}-{task[1]}")
        self.dir = prepare_run_dir(run_dir, dataclasses.asdict(config), fresh=config.fresh, not_compared=NOT_COMPARED_ON_RESUME)
        set_seed(config.seed)
        self._checkpoints: dict[str, Path] = {}
        self._figures: dict[str, str] = {}
        self._tables: dict[str, pd.DataFrame] = {}
        self._notes: list[str] = []
        self._summary: list[str] = []

    # --- where things go ---------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        """A path inside the run directory (parents created)."""
        path = self.dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def record(self, **facts: Any) -> None:
        """Adds facts about the run (data source, counts, skipped files) to config.json."""
        update_run_record(self.dir, **facts)

    def scope(self):
        """The strategy scope to build and compile models in."""
        return self.strategy.scope()

    # --- training ----------------------------------------------------------------------------------
    def training_dir(self, name: str = "") -> Path:
        return self.dir / "runs" / name if name else self.dir

    def fit(self, model: keras.Model, batches, *, validation, epochs: int, name: str = "", checkpoint: str = "model.h5",
            monitor: str = "val_loss", mode: str = "min", callbacks=(), verbose: int | None = None) -> pd.DataFrame:
        """Trains ``model`` on ``batches`` (a BatchStream) as training ``name`` (its logs in
        runs/<name>/, or the run directory itself for the study's one training), keeping the best
        epoch by ``monitor`` in ``checkpoint``; resumes exactly where an interrupted run stopped.
        Returns the history of every epoch."""
        log_dir = self.training_dir(name)
        self._checkpoints[name] = log_dir / checkpoint
        return fit_model(model, batches, validation=validation, log_dir=log_dir, epochs=epochs, checkpoint=checkpoint,
                             monitor=monitor, mode=mode, callbacks=list(callbacks), verbose=verbose,
                             backup_seconds=self.config.backup_seconds, data_service=self.config.data_service)

    def history(self, name: str = "") -> pd.DataFrame:
        return read_history(self.training_dir(name))

    def best_model(self, name: str = "", compile: bool = False) -> keras.Model:
        """The checkpoint that training ``name`` chose, loaded from its file."""
        if name not in self._checkpoints:
            raise KeyError(f"no training named {name!r} in this run; trained: {', '.join(map(repr, self._checkpoints)) or 'none'}")
        path = self._checkpoints[name]
        if not path.exists():
            raise FileNotFoundError(f"{path}: training {name!r} wrote no checkpoint (its monitored value was never finite)")
        return keras.models.load_model(path, compile=compile)

    # --- outputs -----------------------------------------------------------------------------------
    def save_model(self, model: keras.Model, filename: str) -> Path:
        return save_model(model, self.path(filename))

    def save_codes(self, codes: Codes, filename: str = "codes.npz") -> Path:
        return save_codes(self.path(filename), codes)

    def write_json(self, filename: str, data) -> Path:
        return write_text(self.path(filename), json.dumps(data, indent=2, ensure_ascii=False, default=_json_value) + "\n")

    def project(self, name: str, vectors, metadata: pd.DataFrame, images=None, thumbnail=(32, 32)) -> Path:
        """A TensorBoard projector export of ``vectors`` (one metadata row each, thumbnails from
        ``images``) in tensorboard/projector/<name>/: `tensorboard --logdir` shows it in 3-D."""
        return write_projector(self.dir / "tensorboard" / "projector" / name, vectors, metadata, images, thumbnail)

    def figure(self, filename: str, caption: str | None = None) -> Path:
        """The path of figures/<filename> to draw into; with a caption the figure goes into the report."""
        if caption is not None:
            self._figures[caption] = f"figures/{filename}"
        return self.path("figures", filename)

    def table(self, caption: str, frame: pd.DataFrame) -> None:
        self._tables[caption] = frame

    def note(self, text: str) -> None:
        """A paragraph of the report's notes (data, protocol, what the numbers mean)."""
        self._notes.append(text)

    def summarise(self, text: str) -> None:
        """A paragraph of the report's opening: what was run and whether the result is good."""
        self._summary.append(text)

    def finish(self, metrics: dict[str, float]) -> Path:
        """Writes metrics.json (flat keys, numbers) and report.html; returns the run directory."""
        flat = {key: _plain(value) for key, value in metrics.items()}
        bad = [key for key, value in flat.items() if not isinstance(value, (int, float))]
        if bad:
            raise TypeError(f"metrics must be numbers; not: {', '.join(bad)}")
        self.write_json("metrics.json", flat)
        write_report(self.dir, type(self.config).TITLE, flat, summary=self._summary, tables=self._tables,
                     figures=self._figures, notes=self._notes)
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
