"""Colour histograms inside a model: joint RGB cells as numpy counts them, and the histogram network."""

import keras
import numpy as np
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.models import ColourHistogram, build_histogram_net


def ref_histograms(images, bins):
    cells = np.asarray(images).astype(np.int64) * bins // 256  # equal cells of the 256 values
    codes = (cells[..., 0] * bins + cells[..., 1]) * bins + cells[..., 2]
    counts = np.stack([np.bincount(row.ravel(), minlength=bins**3) for row in codes]).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


class ColourHistogramTest(parameterized.TestCase, TestCase):
    @parameterized.parameters(2, 3, 4, 8)
    def test_cells_are_those_numpy_counts_on_the_uint8_pixels(self, bins):
        images = np.random.default_rng(bins).integers(0, 256, (3, 9, 7, 3)).astype(np.uint8)
        images[0, 0, 0] = (255, 0, 64)  # the edges of the cells
        histograms = ColourHistogram(bins)(images / 255.0).numpy()
        self.assertEqual(histograms.shape, (3, bins**3))
        self.assertAllClose(histograms, ref_histograms(images, bins), atol=1e-7)
        self.assertAllClose(ColourHistogram(bins, square_root=True)(images / 255.0), np.sqrt(histograms), atol=1e-7)

    def test_bad_bins_are_refused(self):
        for bins in (0, 300):
            with self.assertRaisesRegex(ValueError, "bins must be in 1 .. 256"):
                ColourHistogram(bins)


class HistogramNetTest(TestCase):
    def test_standardises_with_the_training_images_and_saves_with_its_statistics(self):
        rng = np.random.default_rng(0)
        training = rng.integers(0, 256, (20, 12, 8, 3)).astype(np.uint8)
        net = build_histogram_net((12, 8, 3), 5, training, bins=2)
        features = keras.Model(net.inputs, net.get_layer("standardize_histogram").output).predict(training, verbose=0)
        self.assertAllClose(features.mean(axis=0), np.zeros(8), atol=1e-4)  # standardised on these images
        out = net.predict(training, verbose=0)
        self.assertAllClose(np.linalg.norm(out, axis=1), np.ones(20), rtol=1e-5)
        path = self.get_temp_dir() + "/histogram.h5"
        net.save(path)
        self.assertAllClose(keras.models.load_model(path).predict(training, verbose=0), out, atol=1e-6)
