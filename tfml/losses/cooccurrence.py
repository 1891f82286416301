"""Co-occurrence loss of an embedding matrix: c(V) = sum over i != j of (v_i . v_j - X[i, j])^2.

``y_true`` is the target X (M, M) and ``y_pred`` the whole matrix V (M, d), rows in the order of X
(full batch: V V^T needs every row). The diagonal of X is not used. Each row i is an anchor whose
one term is sum over j != i of (v_i . v_j - X[i, j])^2; the ``SumReducer`` adds them up, so the
loss's value is c(V) (and ``sample_weight`` weights rows).

>>> V = [[1., 0.], [1., 1.]]; X = [[9., 2.], [2., 9.]]
>>> float(cooccurrence_loss(X, V).numpy().sum())   # 2 * (1 - 2)^2
2.0
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfml.losses.base import MetricLoss
from tfml.losses.reducers import SumReducer, Terms


def cooccurrence_loss(y_true, y_pred):
    """Per row i: sum over j != i of (v_i . v_j - X[i, j])^2; shape (M,)."""
    embeddings = tf.convert_to_tensor(y_pred)
    target = tf.cast(y_true, embeddings.dtype)
    tf.debugging.assert_equal(
        tf.shape(target),
        tf.stack([tf.shape(embeddings)[0]] * 2),
        message="cooccurrence_loss: y_true must be (M, M) for y_pred of M rows (full batch)",
    )
    residual = tf.linalg.set_diag(
        tf.matmul(embeddings, embeddings, transpose_b=True) - target,
        tf.zeros(tf.shape(embeddings)[:1], embeddings.dtype),
    )
    return tf.reduce_sum(tf.square(residual), axis=1)


@keras.saving.register_keras_serializable(package="tfml")
class CoOccurrenceLoss(MetricLoss):
    """c(V) = sum over i != j of (v_i . v_j - X[i, j])^2 for y_true X (M, M) and y_pred V (M, d).

    >>> float(CoOccurrenceLoss()([[9.0, 2.0], [2.0, 9.0]], [[1.0, 0.0], [1.0, 1.0]]))   # 2 x (1 - 2)^2
    2.0
    """

    def __init__(self, name="cooccurrence_loss", reducer=None, **kwargs):
        super().__init__(name, reducer=SumReducer() if reducer is None else reducer, **kwargs)

    def terms(self, y_true, y_pred):
        rows = cooccurrence_loss(y_true, y_pred)[:, None]
        return {"rows": Terms(rows, tf.ones_like(rows, tf.bool))}
