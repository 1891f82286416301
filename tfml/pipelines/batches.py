"""Resumable training batches: every batch of a run is a function of (seed, epoch, step).

A ``BatchStream`` is built from ``order(epoch)``, the items of one epoch in the order they are
used (a seeded permutation, P x K draws, offline pairs), and ``example(*item, epoch)``, which
turns one item into the model's (input, target) (gathering the image, distorting or augmenting it
with keys derived from (seed, epoch, index)). ``stream(first_epoch, first_step)`` yields every
batch from that step of that epoch to the end of the last epoch: exactly the batches an
uninterrupted run sees there, so a run killed mid-epoch resumes bit for bit (``tfml.training.fit``
asks the stream for the step its backup holds).

>>> import numpy as np
>>> stream = BatchStream(lambda epoch: np.random.default_rng([0, epoch]).permutation(6), lambda i, epoch: (i, epoch),
...                      batch_size=2, epochs=2)
>>> [x.numpy().tolist() for x, _ in stream(1, 2)]   # epoch 1 from its third batch: what a full run sees there
[[2, 5]]
>>> stream.steps_per_epoch
3
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf


def _as_tuple(arrays) -> tuple[np.ndarray, ...]:
    return tuple(arrays) if isinstance(arrays, (tuple, list)) else (arrays,)


class BatchStream:
    """Batches of ``batch_size`` items for ``epochs`` epochs (see the module docstring).

    order: epoch -> one array, or a tuple of arrays with one row per item (e.g. (pairs (n, 2),
        similar (n,))); every epoch must have the same number of items.
    example: (*item rows as tensors, epoch) -> (input, target) of one item, traced by tf.data.
    drop_remainder: whether a last incomplete batch of each epoch is dropped.
    """

    def __init__(
        self,
        order: Callable[[int], np.ndarray | tuple],
        example: Callable,
        batch_size: int,
        epochs: int,
        drop_remainder: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.order, self.example, self.batch_size, self.epochs = order, example, int(batch_size), int(epochs)
        self.drop_remainder = drop_remainder
        self.items_per_epoch = len(_as_tuple(order(0))[0])
        if self.items_per_epoch < (batch_size if drop_remainder else 1):
            raise ValueError(f"an epoch has {self.items_per_epoch} items, fewer than one batch of {batch_size}")
        whole = self.items_per_epoch // self.batch_size
        self.steps_per_epoch = whole if drop_remainder else math.ceil(self.items_per_epoch / self.batch_size)

    def __call__(self, first_epoch: int = 0, first_step: int = 0, declare_count: bool = True) -> tf.data.Dataset:
        """The batches from ``first_step`` of ``first_epoch`` on; ``declare_count`` asserts their number
        (Keras needs it; a tf.data service worker, which makes only its share, must not have it)."""
        if not 0 <= first_step < max(self.steps_per_epoch, 1):
            raise ValueError(f"step {first_step} is outside an epoch of {self.steps_per_epoch} steps")
        epochs = list(range(first_epoch, self.epochs))
        if not epochs:
            raise ValueError(f"epoch {first_epoch} is past the last of {self.epochs} epochs")
        columns = [
            tf.constant(np.stack(column)) for column in zip(*(self._slices(epoch) for epoch in epochs))
        ]  # (E, n, ...)
        size, count = self.batch_size, self.items_per_epoch
        starts = np.arange(0, self.steps_per_epoch * size, size)
        position = np.repeat(np.arange(len(epochs)), len(starts))[first_step:]
        epoch_of = np.asarray(epochs, np.int64)[position]
        start = np.tile(starts, len(epochs))[first_step:]

        def batch(k, epoch, first):
            rows = tuple(column[k, first : tf.minimum(first + size, count)] for column in columns)
            items = tf.data.Dataset.from_tensor_slices(rows)
            return items.map(
                lambda *row: self.example(*row, epoch), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            ).batch(size)

        # one source element per batch: a tf.data service hands out whole batches (P x K stays P x K)
        dataset = tf.data.Dataset.from_tensor_slices((position, epoch_of, start)).flat_map(batch)
        if declare_count:
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(start)))
        return dataset.prefetch(tf.data.AUTOTUNE)

    def _slices(self, epoch: int) -> tuple[np.ndarray, ...]:
        arrays = _as_tuple(self.order(epoch))
        if any(len(a) != self.items_per_epoch for a in arrays):
            raise ValueError(
                f"epoch {epoch} has {[len(a) for a in arrays]} items; every epoch must have {self.items_per_epoch}"
            )
        return arrays


def fixed_batches(inputs, targets, batch_size: int) -> tf.data.Dataset:
    """Validation or evaluation batches in the given order, the last one possibly smaller."""
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def seeded_permutation(count: int, seed: int) -> Callable[[int], np.ndarray]:
    """order(epoch) = a permutation of range(count) drawn from numpy.random.default_rng([seed, epoch])."""
    return lambda epoch: np.random.default_rng([seed, epoch]).permutation(count)


class FullBatch:
    """One batch, the whole data set, as every step: for full-batch gradient descent (e.g. fitting an
    embedding matrix to a co-occurrence matrix). Same interface as BatchStream, one step per epoch."""

    steps_per_epoch = 1

    def __init__(self, inputs, targets, epochs: int):
        self.inputs, self.targets, self.epochs = inputs, targets, int(epochs)

    def __call__(self, first_epoch: int = 0, first_step: int = 0) -> tf.data.Dataset:
        return tf.data.Dataset.from_tensors((self.inputs, self.targets)).repeat(max(self.epochs - first_epoch, 0))
