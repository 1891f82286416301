"""The autoencoder study end to end on the embedded sample (a few epochs)."""

import json

import keras
import numpy as np
import pytest

from tests.helpers import TestCase
from tfml.data import load_cifar10
from tfml.training import run_study
from tfml.workflows import autoencoder_retrieval as study


@pytest.fixture(scope="class")
def quick_run(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "run"
    config = study.Config.quick_mode(epochs=4, run_dir=str(path), projection="pca")
    assert run_study(study.STEPS, config) == path
    request.cls.run_dir = path


@pytest.mark.usefixtures("quick_run")
class AutoencoderStudyTest(TestCase):
    """One quick run, then its run directory, metrics, report and resume rule."""

    def test_run_directory_contract(self):
        run_dir = self.run_dir
        for name in (
            "config.json",
            "metrics.json",
            "report.html",
            "training_log.csv",
            "autoencoder.h5",
            "encoder.h5",
            "decoder.h5",
            "codes.npz",
        ):
            assert (run_dir / name).is_file(), name
        figures = {p.name for p in (run_dir / "figures").glob("*.png")}
        assert {
            "architecture.png",
            "training_curves.png",
            "reconstructions.png",
            "code_pairplot.png",
            "test_codes_pca.png",
        } <= figures
        assert {f"neighbours_{d}.png" for d in study.DISTANCES} <= figures
        assert list((run_dir / "tensorboard").glob("train/events.out.tfevents*"))
        assert list((run_dir / "tensorboard").glob("validation/events.out.tfevents*"))
        assert list((run_dir / "tensorboard").glob("images/events.out.tfevents*"))
        config = json.loads((run_dir / "config.json").read_text())
        assert config["data_source"].endswith("cifar10-sample.tar.gz") and config["args"]["epochs"] == 4

    def test_training_reduced_the_loss_and_models_reload(self):
        run_dir = self.run_dir
        history = [line.split(",") for line in (run_dir / "training_log.csv").read_text().splitlines()[1:]]
        assert float(history[-1][1]) < float(history[0][1])
        encoder = keras.models.load_model(run_dir / "encoder.h5")
        decoder = keras.models.load_model(run_dir / "decoder.h5")
        autoencoder = keras.models.load_model(run_dir / "autoencoder.h5")
        x = load_cifar10("sample").x_test[:4]
        assert encoder.predict(x, verbose=0).shape == (4, 10)
        np.testing.assert_allclose(
            decoder.predict(encoder.predict(x, verbose=0), verbose=0), autoencoder.predict(x, verbose=0), atol=1e-5
        )

    def test_metrics_cover_every_representation_and_distance(self):
        run_dir = self.run_dir
        metrics = json.loads((run_dir / "metrics.json").read_text())
        for representation in ("autoencoder", "pca10", "pixels"):
            for distance in study.DISTANCES:
                value = metrics[f"precision@10/{representation}/{distance}"]
                assert 0.0 <= value <= 1.0
                assert f"precision@10_first20/{representation}/{distance}" in metrics
        assert metrics["precision@10/autoencoder/euclidean"] > 0.12  # chance is 0.10
        assert 0 < metrics["reconstruction_mse/autoencoder"] < 0.06 and 0 < metrics["reconstruction_mse/pca10"] < 0.06
        html = (run_dir / "report.html").read_text()
        assert html.count("data:image/png;base64,") >= 9 and "pca10" in html

    def test_resuming_a_finished_run_trains_no_more_and_other_settings_are_refused(self):
        with pytest.raises(ValueError, match="other settings \\(epochs: 4 -> 6\\)"):
            run_study(study.STEPS, study.Config.quick_mode(epochs=6, run_dir=str(self.run_dir)))

    def test_the_report_says_what_was_run_and_what_the_numbers_say(self):
        html = (self.run_dir / "report.html").read_text()
        assert "<b>Run</b>: Quick mode" in html and "cifar10-sample.tar.gz" in html
        assert "10-number codes" in html and "(chance: 0.100)" in html
