"""The base of tfml's metric-learning losses: a loss is a distance, an optional miner and a reducer,
each an object, and the loss's formula.

A loss computes named parts of terms (``tfml.losses.reducers.Terms``: a triplet's hinge, a pair's
value, a row's cross-entropy, each belonging to one anchor, a row of the batch); its *reducer*
makes each part one number and the loss is their weighted sum. Subclasses implement
``terms(y_true, y_pred) -> {name: Terms}``; batch losses (``BatchMetricLoss``) implement
``batch_terms(batch, selection)`` on a ``Batch`` (labels, embeddings, positive and negative
masks, distance matrices) and what their miner selected.

Per-sample values for Keras: ``call`` returns, for each anchor a, l_a = |V| sum over parts of
(anchor a's share of the part), V the anchors that have a term, and marks the anchors outside V as
masked. Keras's default reduction, "sum_over_batch_size", averages over the unmasked anchors, which
gives exactly the reduced loss; ``sample_weight`` weights anchors; ``reduction=None`` returns l_a.

Options are attributes (``loss.margin``), ``get_config`` returns them, and every tfml loss
serialises into an ``.h5`` model and loads back after ``import tfml``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.batch import Batch, SameLabel, get_label_comparison, split_embeddings
from tfml.losses.distances import Distance, get_distance
from tfml.losses.masking import with_valid_mask
from tfml.losses.miners import Miner, Pairs, Triplets, get_miner
from tfml.losses.reducers import Reducer, Terms, get_reducer, serialize_reducer

REDUCERS = ("mean", "mean_nonzero", "sum")


def reduce_terms(parts: dict[str, Terms], reducer: Reducer, labels=None) -> tuple[tf.Tensor, tf.Tensor]:
    """(per-anchor values l_a (B,), anchors with a term (B,) bool) of the named parts (see the
    module docstring)."""
    total, valid = None, None
    for part in parts.values():
        shares, anchors = reducer.reduce(part, labels)
        total = shares if total is None else total + shares
        valid = anchors if valid is None else valid | anchors
    return total * tf.reduce_sum(tf.cast(valid, total.dtype)), valid


def masked_logsumexp(x, mask, axis: int = 1, add_one: bool = False) -> tf.Tensor:
    """log(sum over the kept entries of exp(x), plus 1 when ``add_one``) along ``axis``, and 0 where
    nothing is kept (pytorch-metric-learning's ``logsumexp``); finite gradients everywhere.

    >>> import numpy as np
    >>> x, keep = np.log([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]), np.array([[True, True, False], [False, False, False]])
    >>> masked_logsumexp(x, keep, add_one=True).numpy().round(4).tolist()   # log(1 + 1 + 2), nothing kept
    [1.3863, 0.0]
    """
    x = tf.convert_to_tensor(x)
    mask = tf.cast(mask, tf.bool)
    kept = tf.where(mask, x, tf.fill(tf.shape(x), tf.constant(x.dtype.min, x.dtype)))
    if add_one:
        shape = tf.tensor_scatter_nd_update(tf.shape(kept), [[axis % len(x.shape)]], [1])
        kept = tf.concat([kept, tf.zeros(shape, x.dtype)], axis=axis)
    return tf.where(tf.reduce_any(mask, axis=axis), tf.reduce_logsumexp(kept, axis=axis), tf.zeros([], x.dtype))


def per_sample(value, batch_size) -> tuple[tf.Tensor, tf.Tensor]:
    """A loss value that is not a sum of per-sample terms (a proxy loss's) as per-anchor values:
    each sample carries the value, so Keras's mean gives it back."""
    return tf.fill([batch_size], value), tf.ones([batch_size], tf.bool)


def gather_replicas(context: tf.distribute.ReplicaContext, x, start, total) -> tf.Tensor:
    """Every replica's ``x`` (rows start..start + len(x) of ``total``) concatenated, on every replica;
    gradients flow back to each replica's own rows, summed over the replicas. Built on ``all_reduce``
    (a SUM of zero-padded copies), whose gradient is defined under every strategy, where
    ``all_gather`` fails under MultiWorkerMirroredStrategy with one device per worker."""
    x = tf.convert_to_tensor(x)
    carrier = x if x.dtype.is_floating else tf.cast(x, tf.float64)
    padding = [[start, total - start - tf.shape(x)[0]]] + [[0, 0]] * (len(x.shape) - 1)
    gathered = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.pad(carrier, padding))
    return gathered if x.dtype.is_floating else tf.cast(gathered, x.dtype)


def across_replicas(anchor_values, context: tf.distribute.ReplicaContext, y_true, y_pred):
    """One replica's (values, valid) of ``anchor_values`` computed on the global batch, so that under
    a ``tf.distribute`` strategy with N replicas the loss and its gradients are those of one device
    on the whole batch.

    Every replica gathers the labels and embeddings of all (``gather_replicas``), computes the
    global l_a and valid set V, and keeps its rows R, scaled to l_a N |V n R| / |V|: Keras averages
    each replica's valid values and divides by N, so the replicas' losses add up to
    mean_{a in V} l_a, the one-device value; the summed gradients are the one-device gradients.
    """
    size = tf.shape(y_pred)[0]
    replicas = context.num_replicas_in_sync
    sizes = context.all_reduce(
        tf.distribute.ReduceOp.SUM, tf.one_hot(context.replica_id_in_sync_group, replicas) * tf.cast(size, tf.float32)
    )
    sizes = tf.cast(sizes, tf.int32)
    start, total = tf.reduce_sum(sizes[: context.replica_id_in_sync_group]), tf.reduce_sum(sizes)
    gathered = (gather_replicas(context, value, start, total) for value in (y_true, y_pred))
    values, valid = anchor_values(*gathered)
    mine, kept = values[start : start + size], valid[start : start + size]
    count = lambda mask: tf.reduce_sum(tf.cast(mask, values.dtype))  # noqa: E731
    scale = replicas * count(kept) / tf.maximum(count(valid), 1.0)
    return mine * scale, kept


def _serialize(value):
    if isinstance(value, (Distance, Miner)):
        return keras.saving.serialize_keras_object(value)
    return value


class MetricLoss(keras.losses.Loss):
    """Base class: subclasses implement ``terms(y_true, y_pred)`` (see the module docstring).

    distance: for a loss that measures one, a name of tfml's distance vocabulary among
        LOSS_DISTANCES (aliases accepted) or a ``Distance`` object (``tfml.losses.distances``).
    reducer: "mean", "mean_nonzero", "sum" or a ``Reducer`` object (``tfml.losses.reducers``).
    """

    def __init__(
        self,
        name: str,
        *,
        distance: str | Distance | dict | None = None,
        reducer: str | Reducer | dict = "mean",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.distance = None if distance is None else get_distance(distance)
        self.reducer = get_reducer(reducer)
        self._distance_spec = distance if isinstance(distance, str) else self.distance

    def terms(self, y_true, y_pred) -> dict[str, Terms]:
        raise NotImplementedError

    def anchor_values(self, y_true, y_pred) -> tuple[tf.Tensor, tf.Tensor]:
        """(per-anchor values l_a (B,), anchors with a term (B,) bool) of one batch."""
        return reduce_terms(self.terms(y_true, y_pred), self.reducer)

    def call(self, y_true, y_pred):
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return with_valid_mask(*self.anchor_values(y_true, y_pred))
        return with_valid_mask(*across_replicas(self.anchor_values, context, y_true, y_pred))

    def get_config(self):
        config = {**super().get_config(), "reducer": serialize_reducer(self.reducer)}
        if self.dtype != keras.config.floatx():  # a float64 loss stays float64 when it reloads
            config["dtype"] = self.dtype
        if self.distance is not None:
            config["distance"] = _serialize(self._distance_spec)
        return config


class BatchMetricLoss(MetricLoss):
    """A loss over the pairs or triplets of a labelled batch: y_true the labels (B,), y_pred the
    embeddings (B, D) or query/key pairs (B, 2, D) (see ``tfml.losses.batch``). ``miner`` (a
    ``Miner``) picks the pairs or triplets; without one, every pair (or triplet) counts.
    ``label_comparison`` says which pairs are positives and negatives: "same" (one label per
    item), "jaccard" or a ``JaccardLabels`` for multi-hot labels (B, L)."""

    def __init__(
        self,
        name: str,
        *,
        miner: Miner | dict | None = None,
        distance="euclidean",
        label_comparison: str | SameLabel | dict | None = None,
        **kwargs,
    ):
        super().__init__(name, distance=distance, **kwargs)
        self.miner = get_miner(miner)
        self.label_comparison = get_label_comparison(label_comparison)

    def batch(self, y_true, y_pred) -> Batch:
        labels, targets = self.miner.split_targets(y_true) if self.miner is not None else (y_true, None)
        queries, keys = split_embeddings(y_pred)
        return Batch(labels, queries, keys, targets=targets, comparison=self.label_comparison)

    def selection(self, batch: Batch) -> Pairs | Triplets:
        """What the miner kept, or every positive and negative pair without a miner."""
        if self.miner is None:
            return Pairs(batch.positive, batch.negative)
        return self.miner.mine(batch, self.distance)

    def batch_terms(self, batch: Batch, selection: Pairs | Triplets) -> dict[str, Terms]:
        raise NotImplementedError

    def anchor_values(self, y_true, y_pred):
        batch = self.batch(y_true, y_pred)
        return reduce_terms(self.batch_terms(batch, self.selection(batch)), self.reducer, batch.labels)

    def get_config(self):
        config = {**super().get_config(), "miner": _serialize(self.miner)}
        if type(self.label_comparison) is not SameLabel:
            config["label_comparison"] = keras.saving.serialize_keras_object(self.label_comparison)
        return config
