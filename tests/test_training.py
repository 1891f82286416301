"""The fit helper (logs, checkpoint, exact resume), run directories, seeds and strategies."""

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
from tfml.pipelines import BatchStream, fixed_batches, seeded_permutation
from tfml.training import PSNR, fit, get_strategy, prepare_run_dir, psnr, read_history, save_model, set_seed
from tfml.training.saving import partial_path

X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)


def tiny_model(seed=0):
    set_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.MeanSquaredError(), metrics=[keras.metrics.MeanAbsoluteError("mae")])
    return model


def tiny_stream(epochs, x=X, batch_size=16):
    data = tf.constant(x)
    return BatchStream(seeded_permutation(len(x), 0), lambda i, epoch: (tf.gather(data, i), tf.gather(data, i)), batch_size, epochs)


class MetricsTest(tf.test.TestCase):
    def test_psnr_matches_numpy(self):
        rng = np.random.default_rng(0)
        a = rng.uniform(size=(3, 8, 8, 3)).astype(np.float32)
        b = np.clip(a + rng.normal(scale=0.1, size=a.shape), 0, 1).astype(np.float32)
        expected = [10 * np.log10(1 / np.mean((x - y) ** 2)) for x, y in zip(a, b)]
        self.assertAllClose(psnr(a, b), expected, rtol=1e-5)
        metric = PSNR()
        metric.update_state(a, b)
        self.assertAllClose(metric.result(), np.mean(expected), rtol=1e-5)


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
    validation = fixed_batches(X[:32], X[:32], 16)
    history = fit(tiny_model(), tiny_stream(2), validation=validation, log_dir=tmp_path, epochs=2, verbose=0)
    assert history["epoch"].tolist() == [0, 1]
    assert (tmp_path / "best.h5").exists() and list((tmp_path / "tensorboard").glob("*/events.out.tfevents*"))
    state = json.loads((tmp_path / "best.h5.json").read_text())
    assert state["best"] == pytest.approx(history["val_loss"].min())
    # a new process would rebuild the model: the backup restores weights, optimizer and epoch
    seen = []
    history = fit(tiny_model(seed=1), tiny_stream(4), validation=validation, log_dir=tmp_path, epochs=4, verbose=0,
                  callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    assert seen == [2, 3]
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    np.testing.assert_array_equal(history["epoch"], read_history(tmp_path)["epoch"])


def test_resuming_mid_epoch_gives_the_weights_and_logs_of_an_uninterrupted_run(tmp_path):
    validation = fixed_batches(X[:32], X[:32], 16)
    whole = tiny_model()
    fit(whole, tiny_stream(3), validation=validation, log_dir=tmp_path / "whole", epochs=3, verbose=0)

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() == 6:  # epoch 1, after its second of four steps
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(tiny_model(), tiny_stream(3), validation=validation, log_dir=tmp_path / "cut", epochs=3, verbose=0,
            backup_seconds=0, callbacks=[Interrupt()])
    state = json.loads((tmp_path / "cut" / "backup" / "state.json").read_text())
    assert (state["epoch"], state["step"]) == (1, 1)  # the interrupted step was never backed up: it runs again
    resumed = tiny_model(seed=5)  # a new process builds the model again
    fit(resumed, tiny_stream(3), validation=validation, log_dir=tmp_path / "cut", epochs=3, verbose=0, backup_seconds=0)
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    a, b = read_history(tmp_path / "whole"), read_history(tmp_path / "cut")
    columns = ["loss", "mae", "val_loss", "val_mae"]  # the interrupted epoch's running means continue where they were
    np.testing.assert_array_equal(a[columns].to_numpy(), b[columns].to_numpy())


def test_same_seed_same_result():
    weights = []
    for _ in range(2):
        model = tiny_model(seed=3)
        model.fit(tiny_stream(2)(), epochs=2, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_prepare_run_dir_refuses_to_resume_with_other_settings(tmp_path):
    prepare_run_dir(tmp_path / "run", {"epochs": 3, "seed": 0, "fresh": False}, not_compared=("fresh",))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["args"]["epochs"] == 3 and "tensorflow" in config["versions"]
    prepare_run_dir(tmp_path / "run", {"epochs": 3, "seed": 0, "fresh": True}, not_compared=("fresh",))
    with pytest.raises(ValueError, match="other settings \\(epochs: 3 -> 5\\).*--fresh"):
        prepare_run_dir(tmp_path / "run", {"epochs": 5, "seed": 0}, not_compared=("fresh",))
    (tmp_path / "run" / "marker").write_text("x")
    prepare_run_dir(tmp_path / "run", {"epochs": 5, "seed": 0}, fresh=True)
    assert not (tmp_path / "run" / "marker").exists()


def test_fresh_never_deletes_a_folder_that_tfml_did_not_make(tmp_path):
    documents = tmp_path / "Documents"
    documents.mkdir()
    (documents / "thesis.tex").write_text("years of work")
    for fresh in (True, False):
        with pytest.raises(ValueError, match="tfml did not make.*nothing was changed"):
            prepare_run_dir(documents, {"epochs": 1}, fresh=fresh)
    assert (documents / "thesis.tex").read_text() == "years of work" and sorted(os.listdir(documents)) == ["thesis.tex"]
    (documents / "config.json").write_text('{"args": {}}')  # a config.json that tfml did not write
    with pytest.raises(ValueError, match="tfml did not make"):
        prepare_run_dir(documents, {"epochs": 1}, fresh=True)
    assert (documents / "thesis.tex").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        prepare_run_dir(tmp_path / "file", {})
    (tmp_path / "empty").mkdir()
    assert prepare_run_dir(tmp_path / "empty", {}, fresh=True).is_dir()  # an empty folder is fine


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
        from tfml.pipelines import BatchStream, fixed_batches, seeded_permutation
        from tfml.training import fit, get_strategy
        strategy = get_strategy("mirrored")
        with strategy.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
            model.compile(keras.optimizers.SGD(0.1), keras.losses.MeanSquaredError())
        x = tf.constant(np.random.default_rng(0).normal(size=(64, 4)).astype("float32"))
        stream = BatchStream(seeded_permutation(64, 0), lambda i, e: (tf.gather(x, i), tf.gather(x, i)), 16, 3)
        history = fit(model, stream, validation=fixed_batches(x, x, 16), log_dir=sys.argv[1], epochs=3, verbose=0)
        print("REPLICAS", strategy.num_replicas_in_sync, "LOSS", history["loss"].iloc[0], history["loss"].iloc[-1])
    """
    out, _ = _python(code, str(tmp_path)).communicate(timeout=300)
    line = next(l for l in out.splitlines() if l.startswith("REPLICAS"))
    _, replicas, _, first, last = line.split()
    assert replicas == "2"
    assert float(last) < float(first)


RESUMABLE = """
    import sys, time, numpy as np, tensorflow as tf, keras
    from tfml.pipelines import BatchStream, fixed_batches, seeded_permutation
    from tfml.training import fit, set_seed
    set_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.MeanSquaredError())
    x = tf.constant(np.random.default_rng(0).normal(size=(256, 4)).astype("float32"))
    stream = BatchStream(seeded_permutation(256, 0), lambda i, e: (tf.gather(x, i), tf.gather(x, i)), 32, 8)
    slow = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(0.05))
    fit(model, stream, validation=fixed_batches(x, x, 64), log_dir=sys.argv[1], epochs=8, verbose=0, backup_seconds=0,
        callbacks=[slow])
    np.save(sys.argv[1] + "/final.npy", np.concatenate([w.ravel() for w in model.get_weights()]))
    print("DONE", flush=True)
"""


def test_a_run_killed_with_sigkill_mid_epoch_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert "DONE" in _python(RESUMABLE, str(whole)).communicate(timeout=300)[0]
    process = _python(RESUMABLE, str(cut))
    state = cut / "backup" / "state.json"
    deadline = time.time() + 240
    while time.time() < deadline:  # kill inside epoch 3, between backups
        if state.exists() and json.loads(state.read_text())["epoch"] >= 3 and json.loads(state.read_text())["step"] >= 2:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    position = json.loads(state.read_text())
    assert position["epoch"] < 8, "the run should have been killed part-way"
    out, _ = _python(RESUMABLE, str(cut)).communicate(timeout=300)
    assert "DONE" in out
    np.testing.assert_array_equal(np.load(whole / "final.npy"), np.load(cut / "final.npy"))
    assert read_history(cut)["epoch"].tolist() == list(range(8))
    np.testing.assert_allclose(read_history(cut)["loss"], read_history(whole)["loss"], rtol=1e-6)
    keras.models.load_model(cut / "best.h5")
