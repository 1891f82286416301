"""Reducers: how a loss's terms become one number, as objects (pytorch-metric-learning's reducers).

A loss returns named parts, each a ``Terms``: ``values`` (B, K) and ``mask`` (B, K), the terms of
anchor (row) a being values[a, mask[a]] (a triplet's hinge, a pair's value, a row's cross-entropy),
with an optional ``count`` per term (a term drawn twice counts twice; a graded pair weighs its
weight) and the part's ``weight`` in the loss. A reducer makes one number of a part; the loss is
the weighted sum over its parts. With c_t the count of term t (1 by default), over the terms a
reducer keeps (``kept``):

- ``MeanReducer``: sum_t c_t v_t / sum_t c_t over every term;
- ``AvgNonZeroReducer``: the same over the terms with v_t > 0 (easy triplets or pairs, already at
  zero, do not dilute the hard ones; pytorch-metric-learning's default for margin losses);
- ``ThresholdReducer(low, high)``: the same over the terms with low < v_t < high;
- ``SumReducer``: sum_t c_t v_t;
- ``PerAnchorReducer(reducer)``: each anchor's mean term first (0 for an anchor without terms),
  then ``reducer`` over the B anchors;
- ``ClassWeightedReducer(weights)``: the mean of w[label of the anchor] v_t over every term.

A part with no kept term is 0, so a degenerate batch (one class, no positive pair) gives 0, never
NaN. Names are accepted where a reducer is: "mean", "mean_nonzero", "sum".

``reduce`` returns a ``Reduced``: each anchor's share of the part's value (the shares add up to
it) and the anchors that have a term (the base turns shares into Keras's per-sample values).

>>> import numpy as np
>>> part = Terms(np.array([[0.0, 2.0], [4.0, 0.0]]), np.array([[True, True], [True, False]]))
>>> [float(tf.reduce_sum(r.reduce(part, None).shares)) for r in (MeanReducer(), AvgNonZeroReducer(), SumReducer())]
[2.0, 3.0, 6.0]
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf


class Terms(NamedTuple):
    """One part of a loss: values (B, K), which of them are terms (mask (B, K) bool), how many
    times each term counts (count (B, K), None: once) and the part's weight in the loss."""

    values: tf.Tensor
    mask: tf.Tensor
    count: tf.Tensor | None = None
    weight: float = 1.0


class Reduced(NamedTuple):
    shares: tf.Tensor  # (B,): anchor a's share of the part's value; they add up to it
    anchors: tf.Tensor  # (B,) bool: the anchors that have a term


class Reducer:
    """Base class: ``kept(terms, labels)`` says which terms count, ``reduce`` averages over them
    (``average`` False: sums). Options are attributes; ``get_config`` serialises them."""

    average = True

    def kept(self, terms: Terms, labels) -> tf.Tensor:
        return tf.cast(terms.mask, tf.bool)

    def scale(self, terms: Terms, labels) -> tf.Tensor | None:
        """A factor per term (B, K), or None."""
        return None

    def reduce(self, terms: Terms, labels) -> Reduced:
        values = tf.convert_to_tensor(terms.values)
        mask = tf.cast(terms.mask, tf.bool)
        kept = self.kept(terms._replace(values=values, mask=mask), labels)
        numerator = tf.where(kept, values, tf.zeros_like(values))
        counted = tf.cast(kept, values.dtype)
        if terms.count is not None:
            count = tf.cast(terms.count, values.dtype)
            numerator, counted = numerator * count, counted * count
        factor = self.scale(terms, labels)
        if factor is not None:
            numerator = numerator * tf.cast(factor, values.dtype)
        divisor = tf.reduce_sum(counted) if self.average else tf.ones([], values.dtype)
        shares = tf.math.divide_no_nan(tf.reduce_sum(numerator, axis=1), divisor) * terms.weight
        return Reduced(shares, tf.reduce_any(mask, axis=1))

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        options = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({options})"


@keras.saving.register_keras_serializable(package="tfml")
class MeanReducer(Reducer):
    """sum_t c_t v_t / sum_t c_t over every term t (c_t its count, 1 by default).

    >>> import numpy as np
    >>> part = Terms(np.array([[0.0, 2.0], [4.0, 0.0]]), np.array([[True, True], [True, False]]))   # terms 0, 2, 4
    >>> float(tf.reduce_sum(MeanReducer().reduce(part, None).shares))
    2.0
    """


@keras.saving.register_keras_serializable(package="tfml")
class SumReducer(Reducer):
    """sum_t c_t v_t over every term t.

    >>> import numpy as np
    >>> part = Terms(np.array([[0.0, 2.0], [4.0, 0.0]]), np.array([[True, True], [True, False]]))   # terms 0, 2, 4
    >>> float(tf.reduce_sum(SumReducer().reduce(part, None).shares))
    6.0
    """

    average = False


@keras.saving.register_keras_serializable(package="tfml")
class ThresholdReducer(Reducer):
    """The mean of the terms with low < v_t < high (either bound may be None).

    >>> import numpy as np
    >>> part = Terms(np.array([[0.0, 2.0], [4.0, 0.0]]), np.array([[True, True], [True, False]]))   # terms 0, 2, 4
    >>> float(tf.reduce_sum(ThresholdReducer(low=1.0, high=3.0).reduce(part, None).shares))
    2.0
    """

    def __init__(self, low: float | None = None, high: float | None = None):
        if low is None and high is None:
            raise ValueError("ThresholdReducer needs low, high or both")
        self.low, self.high = low, high

    def kept(self, terms, labels):
        kept = tf.cast(terms.mask, tf.bool)
        if self.low is not None:
            kept &= terms.values > self.low
        if self.high is not None:
            kept &= terms.values < self.high
        return kept

    def get_config(self):
        return {"low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package="tfml")
class AvgNonZeroReducer(ThresholdReducer):
    """The mean of the terms with v_t > 0 (pytorch-metric-learning's AvgNonZeroReducer).

    >>> import numpy as np
    >>> part = Terms(np.array([[0.0, 2.0], [4.0, 0.0]]), np.array([[True, True], [True, False]]))   # terms 0, 2, 4
    >>> float(tf.reduce_sum(AvgNonZeroReducer().reduce(part, None).shares))
    3.0
    """

    def __init__(self):
        super().__init__(low=0.0)

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="tfml")
class PerAnchorReducer(Reducer):
    """m_a = anchor a's mean term (0 without terms), then ``reducer`` (default: the mean) over the B
    anchors' m_a.

    >>> import numpy as np
    >>> part = Terms(np.array([[0.0, 2.0], [4.0, 0.0]]), np.array([[True, True], [True, False]]))   # terms 0, 2, 4
    >>> float(tf.reduce_sum(PerAnchorReducer().reduce(part, None).shares))   # (1 + 4) / 2
    2.5
    """

    def __init__(self, reducer: Reducer | str | dict | None = None):
        self.reducer = get_reducer(reducer if reducer is not None else "mean")

    def reduce(self, terms: Terms, labels) -> Reduced:
        per_anchor = _rows_mean(terms)
        every = tf.ones_like(per_anchor, tf.bool)[:, None]
        inner = self.reducer.reduce(Terms(per_anchor[:, None], every, None, terms.weight), labels)
        return Reduced(inner.shares, tf.ones_like(inner.anchors))

    def get_config(self):
        return {"reducer": serialize_reducer(self.reducer)}


def _rows_mean(terms: Terms) -> tf.Tensor:
    """Each row's mean term (0 for a row without terms)."""
    values = tf.convert_to_tensor(terms.values)
    count = tf.cast(tf.cast(terms.mask, tf.bool), values.dtype)
    if terms.count is not None:
        count *= tf.cast(terms.count, values.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(values * count, axis=1), tf.reduce_sum(count, axis=1))


@keras.saving.register_keras_serializable(package="tfml")
class ClassWeightedReducer(Reducer):
    """The mean of w[label of the anchor] v_t over every term (``weights``: one per class).

    >>> import numpy as np
    >>> part = Terms(np.array([[0.0, 2.0], [4.0, 0.0]]), np.array([[True, True], [True, False]]))   # terms 0, 2, 4
    >>> float(tf.reduce_sum(ClassWeightedReducer([1.0, 0.5]).reduce(part, np.array([0, 1])).shares))   # (0 + 2 + 2) / 3
    1.3333333333333333
    """

    def __init__(self, weights):
        self.weights = [float(w) for w in np.asarray(weights, np.float64).reshape(-1)]

    def scale(self, terms, labels):
        if labels is None:
            raise ValueError("ClassWeightedReducer needs class labels")
        weights = tf.constant(self.weights, tf.convert_to_tensor(terms.values).dtype)
        return tf.gather(weights, tf.cast(tf.reshape(labels, [-1]), tf.int32))[:, None]

    def get_config(self):
        return {"weights": self.weights}


NAMED = {"mean": MeanReducer, "mean_nonzero": AvgNonZeroReducer, "sum": SumReducer}


def get_reducer(reducer: str | Reducer | dict) -> Reducer:
    """A reducer from a name ("mean", "mean_nonzero", "sum"), a serialised one or an object."""
    if isinstance(reducer, Reducer):
        return reducer
    if isinstance(reducer, dict):
        restored = keras.saving.deserialize_keras_object(reducer)
        if not isinstance(restored, Reducer):
            raise ValueError(f"not a reducer: {reducer!r}")
        return restored
    if reducer not in NAMED:
        raise ValueError(f"reducer must be one of {', '.join(NAMED)} or a Reducer object, got {reducer!r}")
    return NAMED[reducer]()


def serialize_reducer(reducer: Reducer) -> str | dict:
    """The reducer's name when it has one, else its serialised form."""
    for name, kind in NAMED.items():
        if type(reducer) is kind:
            return name
    return keras.saving.serialize_keras_object(reducer)
