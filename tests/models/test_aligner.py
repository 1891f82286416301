"""The dual-tower aligner: the learned logit scale and SigLIP bias, saving with the text preprocessing inside."""

import keras
import numpy as np

from tests.helpers import TestCase
from tfml import zoo
from tfml.losses import ClipLoss, SigLipLoss
from tfml.models import build_embedding_net
from tfml.models.aligner import MAX_LOG_SCALE, LogitScale, build_aligner
from tfml.models.text import build_text_tower, build_vocabulary

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
        with self.assertRaisesRegex(ValueError, "objective 'sigmoid': expected one of clip, siglip"):
            build_aligner(posters, texts, objective="sigmoid")
