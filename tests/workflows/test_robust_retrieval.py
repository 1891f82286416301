"""The robust-retrieval study: continued training on distorted inputs, from the zoo's autoencoder."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from tests.helpers import TestCase
from tfml import zoo
from tfml.data import load_cifar10
from tfml.pipelines import unit_float_array
from tfml.training import run_study
from tfml.workflows import robust_retrieval as robust_study


class RobustStudyTest(TestCase):
    """A quick run from the zoo's cifar10-autoencoder."""

    def test_robust_study_continues_from_a_trained_model(self):
        robust_dir = self.tmp_path / "robust"
        config = robust_study.Config.quick_mode(epochs=2, run_dir=str(robust_dir))
        run_study(robust_study.STEPS, config)
        history = pd.read_csv(robust_dir / "training_log.csv")
        assert history["schedule_share"].tolist() == pytest.approx([0.25, 0.75])
        assert history["schedule_noise"].is_monotonic_increasing
        metrics = json.loads((robust_dir / "metrics.json").read_text())
        for model in ("original", "robust"):
            for setting in ("clean/0", "noise/0.3", "projective/0.25"):
                for name in ("reconstruction_mse", "precision@10", "own_source_at_1", "own_source_in_top10"):
                    assert 0 <= metrics[f"{model}/{setting}/{name}"] <= 1
        assert metrics["original/clean/0/own_source_at_1"] == 1.0  # a clean query finds itself first
        # the original model's numbers are those of the autoencoder it started from
        x_test = load_cifar10("sample").x_test
        mse = np.mean((zoo.load("cifar10-autoencoder").predict(x_test, verbose=0) - unit_float_array(x_test)) ** 2)
        assert metrics["original/clean/0/reconstruction_mse"] == pytest.approx(mse, rel=1e-4)
        for name in (
            "distortion_examples.png",
            "neighbours_noise.png",
            "neighbours_projective.png",
            "training_curves.png",
        ):
            assert (robust_dir / "figures" / name).stat().st_size > 1000
        keras.models.load_model(robust_dir / "robust_encoder.h5")
        assert json.loads((robust_dir / "config.json").read_text())["base_model_file"].endswith(
            "cifar10-autoencoder.h5"
        )
