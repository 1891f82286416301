"""Miners: objects that pick the pairs or triplets of a batch a loss is computed on
(pytorch-metric-learning's miners).

``miner.mine(batch, distance)`` returns what a loss consumes, over the batch's B queries and M keys
(``tfml.losses.batch.Batch``):

- ``Pairs(positive, negative)``: boolean (B, M) masks of the positive and negative pairs kept;
- ``Triplets(mask)``: a boolean (B, M, M) mask of the (anchor, positive, negative) triplets kept,
  with an optional ``count`` (a triplet drawn twice counts twice).

A miner measures with its own ``distance`` when it has one, else with the loss's. Below, d is a
distance (for a similarity s, "farther" means a smaller s, and the margins are on s), m the margin:

- ``TripletMarginMiner(margin, type_of_triplets)``: triplets with d(a, n) - d(a, p) <= m ("all":
  those that violate the margin), of those with d(a, n) <= d(a, p) ("hard") or d(a, n) > d(a, p)
  ("semihard"), or the others ("easy");
- ``PairMarginMiner(pos_margin, neg_margin)``: positive pairs with d > pos_margin, negative pairs
  with d < neg_margin;
- ``BatchHardMiner()``: per anchor with a positive and a negative, its farthest positive and
  closest negative (one triplet);
- ``SemiHardNegativeMiner()``: tensorflow-addons' rule: per positive pair (a, p), the closest
  negative farther from a than p, or, when there is none, a's farthest negative (one triplet);
- ``HardPairMiner(neg_margin)``: positive pairs farther apart than the closest negative of either
  member, negative pairs with d < neg_margin;
- ``IndexedTripletMiner()``: the triplets the targets name, y_true (B, 3) = (label, index of the
  positive in the batch, index of the negative), e.g. drawn by
  ``tfml.pipelines.random_in_batch_triplets``.

>>> import numpy as np
>>> from tfml.losses.batch import Batch
>>> from tfml.losses.distances import LpDistance
>>> batch = Batch(np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32))
>>> miner = TripletMarginMiner(margin=1.0, type_of_triplets="semihard")
>>> triplets = miner.mine(batch, LpDistance(normalize_embeddings=False))
>>> np.argwhere(triplets.mask.numpy()).tolist()   # (anchor, positive, negative)
[[1, 0, 2], [2, 3, 0]]
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from tfml.losses.batch import Batch
from tfml.losses.distances import Distance, get_distance


class Pairs(NamedTuple):
    positive: tf.Tensor  # (B, M) bool
    negative: tf.Tensor  # (B, M) bool


class Triplets(NamedTuple):
    mask: tf.Tensor  # (B, M, M) bool: (anchor, positive, negative)
    count: tf.Tensor | None = None  # (B, M, M): how many times each triplet was drawn; None: once


def pairs_of(selection: Pairs | Triplets) -> Pairs:
    """The pairs of a selection: of triplets, each (a, p) and each (a, n) that a kept triplet holds."""
    if isinstance(selection, Pairs):
        return selection
    return Pairs(tf.reduce_any(selection.mask, axis=2), tf.reduce_any(selection.mask, axis=1))


def triplets_of(selection: Pairs | Triplets) -> Triplets:
    """The triplets of a selection: of pairs, every kept positive pair with every kept negative pair
    of the same anchor."""
    if isinstance(selection, Triplets):
        return selection
    return Triplets(selection.positive[:, :, None] & selection.negative[:, None, :])


class Miner:
    """Base class: ``select(batch, d)`` with d the distance-like matrix (B, M) (a similarity is
    negated, so smaller is always closer) and ``sign`` (-1 for a similarity, to turn margins given
    on its scale into margins on d). Options are attributes; ``get_config`` serialises them."""

    def __init__(self, distance: Distance | str | dict | None = None):
        self.distance = None if distance is None else get_distance(distance)

    def split_targets(self, y_true) -> tuple[tf.Tensor, tf.Tensor | None]:
        """(labels, targets the miner reads) from y_true; by default y_true is the labels."""
        return y_true, None

    def mine(self, batch: Batch, distance: Distance) -> Pairs | Triplets:
        distance = self.distance or distance
        matrix = batch.matrix(distance)
        sign = -1.0 if distance.is_inverted else 1.0
        return self.select(batch, sign * matrix, sign)

    def select(self, batch: Batch, d: tf.Tensor, sign: float) -> Pairs | Triplets:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"distance": None if self.distance is None else keras.saving.serialize_keras_object(self.distance)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


TYPES_OF_TRIPLETS = ("all", "hard", "semihard", "easy")


@keras.saving.register_keras_serializable(package="tfml")
class TripletMarginMiner(Miner):
    """Triplets by their margin m = d(a, n) - d(a, p) (a similarity s: m = s(a, p) - s(a, n)):
    "all" keeps m <= margin, "hard" m <= 0, "semihard" 0 < m <= margin, "easy" m > margin.

    >>> import numpy as np
    >>> from tfml.losses import Batch, LpDistance
    >>> batch = Batch(np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32))
    >>> mined = TripletMarginMiner(1.0, "semihard").mine(batch, LpDistance(normalize_embeddings=False))
    >>> np.argwhere(mined.mask.numpy()).tolist()   # (anchor, positive, negative)
    [[1, 0, 2], [2, 3, 0]]
    """

    def __init__(self, margin: float = 0.2, type_of_triplets: str = "all", distance=None):
        if type_of_triplets not in TYPES_OF_TRIPLETS:
            raise ValueError(
                f"type_of_triplets must be one of {', '.join(TYPES_OF_TRIPLETS)}, got {type_of_triplets!r}"
            )
        super().__init__(distance)
        self.margin, self.type_of_triplets = float(margin), type_of_triplets

    def select(self, batch, d, sign):
        gap = d[:, None, :] - d[:, :, None]  # (a, p, n): d(a, n) - d(a, p)
        margin = self.margin
        keep = {"all": gap <= margin, "semihard": (gap > 0) & (gap <= margin), "hard": gap <= 0, "easy": gap > margin}[
            self.type_of_triplets
        ]
        return Triplets(batch.positive[:, :, None] & batch.negative[:, None, :] & keep)

    def get_config(self):
        return {"margin": self.margin, "type_of_triplets": self.type_of_triplets, **super().get_config()}


@keras.saving.register_keras_serializable(package="tfml")
class PairMarginMiner(Miner):
    """Positive pairs with d > pos_margin, negative pairs with d < neg_margin (a similarity s:
    s < pos_margin and s > neg_margin).

    >>> import numpy as np
    >>> from tfml.losses import Batch, LpDistance
    >>> batch = Batch(np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32))
    >>> pairs = PairMarginMiner(1.2, 2.0).mine(batch, LpDistance(normalize_embeddings=False))
    >>> np.argwhere(pairs.positive.numpy()).tolist(), np.argwhere(pairs.negative.numpy()).tolist()
    ([[2, 3], [3, 2]], [[1, 2], [2, 1]])
    """

    def __init__(self, pos_margin: float = 0.2, neg_margin: float = 0.8, distance=None):
        super().__init__(distance)
        self.pos_margin, self.neg_margin = float(pos_margin), float(neg_margin)

    def select(self, batch, d, sign):
        return Pairs(batch.positive & (d > sign * self.pos_margin), batch.negative & (d < sign * self.neg_margin))

    def get_config(self):
        return {"pos_margin": self.pos_margin, "neg_margin": self.neg_margin, **super().get_config()}


@keras.saving.register_keras_serializable(package="tfml")
class HardPairMiner(Miner):
    """Positive pairs (a, k) with d(a, k) > min(closest negative of a, closest negative of k);
    negative pairs with d < neg_margin.

    >>> import numpy as np
    >>> from tfml.losses import Batch, LpDistance
    >>> batch = Batch(np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32))
    >>> pairs = HardPairMiner(neg_margin=2.0).mine(batch, LpDistance(normalize_embeddings=False))
    >>> np.argwhere(pairs.positive.numpy()).tolist(), np.argwhere(pairs.negative.numpy()).tolist()
    ([], [[1, 2], [2, 1]])
    """

    def __init__(self, neg_margin: float = 1.0, distance=None):
        super().__init__(distance)
        self.neg_margin = float(neg_margin)

    def select(self, batch, d, sign):
        positive, negative = batch.positive, batch.negative
        never = tf.reduce_max(d) + 1.0  # an anchor without negatives: no positive pair is hard
        closest_negative = tf.reduce_min(tf.where(negative, d, never), axis=1)
        closest_of_key = (
            closest_negative
            if batch.keys is None
            else tf.reduce_min(tf.where(tf.transpose(negative), tf.transpose(d), never), axis=1)
        )
        return Pairs(
            positive & (d > tf.minimum(closest_negative[:, None], closest_of_key[None, :])),
            negative & (d < sign * self.neg_margin),
        )

    def get_config(self):
        return {"neg_margin": self.neg_margin, **super().get_config()}


def _one_hot_rows(index, valid, size):
    """(B, M) bool with row b true at index[b] where valid[b]."""
    return tf.one_hot(index, size, on_value=True, off_value=False, dtype=tf.bool) & valid[:, None]


@keras.saving.register_keras_serializable(package="tfml")
class BatchHardMiner(Miner):
    """Per anchor with a positive and a negative: the triplet (a, argmax_p d(a, p), argmin_n d(a, n)).

    >>> import numpy as np
    >>> from tfml.losses import Batch, LpDistance
    >>> batch = Batch(np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32))
    >>> np.argwhere(BatchHardMiner().mine(batch, LpDistance(normalize_embeddings=False)).mask.numpy()).tolist()
    [[0, 1, 2], [1, 0, 2], [2, 3, 1], [3, 2, 1]]
    """

    def select(self, batch, d, sign):
        positive, negative = batch.positive, batch.negative
        size = tf.shape(d)[1]
        lowest = tf.fill(tf.shape(d), tf.constant(float("-inf"), d.dtype))
        farthest_positive = tf.argmax(tf.where(positive, d, lowest), axis=1, output_type=tf.int32)
        closest_negative = tf.argmin(tf.where(negative, d, -lowest), axis=1, output_type=tf.int32)
        valid = tf.reduce_any(positive, axis=1) & tf.reduce_any(negative, axis=1)
        return Triplets(
            _one_hot_rows(farthest_positive, valid, size)[:, :, None]
            & _one_hot_rows(closest_negative, valid, size)[:, None, :]
        )


@keras.saving.register_keras_serializable(package="tfml")
class SemiHardNegativeMiner(Miner):
    """tensorflow-addons' semi-hard rule: per positive pair (a, p), the triplet with
    n = argmin over negatives with d(a, n) > d(a, p) of d(a, n), or, when there is none, a's farthest
    negative. Sorted once per anchor and searched: O(B M log M).

    >>> import numpy as np
    >>> from tfml.losses import Batch, LpDistance
    >>> batch = Batch(np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32))
    >>> np.argwhere(SemiHardNegativeMiner().mine(batch, LpDistance(normalize_embeddings=False)).mask.numpy()).tolist()
    [[0, 1, 2], [1, 0, 2], [2, 3, 0], [3, 2, 1]]
    """

    def select(self, batch, d, sign):
        positive, negative = batch.positive, batch.negative
        size = tf.shape(d)[1]
        beyond = tf.reduce_max(d) + 1.0
        order = tf.argsort(tf.where(negative, d, beyond), axis=1, stable=True)
        sorted_negatives = tf.gather(tf.where(negative, d, beyond), order, batch_dims=1)
        n_negatives = tf.reduce_sum(tf.cast(negative, tf.int32), axis=1, keepdims=True)
        first_farther = tf.searchsorted(sorted_negatives, d, side="right")  # (a, p): first negative past d(a, p)
        position = tf.where(first_farther < n_negatives, first_farther, tf.maximum(n_negatives - 1, 0))
        chosen = tf.gather(order, position, batch_dims=1)  # (a, p) -> negative index
        valid = positive & tf.reduce_any(negative)
        one_hot = tf.one_hot(chosen, size, on_value=True, off_value=False, dtype=tf.bool)
        return Triplets(one_hot & valid[:, :, None] & negative[:, None, :])


@keras.saving.register_keras_serializable(package="tfml")
class IndexedTripletMiner(Miner):
    """The triplets the targets name: y_true (B, 3) = (label, positive index, negative index), one
    triplet (a, p_a, n_a) per row.

    >>> import numpy as np
    >>> from tfml.losses import Batch, LpDistance
    >>> labels, targets = IndexedTripletMiner().split_targets(np.array([[0, 1, 2], [0, 0, 3], [1, 3, 0], [1, 2, 1]]))
    >>> batch = Batch(labels, np.array([[0.0], [1.0], [2.5], [4.0]], np.float32), targets=targets)
    >>> np.argwhere(IndexedTripletMiner().mine(batch, LpDistance()).mask.numpy()).tolist()
    [[0, 1, 2], [1, 0, 3], [2, 3, 0], [3, 2, 1]]
    """

    def split_targets(self, y_true):
        y_true = tf.reshape(tf.convert_to_tensor(y_true), [-1, 3])
        return y_true[:, 0], tf.cast(y_true[:, 1:], tf.int32)

    def select(self, batch, d, sign):
        if batch.targets is None:
            raise ValueError("IndexedTripletMiner needs y_true (B, 3) = (label, positive index, negative index)")
        size = tf.shape(d)[1]
        every = tf.ones([tf.shape(d)[0]], tf.bool)
        return Triplets(
            _one_hot_rows(batch.targets[:, 0], every, size)[:, :, None]
            & _one_hot_rows(batch.targets[:, 1], every, size)[:, None, :]
        )


def get_miner(miner: Miner | dict | None) -> Miner | None:
    """A miner from a serialised one (a dict) or an object; None stays None (no mining: every pair)."""
    if miner is None or isinstance(miner, Miner):
        return miner
    if isinstance(miner, dict):
        restored = keras.saving.deserialize_keras_object(miner)
        if isinstance(restored, Miner):
            return restored
    raise TypeError(f"miner must be a Miner object, got {miner!r}")
