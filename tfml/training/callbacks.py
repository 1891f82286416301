"""Callbacks for resumable, atomic training runs, per-epoch evaluation, timing and TensorBoard images."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfml.io import atomic_write, save_model, save_weights, write_text
from tfml.pipelines.pixels import unit_float_array


class Monitor:
    """A value the epoch logs carry (``name``) and which way is better (``mode`` "min" or "max")."""

    def __init__(self, name: str, mode: str = "min"):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.name, self.mode = name, mode

    def value(self, logs) -> float:
        """The monitored value of an epoch's logs; a KeyError naming what the logs hold when absent."""
        if self.name not in (logs or {}):
            raise KeyError(f"the training monitors {self.name!r}, which the logs lack: {sorted(logs or {})}")
        return float(logs[self.name])

    def better(self, value: float, than: float | None) -> bool:
        """Whether ``value`` is finite and better than ``than`` (always, when ``than`` is None)."""
        if not math.isfinite(value):
            return False
        return than is None or (value < than if self.mode == "min" else value > than)


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the whole model to ``path`` whenever ``monitor`` improves (``mode`` "min" or "max").

    The file is written then renamed; the best value and its epoch are kept in ``path + ".json"``
    so a resumed run only overwrites the file when it beats the earlier run's best.
    """

    def __init__(self, path, monitor: str = "val_loss", mode: str = "min"):
        super().__init__()
        self.monitor = Monitor(monitor, mode)
        self.path = Path(path)
        self.state_path = Path(f"{path}.json")
        self.best, self.best_epoch = None, None

    def on_train_begin(self, logs=None):
        if self.state_path.exists() and self.path.exists():
            state = json.loads(self.state_path.read_text())
            self.best, self.best_epoch = state["best"], state["epoch"]

    def on_epoch_end(self, epoch, logs=None):
        value = self.monitor.value(logs)
        if self.monitor.better(value, self.best):
            save_model(self.model, self.path)
            self.best, self.best_epoch = value, epoch + 1
            write_text(
                self.state_path,
                json.dumps(
                    {
                        "monitor": self.monitor.name,
                        "mode": self.monitor.mode,
                        "best": self.best,
                        "epoch": self.best_epoch,
                    }
                ),
            )


def loss_variables(model: keras.Model) -> list:
    """The state a compiled loss keeps between steps (``loss.variables``, e.g. CrossBatchMemory's)."""
    return list(getattr(getattr(model, "loss", None), "variables", None) or [])


class LossStateOutOfValidation(keras.callbacks.Callback):
    """Keeps validation out of a compiled loss's state (``loss.variables``, e.g. CrossBatchMemory's
    memory): Keras runs the compiled loss object on the validation batches too, which would write
    them into the state that training reads next. The state is saved when validation (or
    ``evaluate``) begins and put back when it ends. ``tfml.training.fit`` adds it whenever the loss
    keeps state; give it to ``model.fit`` or ``model.evaluate`` yourself otherwise."""

    def __init__(self):
        super().__init__()
        self._saved: list[np.ndarray] = []

    def on_test_begin(self, logs=None):
        self._saved = [np.array(variable) for variable in loss_variables(self.model)]

    def on_test_end(self, logs=None):
        for variable, value in zip(loss_variables(self.model), self._saved):
            variable.assign(value)
        self._saved = []


class ResumableBackup(keras.callbacks.Callback):
    """A backup that resumes mid-epoch, exactly (keras.callbacks.BackupAndRestore restarts the
    interrupted epoch from its first step, on weights that already saw part of it).

    The backup holds the weights with the optimizer state, the position (completed epochs, steps done
    in the next one), the running values of the model's metrics and the state of a loss that keeps
    one (``loss.variables``: a CrossBatchMemory's memory); it is written after a step or
    at an epoch end when ``interval_seconds`` have passed since the last backup (0: every step; None:
    at every epoch end and never mid-epoch, for workers that must save together and whose clocks do
    not agree), and when training ends (``stopped`` when a callback stopped it, e.g. on divergence). A run resumed
    from an earlier point replays the same batches on the same weights, so what it logs again is
    what it logged before. Files are written under new names and the state file, renamed last,
    names the weights it belongs to, so a process killed at any moment leaves a consistent backup.
    Kept after training, so re-running a finished run resumes at its end (``restore`` gives a model
    its last weights). ``fit`` reads ``position`` to ask the batch stream for the right step and
    calls ``start`` before each ``model.fit``.
    """

    STATE = "state.json"

    def __init__(self, backup_dir, interval_seconds: float | None = 60.0):
        super().__init__()
        self.directory = Path(backup_dir)
        self.interval_seconds = None if interval_seconds is None else float(interval_seconds)
        self.epoch, self.step_offset, self.step = 0, 0, 0
        self._last_save = time.monotonic()
        self._metrics_pending = None

    @classmethod
    def read_state(cls, backup_dir) -> dict:
        path = Path(backup_dir) / cls.STATE
        return json.loads(path.read_text()) if path.exists() else {"epoch": 0, "step": 0, "generation": 0}

    def position(self) -> tuple[int, int]:
        state = self.read_state(self.directory)
        return int(state["epoch"]), int(state["step"])

    def stopped(self) -> bool:
        """Whether a callback stopped the training (it is finished, not interrupted)."""
        return bool(self.read_state(self.directory).get("stopped"))

    def start(self, epoch: int, step: int):
        """The next ``model.fit`` starts at ``step`` of ``epoch``."""
        self.epoch, self.step_offset, self.step = epoch, step, step

    def restore(self, model: keras.Model) -> dict:
        """Loads the backup's weights (and optimizer state, and the state of a loss that keeps one,
        e.g. a CrossBatchMemory's memory) into ``model``; returns the state."""
        state = self.read_state(self.directory)
        if state.get("weights") and (self.directory / state["weights"]).exists():
            if model.optimizer is not None and not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(self.directory / state["weights"])
        if state.get("loss_state") and (self.directory / state["loss_state"]).exists():
            with np.load(self.directory / state["loss_state"]) as saved:
                for index, variable in enumerate(loss_variables(model)):
                    variable.assign(saved[str(index)])
        return state

    def on_train_begin(self, logs=None):
        state = self.restore(self.model)
        if state.get("weights") and state["step"] > 0 and state["epoch"] == self.epoch:
            self._metrics_pending = state.get("metrics")
        self._last_save = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        if self._metrics_pending is not None:  # after Keras reset them: continue the epoch's running means
            variables = self.model.metrics_variables
            if len(variables) != len(self._metrics_pending):
                raise RuntimeError(
                    f"the backup holds {len(self._metrics_pending)} metric values, the model has {len(variables)} "
                    "metric variables: was it compiled with other metrics?"
                )
            for variable, value in zip(variables, self._metrics_pending):
                variable.assign(np.asarray(value, variable.dtype))
            self._metrics_pending = None

    def _due(self) -> bool:
        return self.interval_seconds is not None and time.monotonic() - self._last_save >= self.interval_seconds

    def on_train_batch_end(self, batch, logs=None):
        self.step = self.step_offset + batch + 1
        if self._due():
            self._save(self.epoch, self.step)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch, self.step_offset, self.step = epoch + 1, 0, 0
        if self.interval_seconds is None or self._due():
            self._save(epoch + 1, 0)

    def on_train_end(self, logs=None):
        stopped = bool(self.model.stop_training)
        state = self.read_state(self.directory)
        if stopped or (state["epoch"], state["step"]) != (self.epoch, self.step):
            self._save(self.epoch, self.step, stopped=stopped)

    def _save(self, epoch: int, step: int, stopped: bool = False):
        previous = self.read_state(self.directory)
        generation = int(previous.get("generation", 0)) + 1
        weights = f"weights-{generation}.weights.h5"
        self.directory.mkdir(parents=True, exist_ok=True)
        save_weights(self.model, self.directory / weights)
        loss_state = None
        if loss_variables(self.model):
            loss_state = f"loss-{generation}.npz"
            arrays = {str(i): np.asarray(v) for i, v in enumerate(loss_variables(self.model))}
            atomic_write(self.directory / loss_state, lambda path: np.savez(path, **arrays))
        metrics = [np.asarray(v).tolist() for v in self.model.metrics_variables] if step else None
        write_text(
            self.directory / self.STATE,
            json.dumps(
                {
                    "epoch": epoch,
                    "step": step,
                    "generation": generation,
                    "weights": weights,
                    "metrics": metrics,
                    "loss_state": loss_state,
                    "stopped": stopped,
                }
            ),
        )
        for name in ("weights", "loss_state"):
            if previous.get(name) and previous[name] != {"weights": weights, "loss_state": loss_state}[name]:
                (self.directory / previous[name]).unlink(missing_ok=True)
        self._last_save = time.monotonic()


class EpochMetrics(keras.callbacks.Callback):
    """After each epoch, adds ``evaluate(model)`` -> {name: value} to the epoch's logs, so TensorBoard,
    the CSV log and a checkpoint monitoring one of them see it (put it before those callbacks).
    For selecting a checkpoint by the figure a study reports (kNN@1, MAP@R, nDCG@10), never by a
    mined loss whose value is not comparable between epochs."""

    def __init__(self, evaluate: Callable[[keras.Model], dict[str, float]]):
        super().__init__()
        self.evaluate = evaluate

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update({name: float(value) for name, value in self.evaluate(self.model).items()})


class ImageSummary(keras.callbacks.Callback):
    """After each epoch, writes ``images`` (uint8) stacked over ``model(images)`` (floats in [0, 1])
    to TensorBoard as one image per example (tag ``name``), e.g. originals over reconstructions."""

    def __init__(self, images: np.ndarray, log_dir, name: str = "reconstructions"):
        super().__init__()
        self.images = np.asarray(images)
        self.name = name
        self.log_dir = Path(log_dir) / "images"
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.log_dir))
        outputs = np.clip(self.model.predict(self.images, verbose=0), 0.0, 1.0)
        originals = unit_float_array(self.images) if self.images.dtype == np.uint8 else self.images
        pairs = np.concatenate([originals, outputs], axis=1)  # stacked along the height
        with self.writer.as_default():
            tf.summary.image(self.name, pairs, step=epoch + 1, max_outputs=len(pairs))
        self.writer.flush()


def first_divergence(values, factor: float = 100.0) -> int | None:
    """The first epoch whose value is not finite or above ``factor`` times the first finite value
    (``StopOnDivergence``'s rule, for reading a logged history), or None."""
    first = None
    for epoch, value in enumerate(values):
        value = float(value)
        if first is None and math.isfinite(value):
            first = value
        if not math.isfinite(value) or (first is not None and value > factor * first):
            return epoch
    return None


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training when the epoch's ``monitor`` value is NaN/inf or worse than ``factor`` times
    the first epoch's (see ``first_divergence``); ``diverged_at`` is then that epoch (else None).
    A diverging learning rate ends its run instead of crashing a comparison."""

    def __init__(self, factor: float = 100.0, monitor: str = "loss"):
        super().__init__()
        self.factor = factor
        self.monitor = Monitor(monitor, "min")
        self.values: list[float] = []
        self.diverged_at = None

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(self.monitor.value(logs))
        if first_divergence(self.values, self.factor) is not None:
            self.diverged_at = epoch
            self.model.stop_training = True


class EpochTimer(keras.callbacks.Callback):
    """Adds the epoch's training seconds to its logs (``epoch_seconds``), so a run's training time
    adds up over resumes."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self.start
