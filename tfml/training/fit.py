"""The one fit helper every study trains through."""

from __future__ import annotations

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
    verbose: int | str = "auto",
) -> pd.DataFrame:
    """Trains a compiled ``model`` for ``epochs`` epochs in ``run_dir`` and returns the full history.

    Writes: TensorBoard logs (``tensorboard/``), the best model by ``monitor`` (``checkpoint``,
    written atomically), a backup for resuming (``backup/``) and the CSV log (``training_log.csv``).
    Calling it again on the same run directory continues after the last completed epoch.
    """
    run_dir = Path(run_dir)
    all_callbacks = [
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard")),
        keras.callbacks.CSVLogger(str(run_dir / HISTORY_FILE), append=True),
        AtomicCheckpoint(run_dir / checkpoint, monitor=monitor, mode=mode),
        *callbacks,
        ResumableBackup(run_dir / "backup"),
    ]
    model.fit(train, validation_data=validation, epochs=epochs, callbacks=all_callbacks, verbose=verbose, shuffle=False)
    return read_history(run_dir)
