"""Symmetric InfoNCE (CLIP, Radford et al. 2021) between two towers' embeddings.

y_pred (B, 2, D): row i holds the scaled query s u_i (e.g. a poster's embedding times the learned
logit scale s) and its key v_i (its synopsis'); logits L[i, j] = sim(s u_i, v_j), the similarity
of ``distance`` (default ``DotProductSimilarity``: L = (s U) V^T; a distance d gives -d), and item
i's match is column i:

    loss = 1/2 [ mean_i CE(softmax(L[i, :]), i)  +  mean_j CE(softmax(L[:, j]), j) ]

(cross-entropy over the keys for each query, and over the queries for each key). y_true is unused.

>>> import numpy as np
>>> pair = np.array([[[3.0, 0.0], [1.0, 0.0]], [[0.0, 3.0], [0.0, 1.0]]])   # scale 3, each item nearest its match
>>> round(float(ClipLoss()(np.zeros(2), pair)), 6) == round(float(np.log1p(np.exp(-3.0))), 6)   # log(1 + e^-3)
True
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import MetricLoss
from tfml.losses.distances import DotProductSimilarity
from tfml.losses.reducers import Terms


@keras.saving.register_keras_serializable(package="tfml")
class ClipLoss(MetricLoss):
    """Symmetric InfoNCE over a batch of matched pairs y_pred (B, 2, D): with logits L[i, j] =
    sim(query i, key j), 1/2 [mean_i CE(softmax(L[i, :]), i) + mean_j CE(softmax(L[:, j]), j)].

    >>> import numpy as np
    >>> pairs = np.array([[[3.0, 0.0], [1.0, 0.0]], [[0.0, 3.0], [0.0, 1.0]]])
    >>> round(float(ClipLoss()(np.zeros(2), pairs)), 4)   # log(1 + e^-3)
    0.0486
    """

    def __init__(self, distance=None, name="clip_loss", **kwargs):
        super().__init__(name, distance=DotProductSimilarity() if distance is None else distance, **kwargs)

    def terms(self, y_true, y_pred):
        y_pred = tf.convert_to_tensor(y_pred)
        matrix = self.distance(y_pred[:, 0], y_pred[:, 1])
        logits = matrix if self.distance.is_inverted else -matrix
        labels = tf.range(tf.shape(logits)[0])
        rows = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)[:, None]
        columns = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.transpose(logits))[:, None]
        every = tf.ones_like(rows, tf.bool)
        return {"query_to_key": Terms(rows, every, weight=0.5), "key_to_query": Terms(columns, every, weight=0.5)}
