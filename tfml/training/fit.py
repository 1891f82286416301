"""The one fit helper every study trains through."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf

from tfml.training.callbacks import AtomicCheckpoint, ResumableBackup

HISTORY_FILE = "training_log.csv"


def read_history(run_dir: str | Path) -> pd.DataFrame:
    """The CSV log of all epochs of a run, over every resume (a repeated epoch keeps its last row)."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.exists():
        return pd.DataFrame()
    history = pd.read_csv(path)
    return history.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


def fit(
    model: keras.Model,
    train: tf.data.Dataset,
    *,
    validation: tf.data.Dataset,
    run_dir: str | Path,
    epochs: int,
    checkpoint: str = "best.h5",
    monitor: str = "val_loss",
    mode: str = "min",
    callbacks: list[keras.callbacks.Callback] = (),
    steps_per_epoch: int | None = None,
    verbose: int | str = "auto",
) -> pd.DataFrame:
    """Trains a compiled ``model`` for ``epochs`` epochs in ``run_dir`` and returns the full history.

    Writes: TensorBoard logs (``tensorboard/``), the best model by ``monitor`` (``checkpoint``,
    written atomically), a backup for resuming (``backup/``) and the CSV log (``training_log.csv``).
    Calling it again on the same run directory continues after the last completed epoch (a data set
    that depends on the epoch should start at ``completed_epochs(run_dir)``).
    """
    run_dir = Path(run_dir)
    all_callbacks = [
        *callbacks,  # first, so values they add to the epoch logs reach TensorBoard and the CSV log
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard")),
        keras.callbacks.CSVLogger(str(run_dir / HISTORY_FILE), append=True),
        AtomicCheckpoint(run_dir / checkpoint, monitor=monitor, mode=mode),
        ResumableBackup(run_dir / "backup"),
    ]
    model.fit(train, validation_data=validation, epochs=epochs, steps_per_epoch=steps_per_epoch,
              callbacks=all_callbacks, verbose=verbose, shuffle=False)
    return read_history(run_dir)


def completed_epochs(run_dir: str | Path) -> int:
    """How many epochs the backup of ``run_dir`` holds (0 for a new run): where fit will resume."""
    path = Path(run_dir) / "backup" / "training_metadata.json"
    return int(json.loads(path.read_text())["epoch"]) if path.exists() else 0
