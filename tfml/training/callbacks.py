"""Callbacks for resumable, atomic training runs and TensorBoard images."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfml.training.saving import save_model, save_weights, write_text


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the whole model to ``path`` whenever ``monitor`` improves (``mode`` "min" or "max").

    The file is written then renamed; the best value and its epoch are kept in ``path + ".json"``
    so a resumed run only overwrites the file when it beats the earlier run's best.
    """

    def __init__(self, path, monitor: str = "val_loss", mode: str = "min"):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.path = Path(path)
        self.state_path = Path(f"{path}.json")
        self.monitor, self.mode = monitor, mode
        self.best, self.best_epoch = None, None

    def on_train_begin(self, logs=None):
        if self.state_path.exists() and self.path.exists():
            state = json.loads(self.state_path.read_text())
            self.best, self.best_epoch = state["best"], state["epoch"]

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"AtomicCheckpoint monitors {self.monitor!r}, which the logs lack: {sorted(logs or {})}")
        if self._improved(float(value)):
            save_model(self.model, self.path)
            self.best, self.best_epoch = float(value), epoch + 1
            write_text(self.state_path, json.dumps({"monitor": self.monitor, "best": self.best, "epoch": self.best_epoch}))


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """keras BackupAndRestore whose weights and epoch files are written atomically and kept after
    training, so re-running a finished run resumes at its end instead of starting again."""

    def __init__(self, backup_dir):
        super().__init__(str(backup_dir), save_freq="epoch", double_checkpoint=False, delete_checkpoint=False)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        save_weights(self.model, self._weights_path)
        write_text(self._training_metadata_path, json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))


class ImageSummary(keras.callbacks.Callback):
    """After each epoch, writes ``images`` stacked over ``model(images)`` to TensorBoard as one image
    per example (tag ``name``), e.g. originals over reconstructions."""

    def __init__(self, images: np.ndarray, log_dir, name: str = "reconstructions"):
        super().__init__()
        self.images = np.asarray(images, dtype=np.float32)
        self.name = name
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "images"))

    def on_epoch_end(self, epoch, logs=None):
        outputs = np.clip(self.model.predict(self.images, verbose=0), 0.0, 1.0)
        pairs = np.concatenate([self.images, outputs], axis=1)  # stacked along the height
        with self.writer.as_default():
            tf.summary.image(self.name, pairs, step=epoch + 1, max_outputs=len(pairs))
        self.writer.flush()


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training when the epoch loss is NaN/inf or exceeds ``factor`` times the first epoch's;
    ``diverged_at`` is then that epoch (else None). A diverging learning rate ends its run instead
    of crashing a comparison."""

    def __init__(self, factor: float = 100.0, monitor: str = "loss"):
        super().__init__()
        self.factor, self.monitor = factor, monitor
        self.first = None
        self.diverged_at = None

    def on_epoch_end(self, epoch, logs=None):
        value = float((logs or {}).get(self.monitor, np.nan))
        if self.first is None and math.isfinite(value):
            self.first = value
        if not math.isfinite(value) or (self.first is not None and value > self.factor * self.first):
            self.diverged_at = epoch
            self.model.stop_training = True
