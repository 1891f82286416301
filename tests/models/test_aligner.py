"""The dual-tower aligner: the learned logit scale and SigLIP bias, saving with the text preprocessing inside;
the label-profile aligner."""

import keras
import numpy as np

from tests.helpers import TestCase
from tfml import zoo
from tfml.losses import ClipLoss, SigLipLoss
from tfml.models import build_embedding_net, build_histogram_net
from tfml.models.aligner import (
    MAX_LOG_SCALE,
    LabelProfile,
    LogitScale,
    build_aligner,
    build_label_predictor,
    ensemble_aligner,
    label_profile_aligner,
    paired_label_crossentropy,
)
from tfml.models.inputs import describe_input
from tfml.models.text import build_text_tower, build_vocabulary, known_words

TRAIN = [
    "A boy and his toys come to life!",
    "Toys at war: the boy fights back.",
    "Life in 1990 was hard for a toy maker.",
    "Une famille à Paris: café, été.",
]


class AlignerTest(TestCase):
    def test_logit_scale_starts_at_one_over_0_07_and_is_clamped_at_100(self):
        layer = LogitScale()
        self.assertAllClose(layer.scale, 1 / 0.07, rtol=1e-6)
        self.assertAllClose(layer(np.ones((1, 2), np.float32)), [[1 / 0.07] * 2], rtol=1e-6)
        layer.log_scale.assign(10.0)
        self.assertAllClose(layer.scale, 100.0)
        self.assertAllClose(layer(np.ones((1, 1), np.float32)), [[np.exp(MAX_LOG_SCALE)]], rtol=1e-6)

    def test_an_aligner_saves_and_reloads_with_its_text_preprocessing(self):
        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        model = build_aligner(
            build_embedding_net((24, 16, 3), 8, name="poster_tower"), build_text_tower("tfidf", vocabulary, idf, 8)
        )
        model.compile(keras.optimizers.Adam(0.01), ClipLoss())
        x = {
            "poster": np.random.default_rng(0).integers(0, 256, (4, 24, 16, 3)).astype(np.uint8),
            "text": np.array(TRAIN, dtype=object),
        }
        before = model.evaluate(x, np.zeros(4), verbose=0)
        model.fit(x, np.zeros(4), epochs=20, verbose=0)
        self.assertLess(model.evaluate(x, np.zeros(4), verbose=0), before)
        path = self.get_temp_dir() + "/aligner.h5"
        model.save(path)
        loaded = keras.models.load_model(path)  # plain Keras after import tfml: raw strings in
        self.assertAllClose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)

        zoo_dir = self.get_temp_dir() + "/zoo"
        item = zoo.add(
            "aligner",
            model,
            study="align",
            data="d",
            command="tfml train align",
            metrics={},
            description="",
            zoo_dir=zoo_dir,
        )
        self.assertEqual(item["input_shape"], {"poster": [24, 16, 3], "text": []})
        self.assertEqual(item["input_dtype"], {"poster": "uint8", "text": "string"})
        self.assertIn("raw text", item["preprocessing"]["text"])
        from_zoo, _ = zoo.load_model("aligner", zoo_dir)
        self.assertIs(zoo.require_kind(from_zoo, "poster-text-aligner", "aligner", zoo_dir), from_zoo)
        self.assertAllClose(from_zoo.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
        with self.assertRaisesRegex(ValueError, "needs an image encoder.*fit: none"):
            zoo.require_kind(from_zoo, "image-encoder", "aligner", zoo_dir)

    def test_a_siglip_aligner_gives_rows_whose_dot_product_is_its_logit_and_learns_its_bias(self):
        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        posters, texts = (
            build_embedding_net((24, 16, 3), 8, name="poster_tower"),
            build_text_tower("tfidf", vocabulary, idf, 8),
        )
        model = build_aligner(posters, texts, objective="siglip")
        x = {
            "poster": np.random.default_rng(0).integers(0, 256, (4, 24, 16, 3)).astype(np.uint8),
            "text": np.array(TRAIN, dtype=object),
        }
        pair = model.predict(x, verbose=0)
        u, v = posters.predict(x["poster"], verbose=0), texts.predict(x["text"], verbose=0)
        self.assertEqual(pair.shape, (4, 2, 9))
        self.assertAllClose(pair[:, 0] @ pair[:, 1].T, 10 * u @ v.T - 10, rtol=1e-5, atol=1e-5)  # t = 10, b = -10
        model.compile(keras.optimizers.Adam(0.05), SigLipLoss())
        before = model.evaluate(x, np.zeros(4), verbose=0)
        model.fit(x, np.zeros(4), epochs=20, verbose=0)
        self.assertLess(model.evaluate(x, np.zeros(4), verbose=0), before)
        self.assertNotAllClose(float(model.get_layer("pair").bias.numpy()), -10.0)
        path = self.get_temp_dir() + "/siglip.h5"
        model.save(path)
        loaded = keras.models.load_model(path)
        self.assertAllClose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
        with self.assertRaisesRegex(ValueError, "objective 'sigmoid': expected one of clip, siglip, supcon"):
            build_aligner(posters, texts, objective="sigmoid")


class LabelProfileAlignerTest(TestCase):
    def test_the_loss_is_each_towers_binary_cross_entropy_against_the_pairs_labels(self):
        rng = np.random.default_rng(1)
        labels = (rng.random((5, 3)) < 0.5).astype(np.float32)
        logits = rng.normal(size=(5, 2, 3))
        p = 1 / (1 + np.exp(-logits))
        expected = -(labels[:, None] * np.log(p) + (1 - labels[:, None]) * np.log(1 - p)).mean(axis=-1)
        self.assertAllClose(paired_label_crossentropy(labels, logits), expected, rtol=1e-6)
        with self.assertRaisesRegex(ValueError, r"labels \(batch, labels\) and logits \(batch, 2, labels\)"):
            paired_label_crossentropy(labels, logits[:, 0])

    def test_profiles_are_unit_vectors_of_probabilities_above_the_base_rates(self):
        logits = np.array([[2.0, -1.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
        base = [0.3, 0.1, 0.5]
        profile = np.array(1 / (1 + np.exp(-logits)) - base)
        expected = profile / np.linalg.norm(profile, axis=1, keepdims=True)
        self.assertAllClose(LabelProfile(base)(logits), expected, rtol=1e-5)

    def test_trained_towers_make_an_aligner_that_saves_and_compares_predicted_profiles(self):
        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        genres = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 0, 1]], np.float32)
        base = genres.mean(axis=0)
        posters = np.random.default_rng(0).integers(0, 256, (4, 24, 16, 3)).astype(np.uint8)
        predictor = build_label_predictor(
            build_histogram_net((24, 16, 3), 3, posters, bins=2, name="poster_tower"),
            build_text_tower("tfidf", vocabulary, idf, 3),
            base_rates=base,
        )
        predictor.compile(keras.optimizers.Adam(0.05), paired_label_crossentropy)
        x = {"poster": posters, "text": np.array(TRAIN, dtype=object)}
        first = 1 / (1 + np.exp(-predictor.predict(x, verbose=0)))
        self.assertAllClose(first, np.broadcast_to(base, (4, 2, 3)), atol=1e-6)  # both towers start at the base rates
        before = predictor.evaluate(x, genres, verbose=0)
        predictor.fit(x, genres, epochs=30, verbose=0)
        self.assertLess(predictor.evaluate(x, genres, verbose=0), before / 2)
        aligner = label_profile_aligner(predictor, base)
        logits = predictor.predict(x, verbose=0)
        u = aligner.get_layer("poster_tower").predict(x["poster"], verbose=0)
        v = aligner.get_layer("text_tower").predict(x["text"], verbose=0)
        for side, vectors in ((0, u), (1, v)):
            self.assertAllClose(vectors, LabelProfile(base)(logits[:, side]), atol=1e-5)
        self.assertAllClose(aligner.predict(x, verbose=0), np.stack([u, v], axis=1), atol=1e-6)
        path = self.get_temp_dir() + "/profiles.h5"
        aligner.save(path)
        loaded = keras.models.load_model(path)
        self.assertAllClose(loaded.predict(x, verbose=0), aligner.predict(x, verbose=0), atol=1e-5)
        self.assertEqual(zoo.model_kind(loaded), "poster-text-aligner")

    def test_base_rates_need_a_dense_head_of_one_unit_per_label(self):
        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        with self.assertRaisesRegex(ValueError, "must end in a Dense layer of 3 units"):
            build_label_predictor(
                build_embedding_net((24, 16, 3), 4, name="poster_tower"),
                build_text_tower("tfidf", vocabulary, idf, 4),
                base_rates=[0.5, 0.2, 0.1],
            )


class EnsembleAlignerTest(TestCase):
    def test_the_ensembles_cosine_is_the_mean_of_its_members_and_it_saves(self):
        vocabulary, idf = build_vocabulary(TRAIN, min_count=1)
        members = [
            build_aligner(
                build_embedding_net((24, 16, 3), 8, name="poster_tower"), build_text_tower(kind, vocabulary, idf, 8)
            )
            for kind in ("tfidf", "mean")
        ]
        members += [  # two label-profile aligners: their nested models' layers are renamed too
            label_profile_aligner(
                build_label_predictor(
                    build_embedding_net((24, 16, 3), 3, name="poster_tower"),
                    build_text_tower(kind, vocabulary, idf, 3),
                ),
                [0.5, 0.2, 0.1],
            )
            for kind in ("tfidf", "mean")
        ]
        ensemble = ensemble_aligner(members)
        x = {
            "poster": np.random.default_rng(0).integers(0, 256, (4, 24, 16, 3)).astype(np.uint8),
            "text": np.array(TRAIN, dtype=object),
        }

        def cosines(aligner):
            u = aligner.get_layer("poster_tower").predict(x["poster"], verbose=0)
            v = aligner.get_layer("text_tower").predict(x["text"], verbose=0)
            return u @ v.T

        self.assertEqual(ensemble.output_shape, (None, 2, 22))
        self.assertAllClose(cosines(ensemble), np.mean([cosines(m) for m in members], axis=0), atol=1e-6)
        path = self.get_temp_dir() + "/ensemble.h5"
        ensemble.save(path)
        self.assertAllClose(cosines(keras.models.load_model(path)), cosines(ensemble), atol=1e-6)
        described = describe_input(ensemble)["preprocessing"]  # found in the members' renamed layers
        self.assertTrue(described["poster"].startswith("uint8 RGB 0-255; the model divides by 255"))
        words, known = known_words(ensemble.get_layer("text_tower"), "A boy and a spaceship")
        self.assertEqual((words, known), (["boy", "spaceship"], ["boy"]))  # the members' vocabularies
