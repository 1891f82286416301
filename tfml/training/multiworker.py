"""Keras 3 ``fit`` under ``tf.distribute.MultiWorkerMirroredStrategy``: the two fixes it needs.

As shipped (Keras 3.15, TensorFlow 2.21), ``fit`` fails with two or more workers:

1. ``TensorFlowTrainer._maybe_symbolic_build`` averages the first input batch over replicas with
   ``strategy.reduce("MEAN", batch)`` to build the model; under MWMS that raises "Attempt to convert
   a value (PerReplica: ...) to a Tensor" (keras-team/keras#20329). Building needs any one replica's
   batch, not their mean: the fix takes the local replica's.
2. ``reduce_per_replica`` reduces each scalar log with ``strategy.reduce("MEAN", v, axis=0)``, and a
   scalar has no axis 0 ("Invalid reduction dimension 0 for input with 0 dimensions"). The fix
   reduces scalars with ``axis=None`` (their mean over replicas, what axis=0 means for the others).

``apply()`` patches both, only on the Keras versions in ``TESTED``; elsewhere it leaves Keras alone
and says so, since upstream may have fixed them. ``tests/test_multiworker.py`` holds a canary that
fails once Keras works without the patch, so the module can be removed.
"""

from __future__ import annotations

import logging

import keras
import tensorflow as tf

log = logging.getLogger(__name__)

TESTED = ("3.15.0", "3.15.1")
_applied = False


def needed_here() -> bool:
    return keras.__version__ in TESTED


def apply() -> bool:
    """Patches Keras for multi-worker ``fit`` (see the module docstring); True when patched."""
    global _applied
    if _applied:
        return True
    if not needed_here():
        log.warning(
            "Keras %s is not among the versions tfml's multi-worker fixes were tested on (%s); running without them",
            keras.__version__,
            ", ".join(TESTED),
        )
        return False
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    original_reduce = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if trainer._collective_all_reduce_multi_worker(strategy) and reduction in ("auto", "mean"):

            def reduce(value):
                if isinstance(value, tf.distribute.DistributedValues) or tf.is_tensor(value):
                    rank = value.values[0].shape.rank if hasattr(value, "values") else value.shape.rank
                    if rank == 0:
                        return strategy.reduce("MEAN", value, axis=None)
                return original_reduce(value, strategy, reduction)

            return tree.map_structure(reduce, values)
        return original_reduce(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tree.map_structure(
                    lambda x: (
                        self.distribute_strategy.experimental_local_results(x)[0]
                        if isinstance(x, tf.distribute.DistributedValues)
                        else x
                    ),
                    batch,
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    trainer.reduce_per_replica = reduce_per_replica
    trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    _applied = True
    return True
