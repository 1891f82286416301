"""The autoencoder study end to end on the embedded sample (a few epochs)."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from tests.helpers import TestCase
from tfml.data import load_cifar10
from tfml.training import run_study
from tfml.workflows import autoencoder_retrieval as study


@pytest.fixture(scope="class")
def quick_run(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "run"
    config = study.Config.quick_mode(epochs=2, run_dir=str(path), projection="pca")
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
        assert config["data_source"].endswith("cifar10-sample.tar.gz") and config["args"]["epochs"] == 2

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
        with pytest.raises(ValueError, match="other settings \\(epochs: 2 -> 6\\)"):
            run_study(study.STEPS, study.Config.quick_mode(epochs=6, run_dir=str(self.run_dir)))

    def test_the_report_says_what_was_run_and_what_the_numbers_say(self):
        html = (self.run_dir / "report.html").read_text()
        assert "<b>Run</b>: Quick mode" in html and "cifar10-sample.tar.gz" in html
        assert "10-number codes" in html and "(a random ranking: 0.100)" in html  # the sample's 10 equal classes
        assert "Too small to answer the study" in html and "ahead of" not in html  # a quick run answers nothing


class VerdictTest(TestCase):
    """What the report says comes from the numbers, the configuration and the data."""

    def evaluation(self, ours, pixels, pca, chance=0.1):
        per_query = {("autoencoder", "euclidean"): ours, ("pixels", "euclidean"): pixels, ("pca4", "euclidean"): pca}
        table = pd.Series({(name, "euclidean"): float(np.mean(v)) for (name, _), v in per_query.items()})
        reconstruction = {"autoencoder": 0.02, "pca4": 0.03}
        evaluation = study.Evaluation(None, None, None, reconstruction, None, {}, per_query, chance)
        return table, evaluation

    def test_a_tie_is_a_tie_and_a_lead_is_one_only_when_its_interval_excludes_zero(self):
        config = study.Config(latent_dim=4)
        rng = np.random.default_rng(0)
        shared = rng.integers(0, 11, 500) / 10
        table, tied = self.evaluation(shared, shared + rng.normal(0, 0.01, 500), shared - 0.05)
        said = study.interpretation(tied, config)
        self.assertIn("The autoencoder and the raw pixels cannot be told apart by precision@10", said)
        self.assertIn("The autoencoder is ahead of PCA-4 by precision@10 (+0.050", said)
        measured = study.measured(table, tied, config)
        self.assertIn("the autoencoder's 4-number codes", measured)
        self.assertIn("(a random ranking: 0.100)", measured)
        _, unbalanced = self.evaluation(shared, shared, shared, chance=0.34)
        self.assertIn("(a random ranking: 0.340)", study.measured(table, unbalanced, config))
