"""The autoencoder study end to end on the embedded sample (a few epochs), and the tfml command."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import tfml  # noqa: F401
from tfml import cli
from tfml.data import load_cifar10
from tfml.retrieval import load_codes
from tfml.training import sha256
from tfml.models import build_autoencoder
from tfml.workflows import autoencoder_retrieval as study
from tfml.workflows import robust_retrieval as robust_study


def test_model_shapes_and_composition():
    encoder, decoder, autoencoder = build_autoencoder((32, 32, 3), latent_dim=10)
    assert encoder.output_shape == (None, 10)
    assert decoder.input_shape == (None, 10) and decoder.output_shape == (None, 32, 32, 3)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in encoder.layers) >= 3
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(autoencoder(x), decoder(encoder(x)), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "run"
    config = study.Config.quick_mode(epochs=4, run_dir=str(path), projection="pca")
    assert study.run(config) == path
    return path


def test_run_directory_contract(run_dir):
    for name in ("config.json", "metrics.json", "report.html", "training_log.csv", "autoencoder.h5", "encoder.h5", "decoder.h5", "codes.npz"):
        assert (run_dir / name).is_file(), name
    figures = {p.name for p in (run_dir / "figures").glob("*.png")}
    assert {"architecture.png", "training_curves.png", "reconstructions.png", "code_pairplot.png", "test_codes_pca.png"} <= figures
    assert {f"neighbours_{d}.png" for d in study.DISTANCES} <= figures
    assert list((run_dir / "tensorboard").glob("train/events.out.tfevents*"))
    assert list((run_dir / "tensorboard").glob("validation/events.out.tfevents*"))
    assert list((run_dir / "tensorboard").glob("images/events.out.tfevents*"))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data_source"].endswith("cifar10-sample.tar.gz") and config["args"]["epochs"] == 4


def test_training_reduced_the_loss_and_models_reload(run_dir):
    history = [line.split(",") for line in (run_dir / "training_log.csv").read_text().splitlines()[1:]]
    assert float(history[-1][1]) < float(history[0][1])
    encoder = keras.models.load_model(run_dir / "encoder.h5")
    decoder = keras.models.load_model(run_dir / "decoder.h5")
    autoencoder = keras.models.load_model(run_dir / "autoencoder.h5")
    x = load_cifar10("sample").x_test[:4]
    assert encoder.predict(x, verbose=0).shape == (4, 10)
    np.testing.assert_allclose(decoder.predict(encoder.predict(x, verbose=0), verbose=0), autoencoder.predict(x, verbose=0), atol=1e-5)


def test_metrics_cover_every_representation_and_distance(run_dir):
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


def test_resuming_a_finished_run_trains_no_more_and_other_settings_are_refused(run_dir):
    with pytest.raises(ValueError, match="other settings \\(epochs: 4 -> 6\\)"):
        study.run(study.Config.quick_mode(epochs=6, run_dir=str(run_dir)))


def test_cli_help_for_every_command(capsys):
    studies = [["train", study, "--help"] for study in cli.STUDIES]
    for argv in (["--help"], *studies, ["encode", "--help"], ["retrieve", "--help"], ["project", "--help"], ["recommend", "--help"],
                 ["distort", "--help"], ["zoo", "list", "--help"]):
        assert cli.main(argv) == 0
        assert "usage: tfml" in capsys.readouterr().out


def test_cli_encode_retrieve_and_project(run_dir, tmp_path, capsys):
    codes = tmp_path / "codes.npz"
    assert cli.main(["encode", "--model", str(run_dir / "encoder.h5"), "--data", "sample", "-o", str(codes)]) == 0
    encoded = load_codes(codes)
    data = load_cifar10("sample")
    assert encoded.codes.shape == (2500, 10) and encoded.ids[2000] == data.ids_test[0] and encoded.ids[2000].startswith("test/")
    assert encoded.encoder["sha256"] == sha256(run_dir / "encoder.h5") and encoded.encoder["input_dtype"] == "uint8"
    np.testing.assert_array_equal(encoded.labels[2000:], data.y_test[:, 0])

    query = tmp_path / "query.png"
    Image.fromarray(data.x_test[0]).resize((64, 64)).save(query)
    out = tmp_path / "neighbours.json"
    figure = tmp_path / "grid.png"
    argv = ["retrieve", str(query), "--model", str(run_dir / "encoder.h5"), "--base", str(codes), "-k", "5",
            "--distance", "cosine", "--json", str(out), "--figure", str(figure)]
    assert cli.main(argv) == 0
    result = json.loads(out.read_text())["results"][0]
    assert [n["rank"] for n in result["neighbours"]] == [1, 2, 3, 4, 5]
    distances = [n["distance"] for n in result["neighbours"]]
    assert distances == sorted(distances)
    assert result["neighbours"][0]["label"] in data.class_names
    assert figure.stat().st_size > 1000

    projection = tmp_path / "projection.png"
    assert cli.main(["project", str(codes), "--method", "pca", "-o", str(projection)]) == 0
    assert projection.stat().st_size > 1000


def test_cli_errors_are_clear(tmp_path, capsys):
    assert cli.main(["train", "autoencoder", "--data", str(tmp_path / "none.tar.gz"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "none.tar.gz does not exist" in capsys.readouterr().err
    assert cli.main(["encode", "--model", str(tmp_path / "missing.h5"), "--data", "sample", "-o", str(tmp_path / "x.npz")]) == 2
    assert "missing.h5' is neither a model file nor a zoo model" in capsys.readouterr().err
    assert cli.main(["retrieve", str(tmp_path / "q.png"), "--model", "cifar10-encoder", "--base", str(tmp_path / "none.npz")]) == 2
    assert cli.main(["zoo", "show", "no-such-model"]) == 2
    assert "no model named 'no-such-model'" in capsys.readouterr().err


def test_robust_study_continues_from_a_trained_model(run_dir, tmp_path):
    robust_dir = tmp_path / "robust"
    config = robust_study.Config.quick_mode(base_model=str(run_dir / "autoencoder.h5"), epochs=2, run_dir=str(robust_dir))
    robust_study.run(config)
    history = pd.read_csv(robust_dir / "training_log.csv")
    assert history["schedule_share"].tolist() == pytest.approx([0.25, 0.75])
    assert history["schedule_noise"].is_monotonic_increasing
    metrics = json.loads((robust_dir / "metrics.json").read_text())
    for model in ("original", "robust"):
        for setting in ("clean/0", "noise/0.3", "projective/0.25"):
            for name in ("reconstruction_mse", "precision@10", "own_source_at_1", "own_source_in_top10"):
                assert 0 <= metrics[f"{model}/{setting}/{name}"] <= 1
    assert metrics["original/clean/0/own_source_at_1"] == 1.0  # a clean query finds itself first
    # the original model's numbers are those of the trained autoencoder it started from
    assert metrics["original/clean/0/reconstruction_mse"] == pytest.approx(
        json.loads((run_dir / "metrics.json").read_text())["reconstruction_mse/autoencoder"], rel=1e-4)
    for name in ("distortion_examples.png", "neighbours_noise.png", "neighbours_projective.png", "training_curves.png"):
        assert (robust_dir / "figures" / name).stat().st_size > 1000
    keras.models.load_model(robust_dir / "robust_encoder.h5")


def test_cli_distort(tmp_path):
    image = tmp_path / "a.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(image)
    assert cli.main(["distort", str(image), "--kind", "projective", "--strength", "0.1", "0.3", "-o", str(tmp_path / "d.png"),
                     "--save-dir", str(tmp_path / "out")]) == 0
    assert (tmp_path / "d.png").is_file()
    warped = np.asarray(Image.open(tmp_path / "out" / "a_projective_0.3.png"))
    assert warped.shape == (32, 32, 3) and (warped == 0).any()
