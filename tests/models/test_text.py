"""Text towers: cleaning, vocabulary and IDF from the training texts only, every tower defined on odd text."""

import numpy as np

from tests.helpers import TestCase
from tests.models.test_aligner import TRAIN
from tfml.models.text import TextVocabulary, build_text_tower, build_vocabulary, clean_tokens


class TextTest(TestCase):
    def test_cleaning_lowers_drops_punctuation_numbers_and_stop_words_and_keeps_accents(self):
        tokens = [
            [t.decode() for t in row] for row in clean_tokens(["Été à PARIS, 1990's café!", "the and of", ""]).to_list()
        ]
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
        for kind in ("tfidf", "mean", "bilstm", "glove", "tfidf-glove"):
            vectors = (
                np.random.default_rng(0).normal(size=(len(vocabulary), 50)).astype(np.float32)
                if "glove" in kind
                else None
            )
            tower = build_text_tower(kind, vocabulary, idf, 8, length=16, word_vectors=vectors)
            out = tower.predict(texts, verbose=0)
            self.assertTrue(np.isfinite(out).all(), kind)
            self.assertAllClose(np.linalg.norm(out[3]), 1.0, rtol=1e-5)


class TextTowerDropoutTest(TestCase):
    def test_dropout_acts_while_training_only_and_bad_rates_are_refused(self):
        texts = ["a boy and his toys", "toys at war", "a toy maker", "the boy fights back"]
        vocabulary, idf = build_vocabulary(texts, min_count=1)
        tower = build_text_tower("tfidf", vocabulary, idf, 4, dropout=0.5)
        x = np.array(texts, dtype=object)
        self.assertAllClose(tower(x, training=False), tower(x, training=False))
        self.assertNotAllClose(tower(x, training=True), tower(x, training=False))
        for rate in (-0.1, 1.0):
            with self.assertRaisesRegex(ValueError, "dropout must be in"):
                build_text_tower("tfidf", vocabulary, idf, 4, dropout=rate)


class TfidfGloveTowerTest(TestCase):
    def test_features_are_tf_idf_beside_the_idf_weighted_mean_of_the_known_word_vectors(self):
        import keras

        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        vectors = np.random.default_rng(0).normal(size=(len(vocabulary), 5)).astype(np.float32)
        vectors[vocabulary.index("boy")] = 0  # a word the pretrained set lacks
        tower = build_text_tower("tfidf-glove", vocabulary, idf, 4, word_vectors=vectors)
        features = keras.Model(tower.input, tower.get_layer("tfidf_and_word_vectors").output)
        text = np.array(["a boy and his toys"], dtype=object)
        tf_idf = TextVocabulary(vocabulary, idf, output="tf_idf")(text).numpy()[0]
        toys = vocabulary.index("toys")
        self.assertAllClose(features.predict(text, verbose=0)[0], np.r_[tf_idf, vectors[toys]], rtol=1e-5)
        with self.assertRaisesRegex(ValueError, "tfidf-glove tower needs one word vector per vocabulary word"):
            build_text_tower("tfidf-glove", vocabulary, idf, 4)

    def test_word_vectors_are_weights_not_config_and_survive_an_h5_round_trip(self):
        import json

        import keras

        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        configs = {}
        for width in (5, 300):
            vectors = np.random.default_rng(width).normal(size=(len(vocabulary), width)).astype(np.float32)
            tower = build_text_tower("glove", vocabulary, idf, 4, word_vectors=vectors)
            configs[width] = json.dumps(tower.get_config())
        # the 300-d table would add ~60 KB of JSON if it were an initialiser's value
        self.assertLess(abs(len(configs[300]) - len(configs[5])), 100)
        self.assertAllClose(tower.get_layer("word_vectors").get_weights()[0][1:], vectors)
        path = self.get_temp_dir() + "/glove_tower.h5"
        tower.save(path)
        text = np.array(["a boy and his toys", "toys at war"], dtype=object)
        self.assertAllClose(keras.models.load_model(path).predict(text, verbose=0), tower.predict(text, verbose=0))
