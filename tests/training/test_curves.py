"""Training curves: one panel per logged value; timing and learning rate left out."""

import pandas as pd
from PIL import Image

from tests.helpers import TestCase
from tests.viz.test_figures import is_png
from tfml.training import training_curves


class CurvesTest(TestCase):
    """training_curves."""

    def test_one_panel_per_value_without_the_epoch_seconds(self):
        history = pd.DataFrame(
            {
                "epoch": [0, 1, 2],
                "loss": [3, 2, 1],
                "val_loss": [3.5, 2.5, 2],
                "psnr": [1, 2, 3],
                "val_psnr": [1, 1, 2],
                "epoch_seconds": [4.0, 4.1, 3.9],
                "val_map_at_r": [0.1, 0.2, 0.3],
            }
        )
        path = training_curves(history, self.tmp_path / "curves.png", "a title")
        self.assertTrue(is_png(path))
        with Image.open(path) as image:
            width, height = image.size
        self.assertGreater(width / height, 2.8)  # three panels (loss, psnr, val_map_at_r), not four
        self.assertLess(width / height, 4.5)
