"""The convolutional autoencoder's shapes and composition."""

import keras
import numpy as np

from tests.helpers import TestCase
from tfml.models import build_autoencoder


class AutoencoderTest(TestCase):
    """build_autoencoder."""

    def test_model_shapes_and_composition(self):
        encoder, decoder, autoencoder = build_autoencoder((32, 32, 3), latent_dim=10)
        assert encoder.output_shape == (None, 10)
        assert decoder.input_shape == (None, 10) and decoder.output_shape == (None, 32, 32, 3)
        assert sum(isinstance(layer, keras.layers.Conv2D) for layer in encoder.layers) >= 3
        x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype(np.float32)
        np.testing.assert_allclose(autoencoder(x), decoder(encoder(x)), rtol=1e-5, atol=1e-6)
