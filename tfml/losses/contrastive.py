"""Contrastive losses over a labelled batch, and over explicit pairs.

``ContrastiveLoss`` takes every ordered pair (a, k) of the batch, a != k (or every query x key
pair, see ``tfml.losses.batch``), or the pairs its miner keeps (``tfml.losses.miners``:
``PairMarginMiner``, ``HardPairMiner``, ...); with m+ = ``positive_margin``, m- = ``margin`` and
p = 2 when ``squared`` (Hadsell et al. 2006, the default) or 1 (pytorch-metric-learning's
ContrastiveLoss):

    positive pair (same label):  max(d - m+, 0)^p
    negative pair:               max(m- - d, 0)^p

(for a similarity s: max(m+ - s, 0)^p and max(s - m-, 0)^p), and the loss is reducer(positive
terms) + reducer(negative terms). pytorch-metric-learning's ContrastiveLoss is
``ContrastiveLoss(margin=1.0, squared=False, reducer="mean_nonzero")`` on L2-normalised Euclidean
distances (``distance=LpDistance()``).

``ContrastivePairLoss`` takes explicit pairs y_pred (B, 2, D) with y_true 1 (similar) or 0: the
term of a pair is y max(d - m+, 0)^p + (1 - y) max(m- - d, 0)^p.

>>> import numpy as np
>>> labels = np.array([0, 0, 1, 1])
>>> points = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
>>> float(ContrastiveLoss(margin=2.0)(labels, points))   # (1 + 2.25) / 2 + (0.5^2) / 4
1.6875
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import BatchMetricLoss, MetricLoss
from tfml.losses.miners import HardPairMiner, PairMarginMiner, pairs_of
from tfml.losses.reducers import Terms

PAIRS = ("all", "hard", "margin")  # the miners of tfml 0.1's ``pairs=`` option


def _terms(distance, d, margin, positive_margin, squared):
    power = 2.0 if squared else 1.0
    return (
        tf.maximum(distance.margin(d, positive_margin), 0.0) ** power,
        tf.maximum(distance.margin(margin, d), 0.0) ** power,
    )


@keras.saving.register_keras_serializable(package="tfml")
class ContrastiveLoss(BatchMetricLoss):
    """Contrastive loss over every pair of a batch, or the ones ``miner`` keeps: positive pairs
    max(d - positive_margin, 0)^p, negative pairs max(margin - d, 0)^p (p = 2 when ``squared``),
    each part reduced on its own; with graded labels (``JaccardLabels(graded=True)``) a positive
    pair counts J times.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1, 1]), np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
    >>> float(ContrastiveLoss(margin=2.0)(labels, x))   # positives (1 + 2.25) / 2, negatives 0.5^2 / 4
    1.6875
    """

    def __init__(
        self, margin: float = 1.0, positive_margin: float = 0.0, squared: bool = True, name="contrastive_loss", **kwargs
    ):
        super().__init__(name, **kwargs)
        self.margin, self.positive_margin, self.squared = float(margin), float(positive_margin), bool(squared)

    def batch_terms(self, batch, selection):
        pairs = pairs_of(selection)
        positive_terms, negative_terms = _terms(
            self.distance, batch.matrix(self.distance), self.margin, self.positive_margin, self.squared
        )
        return {
            "positive": Terms(positive_terms, pairs.positive, count=batch.positive_weight),  # graded labels: J
            "negative": Terms(negative_terms, pairs.negative),
        }

    def get_config(self):
        return {
            **super().get_config(),
            "margin": self.margin,
            "positive_margin": self.positive_margin,
            "squared": self.squared,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        pairs, margins = config.pop("pairs", None), config.pop("miner_margins", (0.2, 0.8))  # tfml 0.1's options
        if pairs == "hard":
            config["miner"] = HardPairMiner(config.get("margin", 1.0))
        elif pairs == "margin":
            config["miner"] = PairMarginMiner(*margins)
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfml")
class ContrastivePairLoss(MetricLoss):
    """Contrastive loss on explicit pairs y_pred (B, 2, D), y_true 1 for a similar pair and 0 otherwise:
    term y max(d - positive_margin, 0)^p + (1 - y) max(margin - d, 0)^p.

    >>> import numpy as np
    >>> pairs = np.array([[[0.0], [1.0]], [[0.0], [1.5]]], np.float32)
    >>> float(ContrastivePairLoss(margin=2.0)(np.array([1, 0]), pairs))   # (1 + 0.5^2) / 2
    0.625
    """

    def __init__(
        self,
        margin: float = 1.0,
        positive_margin: float = 0.0,
        squared: bool = True,
        distance="euclidean",
        name="contrastive_pair_loss",
        **kwargs,
    ):
        super().__init__(name, distance=distance, **kwargs)
        self.margin, self.positive_margin, self.squared = float(margin), float(positive_margin), bool(squared)

    def terms(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        d = self.distance.paired(y_pred[:, 0], y_pred[:, 1])
        similar = tf.cast(tf.reshape(y_true, [-1]), d.dtype)
        positive_terms, negative_terms = _terms(self.distance, d, self.margin, self.positive_margin, self.squared)
        values = (similar * positive_terms + (1.0 - similar) * negative_terms)[:, None]
        return {"pairs": Terms(values, tf.ones_like(values, tf.bool))}

    def get_config(self):
        return {
            **super().get_config(),
            "margin": self.margin,
            "positive_margin": self.positive_margin,
            "squared": self.squared,
        }
