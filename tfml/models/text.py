"""Text inside the model: raw strings in, the training vocabulary and IDF saved with the model.

Cleaning (``clean_tokens``, the same TensorFlow ops in training and in a reloaded model): lower case
(Unicode), every character that is not a letter becomes a space (punctuation and numbers go), split
on spaces, and drop the stop words (scikit-learn's English list). Words outside the vocabulary are
ignored, so a synopsis of only stop words or unknown words has no token; the towers then give a
defined embedding (their bias, normalised), never NaN.

``TextVocabulary`` maps strings to token ids (1 .. V, 0 = none) or to L2-normalised TF-IDF vectors;
its vocabulary and IDF weights are config (JSON), so they travel in an ``.h5`` model.
``build_vocabulary(texts)`` makes both from training texts only: IDF = log((1 + N) / (1 + df)) + 1,
scikit-learn's smooth IDF.

>>> layer = TextVocabulary(["boy", "toys", "life"], output="ids", length=5)
>>> layer(np.array(["A boy and his toys come to life!", "the and of"])).numpy().tolist()
[[1, 2, 3, 0, 0], [0, 0, 0, 0, 0]]
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from tfml.models.inputs import all_layers

STOP_WORDS = sorted(ENGLISH_STOP_WORDS)


def clean_tokens(texts) -> tf.RaggedTensor:
    """Strings (B,) -> their words (ragged (B, None)) after the cleaning of the module docstring."""
    texts = tf.strings.lower(tf.convert_to_tensor(texts, tf.string), encoding="utf-8")
    words = tf.strings.split(tf.strings.strip(tf.strings.regex_replace(texts, r"[^\p{L}]+", " ")))
    stop = tf.constant(STOP_WORDS)
    is_stop = tf.reduce_any(tf.equal(words.flat_values[:, None], stop[None, :]), axis=1)
    return tf.ragged.boolean_mask(words, tf.RaggedTensor.from_row_splits(~is_stop, words.row_splits))


def build_vocabulary(texts, min_count: int = 2, max_size: int | None = None) -> tuple[list[str], list[float]]:
    """(words, idf) from ``texts``: words in at least ``min_count`` texts, most frequent first (ties
    alphabetical), at most ``max_size``; idf = log((1 + N) / (1 + df)) + 1."""
    documents = [set(row) for row in clean_tokens(list(texts)).to_list()]
    if not documents:
        raise ValueError("no texts to build a vocabulary from")
    frequency: dict[bytes, int] = {}
    for words in documents:
        for word in words:
            frequency[word] = frequency.get(word, 0) + 1
    ranked = sorted((w for w, c in frequency.items() if c >= min_count), key=lambda w: (-frequency[w], w))[:max_size]
    if not ranked:
        raise ValueError(f"no word occurs in {min_count} or more of the {len(documents)} texts")
    count = len(documents)
    return [w.decode("utf-8") for w in ranked], [math.log((1 + count) / (1 + frequency[w])) + 1 for w in ranked]


@keras.saving.register_keras_serializable(package="tfml")
class TextVocabulary(keras.layers.Layer):
    """Raw strings (B,) -> token ids (B, length) (output="ids") or L2-normalised TF-IDF (B, V)
    (output="tf_idf", needs ``idf``); see the module docstring."""

    def __init__(self, vocabulary, idf=None, output: str = "ids", length: int = 128, **kwargs):
        super().__init__(**{"trainable": False, **kwargs})
        if output not in ("ids", "tf_idf"):
            raise ValueError(f"output must be 'ids' or 'tf_idf', got {output!r}")
        if output == "tf_idf" and (idf is None or len(idf) != len(vocabulary)):
            raise ValueError("output='tf_idf' needs one idf weight per vocabulary word")
        self.vocabulary, self.idf, self.mode, self.length = (
            list(vocabulary),
            None if idf is None else list(idf),
            output,
            int(length),
        )
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.vocabulary), tf.range(1, len(self.vocabulary) + 1, dtype=tf.int64)
            ),
            default_value=0,
        )

    def call(self, texts):
        words = clean_tokens(tf.reshape(texts, [-1]))
        ids = tf.ragged.map_flat_values(self.table.lookup, words)
        ids = tf.ragged.boolean_mask(ids, ids > 0)  # unknown words are left out
        if self.mode == "ids":
            return tf.reshape(ids[:, : self.length].to_tensor(0, shape=[None, self.length]), [-1, self.length])
        counts = tf.math.bincount(
            tf.cast(ids, tf.int32),
            minlength=len(self.vocabulary) + 1,
            maxlength=len(self.vocabulary) + 1,
            axis=-1,
            dtype=tf.float32,
        )
        counts = tf.reshape(counts, [-1, len(self.vocabulary) + 1])[:, 1:]
        return tf.math.l2_normalize(counts * tf.constant(self.idf, tf.float32)[None, :], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.length if self.mode == "ids" else len(self.vocabulary))

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "idf": self.idf,
            "output": self.mode,
            "length": self.length,
        }


@keras.saving.register_keras_serializable(package="tfml")
class WeightedTokenMean(keras.layers.Layer):
    """(token vectors (B, L, D), token ids (B, L)[, token weights (B, L)]) -> the weighted mean of the
    vectors of the tokens with id > 0; (0, ..., 0) for a text without such a token."""

    def call(self, inputs):
        vectors, ids = inputs[0], inputs[1]
        weights = tf.cast(ids > 0, vectors.dtype)
        if len(inputs) > 2:
            weights = weights * tf.cast(tf.reshape(inputs[2], tf.shape(weights)), vectors.dtype)
        total = tf.reduce_sum(vectors * weights[..., None], axis=1)
        return total / tf.maximum(tf.reduce_sum(weights, axis=1, keepdims=True), 1e-9)

    def compute_output_shape(self, input_shapes):
        return (input_shapes[0][0], input_shapes[0][2])


@keras.saving.register_keras_serializable(package="tfml")
class TokenMask(keras.layers.Layer):
    """token ids (B, L) -> the mask of real tokens, id > 0 (B, L) bool."""

    def call(self, ids):
        return tf.greater(ids, 0)

    def compute_output_shape(self, input_shape):
        return input_shape


def _projection(x, dim: int, hidden: int, name: str, dropout: float = 0.0) -> keras.KerasTensor:
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_input_dropout")(x)
    x = keras.layers.Dense(hidden, activation="relu", name=f"{name}_hidden")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_hidden_dropout")(x)
    x = keras.layers.Dense(dim, name=f"{name}_projection")(x)
    return keras.layers.UnitNormalization(name=f"{name}_l2_normalize")(x)


def known_words(tower: keras.Model, text: str) -> tuple[list[str], list[str]]:
    """(the words of ``text`` after cleaning, those of them in the vocabulary of a TextVocabulary of
    ``tower``, nested ones included: an ensemble's members each have one)."""
    words = [w.decode() for w in clean_tokens([text]).to_list()[0]]
    layers = [layer for layer in all_layers(tower) if isinstance(layer, TextVocabulary)]
    vocabulary = set().union(*(layer.vocabulary for layer in layers)) if layers else set(words)
    return words, [w for w in words if w in vocabulary]


def build_text_tower(
    kind: str,
    vocabulary: list[str],
    idf: list[float],
    dim: int,
    length: int = 128,
    hidden: int = 256,
    word_vectors: np.ndarray | None = None,
    token_dim: int = 64,
    dropout: float = 0.0,
    name: str = "text_tower",
) -> keras.Model:
    """Raw string -> L2-normalised embedding (dim,):

    - "tfidf": TF-IDF (training vocabulary and IDF) + an MLP;
    - "mean": training-vocabulary token ids + a learned Embedding + mean pooling + an MLP;
    - "bilstm": the same tokens + Embedding + a bidirectional LSTM (final states) + an MLP;
    - "glove": pretrained word vectors (``word_vectors``, one row per vocabulary word, frozen),
      IDF-weighted average + an MLP; a word whose row is all zeros (not in the pretrained set)
      does not count;
    - "tfidf-glove": the TF-IDF vector and the IDF-weighted average of word vectors side by side
      + an MLP: which words, and what they mean.

    ``dropout``: the MLP's input and hidden units are dropped at this rate while training.
    """
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    texts = keras.Input((), dtype="string", name="text")
    if kind == "tfidf":
        x = TextVocabulary(vocabulary, idf, output="tf_idf", name="tfidf")(texts)
    elif kind in ("mean", "bilstm", "glove", "tfidf-glove"):
        ids = TextVocabulary(vocabulary, output="ids", length=length, name="tokens")(texts)
        if kind in ("glove", "tfidf-glove"):
            if word_vectors is None or len(word_vectors) != len(vocabulary):
                raise ValueError(f"the {kind} tower needs one word vector per vocabulary word")
            table = np.vstack([np.zeros((1, word_vectors.shape[1])), word_vectors]).astype(np.float32)
            counted = np.r_[0.0, idf] * table.any(axis=1)
            # the tables are set as weights, not as Constant initialisers: an initialiser's value
            # would be written into the model's config (megabytes of JSON in an .h5 file)
            word_table = keras.layers.Embedding(len(table), table.shape[1], trainable=False, name="word_vectors")
            idf_table = keras.layers.Embedding(len(table), 1, trainable=False, name="idf")
            vectors, weights = word_table(ids), idf_table(ids)
            word_table.set_weights([table])
            idf_table.set_weights([counted[:, None].astype(np.float32)])
            x = WeightedTokenMean(name="idf_weighted_mean")([vectors, ids, weights])
            if kind == "tfidf-glove":
                tf_idf = TextVocabulary(vocabulary, idf, output="tf_idf", name="tfidf")(texts)
                x = keras.layers.Concatenate(name="tfidf_and_word_vectors")([tf_idf, x])
        else:
            vectors = keras.layers.Embedding(len(vocabulary) + 1, token_dim, name="word_embedding")(ids)
            if kind == "mean":
                x = WeightedTokenMean(name="mean")([vectors, ids])
            else:  # id 0 (no word) is masked: the LSTM skips it, a text without words keeps the zero state
                mask = TokenMask(name="token_mask")(ids)
                x = keras.layers.Bidirectional(keras.layers.LSTM(token_dim), name="bilstm")(vectors, mask=mask)
    else:
        raise ValueError(f"text tower must be tfidf, mean, bilstm, glove or tfidf-glove, got {kind!r}")
    return keras.Model(texts, _projection(x, dim, hidden, "text", dropout), name=name)
