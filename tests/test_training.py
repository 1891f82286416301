import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfml  # noqa: F401
from tfml.training import PSNR, fit, get_strategy, prepare_run_dir, psnr, read_history, save_model, set_seed
from tfml.training.saving import partial_path


def tiny_model(seed=0):
    set_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.MeanSquaredError())
    return model


def tiny_data(n=64):
    x = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, x)).batch(16)


def test_psnr_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(3, 8, 8, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(scale=0.1, size=a.shape), 0, 1).astype(np.float32)
    expected = [10 * np.log10(1 / np.mean((x - y) ** 2)) for x, y in zip(a, b)]
    np.testing.assert_allclose(psnr(a, b).numpy(), expected, rtol=1e-5)
    metric = PSNR()
    metric.update_state(a, b)
    assert float(metric.result()) == pytest.approx(np.mean(expected), rel=1e-5)


def test_h5_model_with_tfml_metric_reloads_compiled(tmp_path):
    model = keras.Sequential([keras.Input((2, 2, 3)), keras.layers.Conv2D(3, 1, activation="sigmoid")])
    model.compile("adam", keras.losses.MeanSquaredError(), metrics=[PSNR()])
    x = np.random.default_rng(0).uniform(size=(4, 2, 2, 3)).astype(np.float32)
    model.fit(x, x, epochs=1, verbose=0)
    save_model(model, tmp_path / "m.h5")
    loaded = keras.models.load_model(tmp_path / "m.h5")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert set(loaded.evaluate(x, x, verbose=0, return_dict=True)) == {"loss", "psnr"}


def test_save_model_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    model = tiny_model()
    target = save_model(model, tmp_path / "model.h5")
    before = target.read_bytes()

    def crash(self, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"half")
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_model(model, target)
    assert target.read_bytes() == before
    assert partial_path(target).name == "model.partial.h5"


def test_fit_writes_logs_and_checkpoint_and_resumes_after_the_last_epoch(tmp_path):
    model = tiny_model()
    history = fit(model, tiny_data(), validation=tiny_data(32), run_dir=tmp_path, epochs=2, verbose=0)
    assert history["epoch"].tolist() == [0, 1]
    assert (tmp_path / "best.h5").exists() and list((tmp_path / "tensorboard").glob("*/events.out.tfevents*"))
    state = json.loads((tmp_path / "best.h5.json").read_text())
    assert state["best"] == pytest.approx(history["val_loss"].min())
    # a new process would rebuild the model: the backup restores weights, optimizer and epoch
    resumed = tiny_model(seed=1)
    seen = []
    history = fit(resumed, tiny_data(), validation=tiny_data(32), run_dir=tmp_path, epochs=4, verbose=0,
                  callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    assert seen == [2, 3]
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    np.testing.assert_array_equal(history["epoch"], read_history(tmp_path)["epoch"])


def test_same_seed_same_result():
    weights = []
    for _ in range(2):
        model = tiny_model(seed=3)
        model.fit(tiny_data(), epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_prepare_run_dir_refuses_to_resume_with_other_settings(tmp_path):
    prepare_run_dir(tmp_path / "run", {"epochs": 3, "seed": 0, "fresh": False})
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["args"]["epochs"] == 3 and "tensorflow" in config["versions"]
    prepare_run_dir(tmp_path / "run", {"epochs": 3, "seed": 0, "fresh": True})  # fresh is not a setting
    with pytest.raises(ValueError, match="other settings \\(epochs: 3 -> 5\\).*--fresh"):
        prepare_run_dir(tmp_path / "run", {"epochs": 5, "seed": 0})
    (tmp_path / "run" / "marker").write_text("x")
    prepare_run_dir(tmp_path / "run", {"epochs": 5, "seed": 0}, fresh=True)
    assert not (tmp_path / "run" / "marker").exists()


def test_settings_that_are_tuples_resume(tmp_path):
    args = {"strengths": (0.1, 0.2), "sweep": {"adam": (1e-3, 1e-2)}}
    prepare_run_dir(tmp_path / "run", args)
    prepare_run_dir(tmp_path / "run", args)  # stored as JSON lists, still the same settings
    with pytest.raises(ValueError, match="strengths"):
        prepare_run_dir(tmp_path / "run", {**args, "strengths": (0.1, 0.3)})


def test_unknown_strategy_is_an_error():
    with pytest.raises(ValueError, match="unknown strategy 'tpu'"):
        get_strategy("tpu")


def _python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def test_mirrored_strategy_on_two_logical_cpus(tmp_path):
    code = """
        import sys, numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras
        from tfml.training import fit, get_strategy
        strategy = get_strategy("mirrored")
        with strategy.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
            model.compile(keras.optimizers.SGD(0.1), keras.losses.MeanSquaredError())
        x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
        data = tf.data.Dataset.from_tensor_slices((x, x)).batch(16)
        history = fit(model, data, validation=data, run_dir=sys.argv[1], epochs=3, verbose=0)
        print("REPLICAS", strategy.num_replicas_in_sync, "LOSS", history["loss"].iloc[0], history["loss"].iloc[-1])
    """
    out, _ = _python(code, str(tmp_path)).communicate(timeout=300)
    line = next(l for l in out.splitlines() if l.startswith("REPLICAS"))
    _, replicas, _, first, last = line.split()
    assert replicas == "2"
    assert float(last) < float(first)


RESUMABLE = """
    import sys, time, numpy as np, tensorflow as tf, keras
    from tfml.training import fit, set_seed
    set_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.MeanSquaredError())
    x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x)).batch(32)
    starts = []
    def begin(epoch, logs):
        if not starts:
            print("FIRST_EPOCH", epoch, flush=True)
        starts.append(epoch)
    slow = keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=lambda e, l: time.sleep(0.4))
    fit(model, data, validation=data, run_dir=sys.argv[1], epochs=12, verbose=0, callbacks=[slow])
    print("DONE", flush=True)
"""


def test_a_run_killed_with_sigkill_continues_from_its_last_epoch(tmp_path):
    log = tmp_path / "training_log.csv"
    process = _python(RESUMABLE, str(tmp_path))
    deadline = time.time() + 240
    while time.time() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 4:  # header + 3 epochs
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(read_history(tmp_path))
    assert 3 <= done < 12, "the run should have been killed part-way"
    out, _ = _python(RESUMABLE, str(tmp_path)).communicate(timeout=300)
    first = int(next(l for l in out.splitlines() if l.startswith("FIRST_EPOCH")).split()[1])
    assert first in (done - 1, done), out  # the backup is written after the log row of the same epoch
    assert "DONE" in out
    history = read_history(tmp_path)
    assert history["epoch"].tolist() == list(range(12))
    keras.models.load_model(tmp_path / "best.h5")
