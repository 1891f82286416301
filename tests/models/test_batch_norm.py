"""The fused batch normalisation layer: Keras's values, PyTorch's running-variance update, .h5 round trip."""

import keras
import numpy as np

from tests.helpers import TestCase
from tfml.models import FusedBatchNormalization


class FusedBatchNormalizationTest(TestCase):
    def test_matches_keras_in_training_and_inference_and_updates_like_pytorch(self):
        x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 5, 5, 4)).astype(np.float32)
        fused = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
        plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
        for layer in (fused, plain):
            layer.build(x.shape)
            layer.gamma.assign(np.linspace(0.5, 2.0, 4))
            layer.beta.assign(np.linspace(-1.0, 1.0, 4))
        mean, variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
        expected = (x - mean) / np.sqrt(variance + 1e-5) * np.linspace(0.5, 2.0, 4) + np.linspace(-1.0, 1.0, 4)
        self.assertAllClose(fused(x, training=True), expected, atol=1e-4)
        self.assertAllClose(plain(x, training=True), expected, atol=1e-4)
        count = x.size // 4
        self.assertAllClose(fused.moving_mean, 0.1 * mean, rtol=1e-5)
        self.assertAllClose(
            fused.moving_variance, 0.9 + 0.1 * variance * count / (count - 1), rtol=1e-5
        )  # unbiased, as PyTorch
        moving = (np.asarray(fused.moving_mean), np.asarray(fused.moving_variance))
        inference = (x - moving[0]) / np.sqrt(moving[1] + 1e-5) * np.linspace(0.5, 2.0, 4) + np.linspace(-1.0, 1.0, 4)
        self.assertAllClose(fused(x, training=False), inference, atol=1e-4)

    def test_saves_and_reloads_in_an_h5_model(self):
        model = keras.Sequential([keras.Input((4, 4, 3)), FusedBatchNormalization()])
        model.layers[-1].moving_mean.assign([1.0, 2.0, 3.0])
        path = self.get_temp_dir() + "/bn.h5"
        model.save(path)
        loaded = keras.models.load_model(path)
        x = np.ones((2, 4, 4, 3), np.float32)
        self.assertAllClose(loaded(x), model(x))
