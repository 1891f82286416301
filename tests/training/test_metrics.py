"""PSNR as a function and a metric; a model compiled with it reloads from .h5."""

import keras
import numpy as np

from tests.helpers import TestCase
from tfml.io import save_model
from tfml.training import PSNR, psnr


class MetricsTest(TestCase):
    def test_psnr_matches_numpy(self):
        rng = np.random.default_rng(0)
        a = rng.uniform(size=(3, 8, 8, 3)).astype(np.float32)
        b = np.clip(a + rng.normal(scale=0.1, size=a.shape), 0, 1).astype(np.float32)
        expected = [10 * np.log10(1 / np.mean((x - y) ** 2)) for x, y in zip(a, b)]
        self.assertAllClose(psnr(a, b), expected, rtol=1e-5)
        metric = PSNR()
        metric.update_state(a, b)
        self.assertAllClose(metric.result(), np.mean(expected), rtol=1e-5)

    def test_h5_model_with_tfml_metric_reloads_compiled(self):
        tmp_path = self.tmp_path
        model = keras.Sequential([keras.Input((2, 2, 3)), keras.layers.Conv2D(3, 1, activation="sigmoid")])
        model.compile("adam", keras.losses.MeanSquaredError(), metrics=[PSNR()])
        x = np.random.default_rng(0).uniform(size=(4, 2, 2, 3)).astype(np.float32)
        model.fit(x, x, epochs=1, verbose=0)
        save_model(model, tmp_path / "m.h5")
        loaded = keras.models.load_model(tmp_path / "m.h5")
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
        assert set(loaded.evaluate(x, x, verbose=0, return_dict=True)) == {"loss", "psnr"}
