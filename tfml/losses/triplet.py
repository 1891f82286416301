"""Triplet losses over a labelled batch, and over explicit triplets.

``TripletLoss`` (pytorch-metric-learning's TripletMarginLoss): every triplet (a, p, n) of the batch
(a positive p of anchor a: another item with its label; a negative n: an item with another label),
or those its miner keeps (``tfml.losses.miners``), with m the margin and d the distance (for a
similarity s, d(a, p) - d(a, n) reads s(a, n) - s(a, p)):

    term(a, p, n) = max(0, d(a, p) - d(a, n) + m),   or log(1 + exp(d(a, p) - d(a, n) + m)) when smooth_loss

pytorch-metric-learning averages over the triplets with a non-zero term (``reducer="mean_nonzero"``).

Two classic losses are this loss with a miner:

- ``TripletSemiHardLoss`` (tensorflow-addons 0.23 ``triplet_semihard_loss``): ``SemiHardNegativeMiner``
  (per positive pair, the closest negative farther than the positive, else the farthest negative)
  and the mean over positive pairs; a batch without positive pairs or negatives gives 0, not NaN.
- ``TripletHardLoss`` (batch-hard): ``BatchHardMiner`` (per anchor, its farthest positive and
  closest negative); ``soft`` replaces the hinge by log(1 + exp(d(a, p) - d(a, n))), no margin.

``TripletMarginLoss``: explicit (anchor, positive, negative) triplets, y_pred (B, 3, D), y_true
unused; term max(0, m + d(a, p) - d(a, n)) per triplet.

>>> import numpy as np
>>> from tfml.losses.miners import TripletMarginMiner
>>> labels = np.array([0, 0, 1, 1])
>>> points = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
>>> round(float(TripletHardLoss(margin=1.0)(labels, points)), 4)   # anchors: 0, 0.5, 1, 0
0.375
>>> miner = TripletMarginMiner(1.0, "semihard")   # keeps (1, 0, 2): term 0.5, and (2, 3, 0): term 0
>>> float(TripletLoss(1.0, miner=miner)(labels, points))
0.25
>>> float(TripletLoss(1.0, miner=miner, reducer="mean_nonzero")(labels, points))
0.5
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import BatchMetricLoss, MetricLoss
from tfml.losses.miners import (
    BatchHardMiner,
    IndexedTripletMiner,
    SemiHardNegativeMiner,
    TripletMarginMiner,
    triplets_of,
)
from tfml.losses.reducers import Terms

TRIPLETS = ("all", "semihard", "hard", "easy", "indexed")  # the miners of tfml 0.1's ``triplets=`` option


@keras.saving.register_keras_serializable(package="tfml")
class TripletLoss(BatchMetricLoss):
    """Triplet margin loss over every triplet (a, p, n) of a batch, or the ones ``miner`` keeps:

        term(a, p, n) = max(0, d(a, p) - d(a, n) + margin)      (softplus instead of max when ``smooth_loss``)

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
    >>> float(TripletLoss(margin=1.0)(labels, x))   # 8 triplets; (1, 0, 2) at 0.5 and (2, 3, 1) at 1.0
    0.1875
    """

    def __init__(self, margin: float = 0.2, smooth_loss: bool = False, name="triplet_loss", **kwargs):
        super().__init__(name, **kwargs)
        self.margin, self.smooth_loss = float(margin), bool(smooth_loss)

    def batch_terms(self, batch, selection):
        triplets = triplets_of(selection)
        d = batch.matrix(self.distance)
        gap = self.distance.margin(d[:, None, :], d[:, :, None])  # (a, p, n): d(a, n) - d(a, p)
        violation = self.margin - gap
        values = tf.math.softplus(violation) if self.smooth_loss else tf.maximum(violation, 0.0)
        rows = tf.shape(d)[0]
        count = None if triplets.count is None else tf.reshape(triplets.count, [rows, -1])
        return {"triplets": Terms(tf.reshape(values, [rows, -1]), tf.reshape(triplets.mask, [rows, -1]), count)}

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "smooth_loss": self.smooth_loss}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        triplets = config.pop("triplets", None)  # tfml 0.1's option
        if triplets is not None:
            config["miner"] = (
                IndexedTripletMiner()
                if triplets == "indexed"
                else TripletMarginMiner(config.get("margin", 0.2), triplets)
            )
        return cls(**config)


class _MinedTripletLoss(TripletLoss):
    """A TripletLoss whose miner is part of its definition (not an option)."""

    def get_config(self):
        config = super().get_config()
        del config["miner"], config["smooth_loss"]
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfml")
class TripletSemiHardLoss(_MinedTripletLoss):
    """tensorflow-addons' semi-hard triplet loss: per positive pair (a, p), n the closest negative
    farther than p (else a's farthest negative), term max(0, margin + d(a, p) - d(a, n)), mean over
    positive pairs.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
    >>> float(TripletSemiHardLoss(margin=1.0)(labels, x))   # (1, 0): 1 + 1 - 1.5; the other three pairs 0
    0.125
    """

    def __init__(self, margin: float = 1.0, name="triplet_semihard_loss", **kwargs):
        super().__init__(margin, miner=SemiHardNegativeMiner(), name=name, **kwargs)


@keras.saving.register_keras_serializable(package="tfml")
class TripletHardLoss(_MinedTripletLoss):
    """Batch-hard triplet loss: per anchor, its farthest positive p and closest negative n, term
    max(0, margin + d(a, p) - d(a, n)), or log(1 + exp(d(a, p) - d(a, n))) when ``soft``.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
    >>> round(float(TripletHardLoss(margin=1.0)(labels, x)), 4), round(float(TripletHardLoss(soft=True)(labels, x)), 4)
    (0.375, 0.3925)
    """

    def __init__(self, margin: float = 1.0, soft: bool = False, name="triplet_hard_loss", **kwargs):
        super().__init__(0.0 if soft else margin, smooth_loss=soft, miner=BatchHardMiner(), name=name, **kwargs)
        self.hinge_margin, self.soft = float(margin), bool(soft)

    def get_config(self):
        return {**super().get_config(), "margin": self.hinge_margin, "soft": self.soft}


@keras.saving.register_keras_serializable(package="tfml")
class TripletMarginLoss(MetricLoss):
    """Margin loss on explicit triplets y_pred (B, 3, D) = (anchor, positive, negative), y_true unused:
    term max(0, margin + d(a, p) - d(a, n)) per triplet.

    >>> import numpy as np
    >>> float(TripletMarginLoss(margin=1.0)(np.zeros(1), np.array([[[0.0], [1.0], [1.5]]], np.float32)))   # 1 + 1 - 1.5
    0.5
    """

    def __init__(self, margin: float = 1.0, distance="euclidean", name="triplet_margin_loss", **kwargs):
        super().__init__(name, distance=distance, **kwargs)
        self.margin = float(margin)

    def terms(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        distance = self.distance
        gap = distance.margin(distance.paired(y_pred[:, 0], y_pred[:, 1]), distance.paired(y_pred[:, 0], y_pred[:, 2]))
        values = tf.maximum(self.margin + gap, 0.0)[:, None]
        return {"triplets": Terms(values, tf.ones_like(values, tf.bool))}

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}
