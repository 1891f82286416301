"""Figures are real pictures (PNG, not blank) with or without graphviz."""

import numpy as np
from PIL import Image

from tests.helpers import TestCase
from tfml.models import build_autoencoder
from tfml.viz import confident_predictions, image_rows, model_diagram, neighbour_grid, pairplot, scatter_2d


def is_png(path, min_size=(50, 50)):
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1]
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 0, "blank figure"
    return True


class FiguresTest(TestCase):
    """The figure functions."""

    def setUp(self):
        super().setUp()
        self.images = np.random.default_rng(0).uniform(size=(12, 32, 32, 3)).astype(np.float32)

    def test_image_and_neighbour_grids(self):
        tmp_path = self.tmp_path
        images = self.images
        assert is_png(image_rows([images[:5], images[5:10]], tmp_path / "rows.png", ["a", "b"], list("vwxyz")))
        neighbours = np.stack([images[1:4], images[4:7]])
        path = neighbour_grid(
            images[:2],
            neighbours,
            tmp_path / "nn.png",
            ["cat", "dog"],
            [["cat", "dog", "cat"], ["dog"] * 3],
            np.arange(6).reshape(2, 3) / 10,
        )
        assert is_png(path)

    def test_pairplot_and_scatter(self):
        rng = np.random.default_rng(0)
        codes, labels = rng.normal(size=(40, 3)), rng.choice(["a", "b"], 40)
        assert is_png(pairplot(codes, labels, self.tmp_path / "pair.png"))
        assert is_png(scatter_2d(codes[:, :2], labels, self.tmp_path / "scatter.png", "t"))

    def test_model_diagram_is_a_picture_with_or_without_graphviz(self):
        tmp_path = self.tmp_path
        _, _, autoencoder = build_autoencoder()
        assert is_png(model_diagram(autoencoder, tmp_path / "model.png"))

    def test_confident_predictions_figure(self):
        tmp_path = self.tmp_path
        rng = np.random.default_rng(0)
        images = rng.random((60, 8, 8, 3)).astype(np.float32)
        y_true, y_pred = rng.integers(0, 3, 60), rng.integers(0, 3, 60)
        path = confident_predictions(images, y_true, y_pred, rng.random(60), ["a", "b", "c"], tmp_path / "f.png")
        assert path.stat().st_size > 5_000
