"""CrossBatchMemory (Wang et al. 2020, XBM): a pair or triplet loss whose keys are a memory of the
embeddings and labels of the last ``memory_size`` training samples, not just the batch.

At each call the batch (embeddings held constant) is written into the memory, a ring of
``memory_size`` slots (the oldest overwritten first), then the wrapped loss is computed with the
batch as queries and the filled slots as keys: every (query, key) pair with the same label is
positive except a query with its own slot, every pair with another label is negative; the miner,
when given, mines those pairs. Gradients reach the batch's embeddings only. As in
pytorch-metric-learning 2.9, whose values the tests compare with.

The memory is state: variables of the loss object, updated by every call. Keras runs a compiled loss
on validation batches too: ``tfml.training.fit`` keeps them out of the memory, and with
``model.fit(validation_data=...)`` or ``model.evaluate`` give ``tfml.training.LossStateOutOfValidation()``
as a callback. Big
memories suit pair losses: a triplet loss or miner over B queries and M keys builds B x M x M
masks.

>>> import numpy as np
>>> from tfml.losses import ContrastiveLoss
>>> memory = CrossBatchMemory(ContrastiveLoss(margin=1.0, squared=False), embedding_size=1, memory_size=4)
>>> first = memory(np.array([0, 1]), np.array([[0.0], [3.0]], np.float32))
>>> second = memory(np.array([0, 1]), np.array([[0.5], [2.0]], np.float32))   # keys: four slots
>>> round(float(first), 4), round(float(second), 4)
(0.0, 0.75)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import BatchMetricLoss, MetricLoss, reduce_terms
from tfml.losses.batch import Batch, SameLabel
from tfml.losses.miners import Pairs, Triplets, get_miner


@keras.saving.register_keras_serializable(package="tfml")
class CrossBatchMemory(MetricLoss):
    """``loss`` (a pair or triplet loss of ``tfml.losses``) against a memory of the last
    ``memory_size`` embeddings (``embedding_size`` each) and labels; ``miner`` mines the
    (query, memory) pairs. See the module docstring.
    """

    def __init__(
        self,
        loss: BatchMetricLoss | dict,
        embedding_size: int,
        memory_size: int = 1024,
        miner=None,
        name="cross_batch_memory",
        dtype=None,
        **kwargs,
    ):
        super().__init__(name, dtype=dtype, **kwargs)
        self.loss = keras.saving.deserialize_keras_object(loss) if isinstance(loss, dict) else loss
        if not isinstance(self.loss, BatchMetricLoss):
            raise TypeError(f"CrossBatchMemory wraps a pair or triplet loss of tfml.losses, not {self.loss!r}")
        if self.loss.miner is not None:
            raise ValueError(
                "give the miner to CrossBatchMemory (it mines the batch against the memory), not to its loss"
            )
        if type(self.loss.label_comparison) is not SameLabel:
            raise ValueError("CrossBatchMemory stores one label per item: its loss must compare labels by equality")
        self.miner = get_miner(miner)
        self.embedding_size, self.memory_size = int(embedding_size), int(memory_size)
        variable_dtype = self.dtype or "float32"
        # every replica writes the same global batch (MetricLoss.call gathers it): one memory for all
        state = {"trainable": False, "aggregation": tf.VariableAggregation.ONLY_FIRST_REPLICA}
        self.memory = tf.Variable(tf.zeros([self.memory_size, self.embedding_size], variable_dtype), **state)
        self.memory_labels = tf.Variable(tf.zeros([self.memory_size], variable_dtype), **state)
        self.filled = tf.Variable(tf.zeros([self.memory_size], tf.bool), **state)
        self.position = tf.Variable(tf.constant(0, tf.int64), **state)

    @property
    def variables(self) -> list[tf.Variable]:
        """The memory's state (embeddings, labels, filled slots, next slot)."""
        return [self.memory, self.memory_labels, self.filled, self.position]

    def reset(self) -> None:
        """Empties the memory."""
        self.filled.assign(tf.zeros_like(self.filled))
        self.position.assign(0)

    def _enqueue(self, labels, embeddings) -> tf.Tensor:
        size = tf.shape(embeddings, out_type=tf.int64)[0]
        tf.debugging.assert_less_equal(size, tf.cast(self.memory_size, tf.int64), "the batch is larger than the memory")
        slots = (self.position + tf.range(size)) % self.memory_size
        for variable, values in (
            (self.memory, tf.stop_gradient(embeddings)),
            (self.memory_labels, labels),
            (self.filled, tf.ones([size], tf.bool)),
        ):  # scatter_update, which mirrored variables implement (scatter_nd_update they do not)
            variable.scatter_update(tf.IndexedSlices(tf.cast(values, variable.dtype), slots))
        self.position.assign((self.position + size) % self.memory_size)
        return slots

    def anchor_values(self, y_true, y_pred):
        labels, embeddings = tf.reshape(y_true, [-1]), tf.convert_to_tensor(y_pred)
        slots = self._enqueue(labels, embeddings)
        keys = tf.cast(self.memory.read_value(), embeddings.dtype)
        batch = Batch(labels, embeddings, keys, key_labels=tf.cast(self.memory_labels.read_value(), labels.dtype))
        own = tf.one_hot(slots, self.memory_size, on_value=True, off_value=False, dtype=tf.bool)
        filled = self.filled.read_value()[None, :]
        batch.positive, batch.negative = batch.positive & filled, batch.negative & filled
        selection = (
            Pairs(batch.positive, batch.negative) if self.miner is None else self.miner.mine(batch, self.loss.distance)
        )
        if isinstance(selection, Pairs):  # the miner saw each query's own slot, as pytorch-metric-learning's does
            selection = Pairs(selection.positive & ~own, selection.negative)
        else:
            selection = Triplets(selection.mask & ~own[:, :, None], selection.count)
        batch.positive = batch.positive & ~own
        return reduce_terms(self.loss.batch_terms(batch, selection), self.loss.reducer, batch.labels)

    def get_config(self):
        config = super().get_config()
        config.pop("reducer", None)
        return {
            **config,
            "loss": keras.saving.serialize_keras_object(self.loss),
            "embedding_size": self.embedding_size,
            "memory_size": self.memory_size,
            "miner": None if self.miner is None else keras.saving.serialize_keras_object(self.miner),
        }
