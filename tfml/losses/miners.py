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


STRATEGIES = ("hard", "semihard", "easy", "all")


def _extreme(d, candidates, largest: bool):
    """(index, value, found) per row: the candidate with the largest (or smallest) d."""
    far = tf.constant(d.dtype.min if largest else d.dtype.max, d.dtype)
    masked = tf.where(candidates, d, far)
    index = (tf.argmax if largest else tf.argmin)(masked, axis=1, output_type=tf.int32)
    return index, tf.gather(masked, index, batch_dims=1), tf.reduce_any(candidates, axis=1)


@keras.saving.register_keras_serializable(package="tfml")
class BatchEasyHardMiner(Miner):
    """Per anchor, one positive and one negative by strategy (pytorch-metric-learning's
    BatchEasyHardMiner), d the distance (a similarity counts the other way round):

    - positive: "hard" the farthest, "easy" the closest, "semihard" the farthest closer than the
      chosen negative, "all" every positive;
    - negative: "hard" the closest, "easy" the farthest, "semihard" the closest farther than the
      chosen positive, "all" every negative;

    ``allowed_pos_range`` / ``allowed_neg_range`` = (low, high): only pairs whose distance (or
    similarity) lies in [low, high] are candidates. Anchors without a candidate of each kind are
    left out. Defaults: easy positives, semi-hard negatives.

    >>> import numpy as np
    >>> from tfml.losses import Batch, LpDistance
    >>> batch = Batch(np.array([0, 0, 0, 1]), np.array([[0.0], [1.0], [3.0], [4.5]], np.float32))
    >>> mined = BatchEasyHardMiner().mine(batch, LpDistance(normalize_embeddings=False))
    >>> np.argwhere(mined.mask.numpy()).tolist()   # 2: no negative beyond its closest positive; 3: no positive
    [[0, 1, 3], [1, 0, 3]]
    """

    def __init__(
        self,
        pos_strategy: str = "easy",
        neg_strategy: str = "semihard",
        allowed_pos_range: tuple[float, float] | None = None,
        allowed_neg_range: tuple[float, float] | None = None,
        distance=None,
    ):
        for strategy in (pos_strategy, neg_strategy):
            if strategy not in STRATEGIES:
                raise ValueError(f"a strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        if pos_strategy == neg_strategy == "semihard":
            raise ValueError('pos_strategy and neg_strategy cannot both be "semihard"')
        if {pos_strategy, neg_strategy} == {"semihard", "all"}:
            raise ValueError('"semihard" cannot be used with "all"')
        super().__init__(distance)
        self.pos_strategy, self.neg_strategy = pos_strategy, neg_strategy
        self.allowed_pos_range = None if allowed_pos_range is None else tuple(map(float, allowed_pos_range))
        self.allowed_neg_range = None if allowed_neg_range is None else tuple(map(float, allowed_neg_range))

    @staticmethod
    def _in_range(mask, d, sign, allowed):
        if allowed is None:
            return mask
        value = sign * d  # back on the distance's own scale
        return mask & (value >= allowed[0]) & (value <= allowed[1])

    def select(self, batch, d, sign):
        positive = self._in_range(batch.positive, d, sign, self.allowed_pos_range)
        negative = self._in_range(batch.negative, d, sign, self.allowed_neg_range)
        pick_positive = lambda candidates: _extreme(d, candidates, self.pos_strategy != "easy")  # noqa: E731
        pick_negative = lambda candidates: _extreme(d, candidates, self.neg_strategy == "easy")  # noqa: E731
        if self.pos_strategy == "semihard":
            n_index, n_value, n_found = pick_negative(negative)
            p_index, _, p_found = pick_positive(positive & (d < n_value[:, None]))
        elif self.neg_strategy == "semihard":
            p_index, p_value, p_found = pick_positive(positive)
            n_index, _, n_found = pick_negative(negative & (d > p_value[:, None]))
        else:
            p_index, _, p_found = pick_positive(positive)
            n_index, _, n_found = pick_negative(negative)
        size = tf.shape(d)[1]
        if "all" not in (self.pos_strategy, self.neg_strategy):
            valid = p_found & n_found
            return Triplets(
                _one_hot_rows(p_index, valid, size)[:, :, None] & _one_hot_rows(n_index, valid, size)[:, None, :]
            )
        chosen_positive = positive if self.pos_strategy == "all" else _one_hot_rows(p_index, p_found, size)
        chosen_negative = negative if self.neg_strategy == "all" else _one_hot_rows(n_index, n_found, size)
        return Pairs(chosen_positive, chosen_negative)

    def get_config(self):
        return {
            "pos_strategy": self.pos_strategy,
            "neg_strategy": self.neg_strategy,
            "allowed_pos_range": self.allowed_pos_range,
            "allowed_neg_range": self.allowed_neg_range,
            **super().get_config(),
        }


@keras.saving.register_keras_serializable(package="tfml")
class BatchHardMiner(BatchEasyHardMiner):
    """Per anchor with a positive and a negative: the triplet (a, argmax_p d(a, p), argmin_n d(a, n))
    (``BatchEasyHardMiner("hard", "hard")``).

    >>> import numpy as np
    >>> from tfml.losses import Batch, LpDistance
    >>> batch = Batch(np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32))
    >>> np.argwhere(BatchHardMiner().mine(batch, LpDistance(normalize_embeddings=False)).mask.numpy()).tolist()
    [[0, 1, 2], [1, 0, 2], [2, 3, 1], [3, 2, 1]]
    """

    def __init__(self, distance=None):
        super().__init__("hard", "hard", distance=distance)

    def get_config(self):
        return {"distance": super().get_config()["distance"]}


@keras.saving.register_keras_serializable(package="tfml")
class MultiSimilarityMiner(Miner):
    """Multi-similarity mining (Wang et al. 2019): positive pairs with d(a, p) + epsilon > a's closest
    negative, negative pairs with d(a, n) - epsilon < a's farthest positive (a similarity s:
    s(a, p) - epsilon < a's most similar negative, s(a, n) + epsilon > a's least similar positive).
    Nothing when the batch has no positive pair or no negative pair. Default: cosine similarity.

    >>> import numpy as np
    >>> from tfml.losses import Batch
    >>> batch = Batch(np.array([0, 0, 1]), np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32))
    >>> pairs = MultiSimilarityMiner(0.1).mine(batch, None)
    >>> np.argwhere(pairs.positive.numpy()).tolist(), np.argwhere(pairs.negative.numpy()).tolist()
    ([[1, 0]], [[1, 2]])
    """

    def __init__(self, epsilon: float = 0.1, distance=None):
        from tfml.losses.distances import CosineSimilarity

        super().__init__(CosineSimilarity() if distance is None else distance)
        self.epsilon = float(epsilon)

    def select(self, batch, d, sign):
        positive, negative = batch.positive, batch.negative
        closest_negative = tf.reduce_min(
            tf.where(negative, d, tf.constant(d.dtype.max, d.dtype)), axis=1, keepdims=True
        )
        farthest_positive = tf.reduce_max(
            tf.where(positive, d, tf.constant(d.dtype.min, d.dtype)), axis=1, keepdims=True
        )
        both = tf.reduce_any(positive) & tf.reduce_any(negative)
        return Pairs(
            positive & (d + self.epsilon > closest_negative) & both,
            negative & (d - self.epsilon < farthest_positive) & both,
        )

    def get_config(self):
        return {"epsilon": self.epsilon, **super().get_config()}


@keras.saving.register_keras_serializable(package="tfml")
class DistanceWeightedMiner(Miner):
    """Distance-weighted sampling (Wu et al. 2017; on L2-normalised Euclidean distances in dimension
    D): a negative n of anchor a is drawn with weight w_an proportional to 1 / q(d_an), q(d) =
    d^(D-2) (1 - d^2 / 4)^((D-3)/2) the density of distances between random unit vectors, with d
    clipped below at ``cutoff`` and weight 0 from ``nonzero_loss_cutoff`` on. Each anchor with a
    negative of non-zero weight gets as many triplets as its class has items, each with a positive
    drawn uniformly and a negative drawn by w (with replacement: a triplet drawn twice counts twice).
    The draws are seeded: the same ``seed`` and the same batch give the same triplets (a resumed
    training draws again what it drew).

    >>> import numpy as np
    >>> from tfml.losses import Batch
    >>> batch = Batch(np.array([0, 0, 1, 1]), np.eye(4, 3, dtype=np.float32) + 0.1)
    >>> int(tf.reduce_sum(DistanceWeightedMiner(seed=1).mine(batch, None).count))   # 2 x 2 per class
    8
    """

    def __init__(self, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4, seed: int = 0, distance=None):
        from tfml.losses.distances import LpDistance

        distance = LpDistance() if distance is None else get_distance(distance)
        if not (
            isinstance(distance, LpDistance)
            and distance.p == 2
            and distance.power == 1
            and distance.normalize_embeddings
        ):
            raise ValueError("DistanceWeightedMiner weighs L2-normalised Euclidean distances: use LpDistance()")
        super().__init__(distance)
        self.cutoff, self.nonzero_loss_cutoff, self.seed = float(cutoff), float(nonzero_loss_cutoff), int(seed)

    def weights(self, batch: Batch) -> tf.Tensor:
        """(B, M) sampling weights of the negatives, each row summing to 1 (0 for a row without any)."""
        d = tf.maximum(batch.matrix(self.distance), self.cutoff)
        dim = tf.cast(tf.shape(batch.queries)[1], d.dtype)
        log_weights = (2.0 - dim) * tf.math.log(d) - (dim - 3.0) / 2.0 * tf.math.log(1.0 - 0.25 * d**2)
        broken = tf.math.is_inf(log_weights) | tf.math.is_nan(log_weights)
        log_weights = tf.where(batch.negative, log_weights, 0.0)
        top = tf.reduce_max(tf.where(broken, tf.constant(d.dtype.min, d.dtype), log_weights))
        weights = tf.exp(tf.where(broken, 0.0, log_weights) - top)
        weights = tf.where(batch.negative & (d < self.nonzero_loss_cutoff) & ~broken, weights, 0.0)
        return tf.math.divide_no_nan(weights, tf.reduce_sum(weights, axis=1, keepdims=True))

    def mine(self, batch: Batch, distance: Distance) -> Triplets:
        weights = self.weights(batch)
        size = tf.shape(weights)[1]
        draws = tf.reduce_max(tf.reduce_sum(tf.cast(batch.positive, tf.int32), axis=1)) + 1
        content = tf.strings.join([tf.io.serialize_tensor(batch.labels), tf.io.serialize_tensor(weights)])
        salt = tf.bitcast(tf.fingerprint(content[None])[0, :4], tf.int32)  # the batch's own: resume draws the same
        seeds = [tf.stack([self.seed, salt]), tf.stack([self.seed + 1, salt])]
        positive = tf.cast(batch.positive, weights.dtype)
        positive_logits = tf.math.log(tf.where(batch.positive, positive, 0.0))
        drawn_positive = tf.random.stateless_categorical(positive_logits, draws, seeds[0], dtype=tf.int32)
        drawn_negative = tf.random.stateless_categorical(tf.math.log(weights), draws, seeds[1], dtype=tf.int32)
        if batch.labels.shape.rank == 1:  # as pytorch-metric-learning: the items that share the anchor's label
            n_draws = tf.reduce_sum(tf.cast(tf.equal(batch.labels[:, None], batch.labels[None, :]), tf.int32), axis=1)
        else:  # multi-hot labels: its positives and itself
            n_draws = tf.reduce_sum(tf.cast(batch.positive, tf.int32), axis=1) + 1
        keep = (tf.range(draws)[None, :] < n_draws[:, None]) & tf.reduce_any(batch.positive, axis=1, keepdims=True)
        keep &= tf.reduce_any(weights > 0, axis=1, keepdims=True)
        p_hot = tf.one_hot(drawn_positive, size, dtype=weights.dtype) * tf.cast(keep, weights.dtype)[:, :, None]
        n_hot = tf.one_hot(drawn_negative, size, dtype=weights.dtype)
        count = tf.einsum("atp,atn->apn", p_hot, n_hot)
        return Triplets(count > 0, count)

    def get_config(self):
        return {
            "cutoff": self.cutoff,
            "nonzero_loss_cutoff": self.nonzero_loss_cutoff,
            "seed": self.seed,
            **super().get_config(),
        }


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
