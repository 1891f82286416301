"""Losses that put each positive pair in a softmax over the anchor's other keys, as
pytorch-metric-learning 2.9 computes them. With s the similarity (a distance enters as -d) and T
the temperature:

- ``SupConLoss(temperature=0.1)`` (Khosla et al. 2020), per anchor a with positives P_a and
  negatives N_a: -1/|P_a| sum_{p in P_a} log(exp(s_ap / T) / sum_{k in P_a + N_a} exp(s_ak / T));
  mean over the non-zero anchors.
- ``NTXentLoss(temperature=0.07)`` (SimCLR, Chen et al. 2020; InfoNCE with labels), per positive
  pair (a, p): -log(exp(s_ap / T) / (exp(s_ap / T) + sum_{n in N_a} exp(s_an / T))); mean over the
  positive pairs.
- ``NPairsLoss()`` (Sohn 2016): one pair per class (its first anchor and that anchor's first
  positive, in batch order); for the anchors a_i and positives p_j of those pairs,
  cross-entropy(softmax_j(s(a_i, p_j)), i); mean over the pairs. Default similarity: the dot
  product of L2-normalised embeddings (pytorch-metric-learning's DotProductSimilarity()).

>>> import numpy as np
>>> labels, x = np.array([0, 0, 1, 1]), np.array([[1.0, 0.1], [1.0, 0.2], [0.1, 1.0], [0.2, 1.0]], np.float32)
>>> round(float(NTXentLoss(temperature=1.0)(labels, x)), 4)
0.6889
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import BatchMetricLoss, masked_logsumexp
from tfml.losses.distances import CosineSimilarity, DotProductSimilarity
from tfml.losses.pair_weighting import PairLoss, per_anchor
from tfml.losses.reducers import Terms


def _logits(distance, matrix, temperature):
    return (matrix if distance.is_inverted else -matrix) / temperature


@keras.saving.register_keras_serializable(package="tfml")
class SupConLoss(PairLoss):
    """Supervised contrastive loss: per anchor, minus the mean over its positives p of
    log softmax over its positives and negatives of s / T, at p; mean over the non-zero anchors.
    With graded labels (``JaccardLabels(graded=True)``) the mean over positives is weighted by J.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1]), np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    >>> round(float(SupConLoss(temperature=1.0)(labels, x)), 4)
    0.6178
    """

    def __init__(self, temperature: float = 0.1, name="supcon_loss", **kwargs):
        kwargs.setdefault("distance", CosineSimilarity())
        kwargs.setdefault("reducer", "mean_nonzero")
        super().__init__(name, **kwargs)
        self.temperature = float(temperature)

    def batch_pairs(self, batch, pairs, matrix):
        logits = _logits(self.distance, matrix, self.temperature)
        logits -= tf.stop_gradient(tf.reduce_max(logits, axis=1, keepdims=True))
        log_probability = logits - masked_logsumexp(logits, pairs.positive | pairs.negative)[:, None]
        positive = tf.cast(pairs.positive, logits.dtype)
        if batch.positive_weight is not None:  # multi-label SupCon: positives weighted by their J
            positive *= tf.cast(batch.positive_weight, logits.dtype)
        values = -tf.reduce_sum(positive * log_probability, axis=1) / (tf.reduce_sum(positive, axis=1) + _tiny(logits))
        every = tf.reduce_any(pairs.positive) & tf.reduce_any(pairs.negative)
        return {"anchors": per_anchor(tf.where(every, values, tf.zeros_like(values)), tf.fill(tf.shape(values), True))}

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


def _tiny(x):
    """The smallest positive normal number of x's type (pytorch-metric-learning's small_val)."""
    return tf.constant(tf.experimental.numpy.finfo(x.dtype.as_numpy_dtype).tiny, x.dtype)


@keras.saving.register_keras_serializable(package="tfml")
class NTXentLoss(PairLoss):
    """NT-Xent (normalised temperature-scaled cross-entropy): per positive pair (a, p),
    -log(exp(s_ap / T) / (exp(s_ap / T) + sum_{n in N_a} exp(s_an / T))); mean over positive pairs.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1]), np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
    >>> round(float(NTXentLoss(temperature=1.0)(labels, x)), 4)
    0.6178
    """

    def __init__(self, temperature: float = 0.07, name="ntxent_loss", **kwargs):
        kwargs.setdefault("distance", CosineSimilarity())
        super().__init__(name, **kwargs)
        self.temperature = float(temperature)

    def batch_pairs(self, batch, pairs, matrix):
        logits = _logits(self.distance, matrix, self.temperature)
        lowest = tf.constant(logits.dtype.min, logits.dtype)
        hardest = tf.stop_gradient(tf.reduce_max(tf.where(pairs.negative, logits, lowest), axis=1, keepdims=True))
        top = tf.stop_gradient(tf.maximum(logits, hardest))  # (a, p): the largest logit of the pair's softmax
        shifted = tf.where(pairs.negative, logits - hardest, lowest)  # no exp of a masked entry: its gradient is 0
        spread = tf.reduce_sum(tf.exp(shifted), axis=1, keepdims=True)
        others = spread * tf.exp(hardest - top)  # (a, p): sum over a's negatives of exp(s_an / T - top)
        numerator = tf.exp(logits - top)
        values = -tf.math.log(numerator / (others + numerator) + _tiny(logits))
        both = tf.reduce_any(pairs.positive) & tf.reduce_any(pairs.negative)
        return {"positive_pairs": Terms(values, pairs.positive & both)}

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="tfml")
class NPairsLoss(BatchMetricLoss):
    """N-pair loss: for each class with two items or more, the pair (its first item, its second);
    with the anchors a_i and positives p_j of those pairs, cross-entropy of softmax_j s(a_i, p_j)
    at j = i; mean over the pairs. Takes no miner; the batch is its own keys.

    >>> import numpy as np
    >>> labels, x = np.array([0, 0, 1, 1]), np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], np.float32)
    >>> round(float(NPairsLoss()(labels, x)), 4)   # log(1 + e^-1)
    0.3133
    """

    def __init__(self, name="npairs_loss", **kwargs):
        if kwargs.get("miner") is not None:
            raise ValueError("NPairsLoss forms its own pairs (the first two items of each class): it takes no miner")
        kwargs.setdefault("distance", DotProductSimilarity(normalize_embeddings=True))
        super().__init__(name, **kwargs)

    def batch_terms(self, batch, selection):
        if batch.keys is not None:
            raise ValueError("NPairsLoss compares a batch with itself: it takes (B, D) embeddings, not query/key pairs")
        if batch.labels.shape.rank != 1:
            raise ValueError("NPairsLoss pairs the items of each class: it takes one label per item, not multi-hot")
        same = tf.equal(batch.labels[:, None], batch.labels[None, :])
        rank = tf.cumsum(tf.cast(same, tf.int32), axis=1, exclusive=True)  # items of its class before each one
        first = tf.linalg.diag_part(rank) == 0  # (B,): the first item of its class
        second = tf.argmax(same & (tf.linalg.diag_part(rank)[None, :] == 1), axis=1, output_type=tf.int32)
        anchors = first & tf.reduce_any(batch.positive, axis=1)
        similarity = self.distance(batch.queries, tf.gather(batch.queries, second))  # (a_i, p_j)
        logits = similarity if self.distance.is_inverted else -similarity
        own = tf.linalg.diag_part(logits)
        values = masked_logsumexp(logits, anchors[None, :] & anchors[:, None]) - own
        return {"pairs": per_anchor(values, anchors)}
