"""The log-ratio loss of Kim et al., "Deep Metric Learning Beyond Binary Supervision" (CVPR 2019):
embedding distances should keep the ratios of label distances.

Triplet form: y_pred (B, 3, D) = (anchor, positive, negative) embeddings, y_true (B, 2) = label
distances (D(y_a, y_p), D(y_a, y_n)), e.g. 1 - Jaccard of genre sets; per triplet

    ( log D(f_a, f_p) / D(f_a, f_n)  -  log max(D(y_a, y_p), floor) / max(D(y_a, y_n), floor) )^2

Dense form (``dense=True``, the paper's): y_pred (B, D) with the anchor in row 0 and its neighbours
after it, y_true (B,) the label distance of each row to the anchor (row 0's is unused); the same
squared difference for every pair (i, j), 1 <= i < j < B, mean over pairs.

Two choices the paper leaves open, explicit here:
- ``distance``: "euclidean", sqrt(|u - v|^2 + epsilon) as the official code computes it (the
  default), or "sqeuclidean", |u - v|^2 + epsilon as the paper's text writes it (the log ratio then
  doubles). epsilon keeps the log and its gradient finite for identical embeddings.
- ``label_floor``: label distances below it count as it (default 0.1, below the smallest non-zero
  genre distance, 1 - 5/6). Identical genre sets are common (distance 0); the official code adds
  1e-6 instead, so log(1e-6) = -13.8 dominates every batch that holds such a pair.

>>> import numpy as np
>>> anchor_positive_negative = np.array([[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]])
>>> loss = LogRatioLoss(epsilon=0.0)
>>> round(float(loss(np.array([[0.25, 0.5]]), anchor_positive_negative)), 6)   # (log 1/2 - log 0.25/0.5)^2
0.0
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.distances import canonical_distance
from tfml.losses.base import MetricLoss
from tfml.losses.reducers import Terms


@keras.saving.register_keras_serializable(package="tfml")
class LogRatioLoss(MetricLoss):
    """Log-ratio loss, triplet form: per triplet (log D(f_a, f_p) / D(f_a, f_n) - log max(D(y_a, y_p),
    floor) / max(D(y_a, y_n), floor))^2; the dense form compares every pair of rows 1.. with row 0.

    >>> import numpy as np
    >>> triplet = np.array([[[0.0], [1.0], [4.0]]], np.float32)   # embedding distances 1 and 4
    >>> round(float(LogRatioLoss(epsilon=0.0)(np.array([[0.5, 1.0]]), triplet)), 4)   # (log 1/4 - log 1/2)^2
    0.4805
    """

    def __init__(
        self,
        label_floor: float = 0.1,
        epsilon: float = 1e-6,
        dense: bool = False,
        distance: str = "euclidean",
        name="log_ratio_loss",
        **kwargs,
    ):
        if label_floor <= 0:
            raise ValueError(f"label_floor must be positive (log of a zero distance), got {label_floor}")
        if canonical_distance(distance) not in ("euclidean", "sqeuclidean"):
            raise ValueError(f"LogRatioLoss takes distance 'euclidean' or 'sqeuclidean', got {distance!r}")
        distance = canonical_distance(distance)
        super().__init__(name, **kwargs)
        self.label_floor, self.epsilon, self.dense, self.embedding_distance = (
            label_floor,
            epsilon,
            bool(dense),
            distance,
        )

    def _log_distance(self, squared):
        value = squared + self.epsilon
        return tf.math.log(value) if self.embedding_distance == "sqeuclidean" else 0.5 * tf.math.log(value)

    def _log_label(self, distance):
        return tf.math.log(tf.maximum(distance, self.label_floor))

    def terms(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        y_true = tf.cast(y_true, y_pred.dtype)
        if self.dense:
            anchor, others = y_pred[:1], y_pred[1:]
            log_embedding = self._log_distance(tf.reduce_sum(tf.square(others - anchor), axis=1))
            log_label = self._log_label(tf.reshape(y_true, [-1])[1:])
            difference = (log_embedding[:, None] - log_embedding[None, :]) - (log_label[:, None] - log_label[None, :])
            pairs = tf.linalg.band_part(tf.ones_like(difference, tf.bool), 0, -1) & ~tf.eye(
                tf.shape(difference)[0], dtype=tf.bool
            )
            values = tf.reshape(tf.square(difference), [1, -1])
            mask = tf.reshape(pairs, [1, -1])
            batch = tf.shape(y_pred)[0]
            padding = tf.zeros([batch - 1, tf.shape(values)[1]], values.dtype)
            return {"pairs": Terms(tf.concat([values, padding], 0), tf.concat([mask, tf.cast(padding, tf.bool)], 0))}
        y_true = tf.reshape(y_true, [-1, 2])
        anchor, positive, negative = y_pred[:, 0], y_pred[:, 1], y_pred[:, 2]
        log_ap = self._log_distance(tf.reduce_sum(tf.square(anchor - positive), axis=1))
        log_an = self._log_distance(tf.reduce_sum(tf.square(anchor - negative), axis=1))
        target = self._log_label(y_true[:, 0]) - self._log_label(y_true[:, 1])
        values = tf.square(log_ap - log_an - target)[:, None]
        return {"triplets": Terms(values, tf.ones_like(values, tf.bool))}

    def get_config(self):
        return {
            **super().get_config(),
            "label_floor": self.label_floor,
            "epsilon": self.epsilon,
            "dense": self.dense,
            "distance": self.embedding_distance,
        }
