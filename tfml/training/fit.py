"""The one fit helper every study trains through: logs, best checkpoint, exact resume."""

from __future__ import annotations

import csv
import io
import logging
import sys
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf

from tfml.io import read_text, write_text
from tfml.training.callbacks import AtomicCheckpoint, LossStateOutOfValidation, ResumableBackup, loss_variables

HISTORY_FILE = "training_log.csv"
BACKUP_DIR = "backup"

log = logging.getLogger(__name__)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``: the message says which training stopped and what its backup holds."""


def trim_history(log_dir: str | Path, first_epoch: int) -> None:
    """Drops the CSV log's rows of epochs from ``first_epoch`` on (a resumed training logs them
    again), so the file holds each epoch once."""
    path = Path(log_dir) / HISTORY_FILE
    if not path.exists():
        return
    rows = list(csv.reader(io.StringIO(read_text(path))))
    if not rows or "epoch" not in rows[0]:
        return
    column = rows[0].index("epoch")
    kept = [rows[0], *(row for row in rows[1:] if row and row[column].isdigit() and int(row[column]) < first_epoch)]
    if len(kept) < len(rows):
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(kept)
        write_text(path, text.getvalue())


def read_history(log_dir: str | Path) -> pd.DataFrame:
    """The CSV log of all epochs of a training, over every resume (a repeated epoch keeps its last row)."""
    path = Path(log_dir) / HISTORY_FILE
    if not path.exists() or path.stat().st_size == 0:
        return pd.DataFrame()
    history = pd.read_csv(path).dropna(
        axis=1, how="all"
    )  # CSVLogger adds empty val_ columns to a training without validation
    return history.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


def completed_epochs(log_dir: str | Path) -> int:
    """How many whole epochs the backup in ``log_dir`` holds (0 for a new training)."""
    return ResumableBackup.read_state(Path(log_dir) / BACKUP_DIR)["epoch"]


def progress_verbosity() -> int:
    """Keras verbosity: a progress bar on a terminal, one line per epoch otherwise (no control
    characters in log files)."""
    return 1 if sys.stdout.isatty() else 2


def fit(
    model: keras.Model,
    batches,
    *,
    validation: tf.data.Dataset | None,
    log_dir: str | Path,
    epochs: int,
    checkpoint: str | Path | None = "best.h5",
    monitor: str = "val_loss",
    mode: str = "min",
    callbacks: list[keras.callbacks.Callback] = (),
    verbose: int | None = None,
    backup_seconds: float | None = 60.0,
    tensorboard: bool = True,
    data_service: str | None = None,
) -> pd.DataFrame:
    """Trains a compiled ``model`` for ``epochs`` epochs and returns the history of all of them.

    ``batches(first_epoch, first_step)`` gives the batches from that point to the end of the last
    epoch (a ``tfml.pipelines.BatchStream``, which also says ``steps_per_epoch``). Writes in
    ``log_dir``: TensorBoard logs (``tensorboard/``), the best model by ``monitor`` (``checkpoint``,
    relative to log_dir, written atomically), a backup (``backup/``) and the CSV log
    (``training_log.csv``). Called again on the same ``log_dir`` (after a crash or a kill at any
    step), it continues where the backup stands and ends with the same weights, logs and checkpoint
    as an uninterrupted run: the interrupted epoch is finished from its next step, with the
    optimizer state and the epoch's running metrics restored. Called on a finished training (or
    one a callback stopped), it trains nothing and gives ``model`` the training's last weights.

    ``backup_seconds``: the interval of mid-epoch backups (None: a backup at every epoch end only,
    as the workers of a multi-worker run must save together).

    ``data_service``: the address of a tf.data service dispatcher ("grpc://host:port"); the batches
    are then produced by its workers, each exactly once (dynamic sharding), in the order they finish:
    the same batches as without it, but an interrupted run no longer resumes bit for bit.
    """
    log_dir = Path(log_dir)
    steps = batches.steps_per_epoch
    backup = ResumableBackup(log_dir / BACKUP_DIR, backup_seconds)
    first_epoch, first_step = backup.position()
    if first_epoch >= epochs or backup.stopped():
        backup.restore(model)
        return read_history(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    if first_epoch or first_step:
        log.info(
            "resuming training %s from its backup: epoch %d of %d, step %d of %d",
            log_dir,
            first_epoch + 1,
            epochs,
            first_step,
            steps,
        )
    trim_history(log_dir, first_epoch)
    standard = []
    if tensorboard:
        standard.append(keras.callbacks.TensorBoard(str(log_dir / "tensorboard")))
    standard.append(keras.callbacks.CSVLogger(str(log_dir / HISTORY_FILE), append=True))
    if checkpoint is not None:
        standard.append(AtomicCheckpoint(log_dir / checkpoint, monitor=monitor, mode=mode))
    if validation is not None and loss_variables(model):
        standard.append(LossStateOutOfValidation())
    all_callbacks = [*callbacks, *standard, backup]  # callers' first: values they add to the logs reach the others
    verbose = progress_verbosity() if verbose is None else verbose
    if data_service:
        batches = ServedBatches(batches, data_service, job_name=str(log_dir.resolve()))
    try:
        _fit_from(model, batches, validation, backup, first_epoch, first_step, epochs, all_callbacks, verbose)
    except KeyboardInterrupt:
        epoch, step = backup.position()
        raise TrainingInterrupted(
            f"training {log_dir} stopped in epoch {backup.epoch + 1} of {epochs}; its backup holds {epoch} finished "
            f"epochs and {step} steps of the next (the steps since are trained again on resume)"
        ) from None
    return read_history(log_dir)


def _fit_from(model, batches, validation, backup, first_epoch, first_step, epochs, callbacks, verbose) -> None:
    """model.fit from ``first_step`` of ``first_epoch`` to the end of the last epoch."""
    steps = batches.steps_per_epoch
    if first_step > 0:  # finish the interrupted epoch from its next step
        # Keras builds compiled metrics on the first step; build them now so the backup can restore
        # the epoch's running values before that step
        x, y = next(iter(batches(first_epoch, first_step).take(1)))
        model.compute_metrics(x, y, model(x, training=False), None)
        backup.start(first_epoch, first_step)
        model.fit(
            batches(first_epoch, first_step).take(steps - first_step),
            validation_data=validation,
            initial_epoch=first_epoch,
            epochs=first_epoch + 1,
            steps_per_epoch=steps - first_step,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )
        first_epoch += 1
        if model.stop_training:
            return
    if first_epoch < epochs:
        backup.start(first_epoch, 0)
        model.fit(
            batches(first_epoch, 0),
            validation_data=validation,
            initial_epoch=first_epoch,
            epochs=epochs,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )


DISPATCHER_VERSION_METHOD = "/tensorflow.data.DispatcherService/GetVersion"


def check_data_service(address: str, timeout_seconds: float = 5.0) -> None:
    """A ValueError unless a tf.data service dispatcher answers at ``address`` ("grpc://host:port"
    or "host:port") within ``timeout_seconds`` (its GetVersion call, the one every client makes
    first), so a wrong or unreachable address fails now rather than by hanging in the first step."""
    import grpc

    target = address.removeprefix("grpc://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--data-service {address!r} is not an address: give grpc://HOST:PORT")
    with grpc.insecure_channel(target) as channel:
        get_version = channel.unary_unary(
            DISPATCHER_VERSION_METHOD, request_serializer=lambda data: data, response_deserializer=lambda data: data
        )
        try:
            get_version(b"", timeout=timeout_seconds)  # an empty GetVersionRequest
        except grpc.RpcError as error:
            reason = {
                grpc.StatusCode.DEADLINE_EXCEEDED: f"no answer within {timeout_seconds:g} s",
                grpc.StatusCode.UNAVAILABLE: "nothing listens there",
                grpc.StatusCode.UNIMPLEMENTED: "the server there is not a tf.data service dispatcher",
            }.get(error.code(), f"{error.code().name}: {error.details()}")
            raise ValueError(
                f"--data-service {address}: no tf.data service dispatcher there ({reason}); start one (see the "
                "README) or leave the option out"
            ) from None


class ServedBatches:
    """A batch stream whose batches come from a tf.data service (see ``fit``): the pipeline is sent to
    the dispatcher at ``address``; its workers split the batches dynamically, each made once."""

    def __init__(self, batches, address: str, job_name: str):
        self.batches, self.address, self.job_name = batches, address, job_name
        self.steps_per_epoch = batches.steps_per_epoch

    def __call__(self, first_epoch: int = 0, first_step: int = 0) -> tf.data.Dataset:
        count = self.batches(first_epoch, first_step).cardinality()
        served = self.batches(first_epoch, first_step, declare_count=False).apply(
            tf.data.experimental.service.distribute(
                processing_mode=tf.data.experimental.service.ShardingPolicy.DYNAMIC,
                service=self.address,
                job_name=f"{self.job_name}:{first_epoch}:{first_step}",
            )
        )
        return served.apply(tf.data.experimental.assert_cardinality(count))
