"""Past one machine, on loopback: two workers of MultiWorkerMirroredStrategy against one process,
the Keras canary, a killed study that resumes. Every process gets a free port and a deadline, and
is stopped by the test."""

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tests.helpers import PROJECT_ROOT, TestCase
from tfml.training import loopback_tf_configs

TRAIN = """
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    from tfml.training import get_strategy, fit, set_seed
    multi = os.environ.get("TF_CONFIG") is not None
    strategy = get_strategy("multi-worker" if multi else "default")
    import keras
    from tfml.pipelines import BatchStream, fixed_batches, seeded_permutation
    set_seed(0)
    with strategy.scope():
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8)])
        model.compile(keras.optimizers.SGD(0.05), keras.losses.MeanSquaredError())
    x = tf.constant(np.random.default_rng(0).normal(size=(256, 8)).astype("float32"))
    epochs = int(sys.argv[2])
    stream = BatchStream(seeded_permutation(256, 0), lambda i, e: (tf.gather(x, i), tf.gather(x, i)), 32, epochs)
    checkpoint = None if multi else "best.h5"
    history = fit(model, stream, validation=None, log_dir=sys.argv[1], epochs=epochs, checkpoint=checkpoint,
                  monitor="loss", verbose=0, backup_seconds=0, tensorboard=False)
    weights = [w.tolist() for w in model.get_weights()]
    print("RESULT " + json.dumps({"loss": history["loss"].tolist(), "weights": weights}), flush=True)
"""


def run_python(code, *args, env=None, timeout=240):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        env=environment,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def result_of(process, timeout=240):
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    line = next((text for text in out.splitlines() if text.startswith("RESULT ")), None)
    assert line, out[-3000:]
    return json.loads(line[7:])


CANARY = """
    import json, sys
    import numpy as np
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # Keras as shipped: no tfml fixes
    import keras
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile(keras.optimizers.SGD(0.1), keras.losses.MeanSquaredError())
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :2])).batch(16)
    try:
        model.fit(data, epochs=1, verbose=0)
        print("RESULT " + json.dumps({"failed": False}), flush=True)
    except Exception as error:
        print("RESULT " + json.dumps({"failed": True, "error": f"{type(error).__name__}: {error}"[:300]}), flush=True)
"""


STUDY = """
    import dataclasses, json, sys, time
    import numpy as np
    import tensorflow as tf
    from tfml.training import Run, StudyConfig

    @dataclasses.dataclass(kw_only=True)
    class Config(StudyConfig):
        NAME, TITLE = "tiny", "a tiny study"

    run = Run(Config(run_dir=sys.argv[1], backup_seconds=1))  # TF_CONFIG set: multi-worker
    import keras
    from tfml.pipelines import BatchStream, seeded_permutation
    with run.scope():
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8)])
        model.compile(keras.optimizers.SGD(0.05), keras.losses.MeanSquaredError())
    x = tf.constant(np.random.default_rng(0).normal(size=(512, 8)).astype("float32"))
    stream = BatchStream(seeded_permutation(512, 0), lambda i, e: (tf.gather(x, i), tf.gather(x, i)), 32, 4)
    slow = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(float(sys.argv[2])))
    history = run.fit(model, stream, validation=None, epochs=4, monitor="loss", callbacks=[slow])
    best = run.best_model()
    run.add_metrics({"loss": float(history["loss"].iloc[-1])})
    run.finish()
    weights = [w.tolist() for w in model.get_weights()]
    print("RESULT " + json.dumps({"chief": run.is_chief, "dir": str(run.dir), "weights": weights}), flush=True)
"""


REPLICA_LOSSES = """
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    from tfml.training import get_strategy, fit, set_seed
    strategy = get_strategy("multi-worker" if os.environ.get("TF_CONFIG") else "default")
    import keras
    from tfml.losses import *
    from tfml.pipelines import BatchStream, seeded_permutation
    rng = np.random.default_rng(0)
    labels = tf.constant(np.repeat(np.arange(8), 8).astype("int32"))
    singles = tf.constant(rng.normal(size=(64, 6)).astype("float32"))
    pairs = tf.constant(rng.normal(size=(64, 2, 6)).astype("float32"))
    results = {}
    two_tower = set(json.loads(sys.argv[3]))
    for name, loss in json.loads(sys.argv[2]).items():
        x, y = (pairs if name in two_tower else singles), labels
        set_seed(0)
        with strategy.scope():
            model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Dense(4)])
            model.compile(keras.optimizers.SGD(0.1), eval(loss))
        stream = BatchStream(seeded_permutation(64, 0), lambda i, e: (tf.gather(x, i), tf.gather(y, i)), 16, 2)
        history = fit(model, stream, validation=None, log_dir=f"{sys.argv[1]}/{name}", epochs=2, checkpoint=None,
                      monitor="loss", verbose=0, backup_seconds=0, tensorboard=False)
        results[name] = {"loss": history["loss"].tolist(), "weights": [w.tolist() for w in model.get_weights()]}
    print("RESULT " + json.dumps(results), flush=True)
"""


class MultiWorkerTest(TestCase):
    """Two workers on loopback."""

    @pytest.mark.slow
    def test_two_workers_on_loopback_match_one_process(self):
        tmp_path = self.tmp_path
        single = result_of(run_python(TRAIN, tmp_path / "single", 3))
        configs = loopback_tf_configs(2)
        workers = [
            run_python(TRAIN, tmp_path / f"worker{i}", 3, env={"TF_CONFIG": config}) for i, config in enumerate(configs)
        ]
        results = [result_of(w) for w in workers]
        for result in results:
            np.testing.assert_allclose(result["loss"], single["loss"], rtol=1e-5)
            for a, b in zip(result["weights"], single["weights"]):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    @pytest.mark.slow
    def test_replica_batch_losses_of_two_workers_match_one_process(self):
        from tests.losses.test_replicas import LOSSES, TWO_TOWER

        losses, two_tower = json.dumps(LOSSES), json.dumps(TWO_TOWER)
        single = result_of(run_python(REPLICA_LOSSES, self.tmp_path / "single", losses, two_tower), timeout=400)
        workers = [
            run_python(REPLICA_LOSSES, self.tmp_path / f"worker{i}", losses, two_tower, env={"TF_CONFIG": config})
            for i, config in enumerate(loopback_tf_configs(2))
        ]
        for result in [result_of(w, timeout=400) for w in workers]:
            for name in LOSSES:
                np.testing.assert_allclose(result[name]["loss"], single[name]["loss"], rtol=1e-5, err_msg=name)
                for a, b in zip(result[name]["weights"], single[name]["weights"]):
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)

    @pytest.mark.slow
    def test_canary_keras_still_needs_the_multiworker_fixes(self):
        """Fails when Keras fits under MultiWorkerMirroredStrategy without tfml's fixes: then delete
        tfml/training/multiworker.py (and this test) and let get_strategy create the strategy plainly."""
        from tfml.training import multiworker

        if not multiworker.needed_here():
            pytest.skip("the fixes are not applied on this Keras version")
        configs = loopback_tf_configs(2)
        workers = [run_python(CANARY, env={"TF_CONFIG": config}) for config in configs]
        results = [result_of(w, timeout=180) for w in workers]
        assert all(r["failed"] and "PerReplica" in r["error"] for r in results), (
            "Keras now fits under MultiWorkerMirroredStrategy without tfml's fixes: "
            "remove tfml/training/multiworker.py",
            results,
        )

    @pytest.mark.slow
    def test_a_study_on_two_workers_writes_its_run_directory_once_and_resumes_after_a_kill(self):
        tmp_path = self.tmp_path
        configs = loopback_tf_configs(2)
        run_dir = tmp_path / "run"
        workers = [run_python(STUDY, run_dir, 0, env={"TF_CONFIG": config}) for config in configs]
        results = [result_of(w) for w in workers]
        assert [r["chief"] for r in results] == [True, False]
        assert results[0]["dir"] == str(run_dir) and results[1]["dir"] == str(tmp_path / "run-worker-1")
        assert (
            (run_dir / "model.h5").exists()
            and (run_dir / "report.html").exists()
            and (run_dir / "backup" / "state.json").exists()
        )
        assert (tmp_path / "run-worker-1" / "backup" / "state.json").exists()  # one backup directory per worker
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "run",
            "run-worker-1",
        ]  # nothing else, nothing twice in the run
        # kill both workers mid-run (as a cluster manager would restart a job), then start them again
        configs = loopback_tf_configs(2)
        cut = tmp_path / "cut"
        workers = [run_python(STUDY, cut, 0.05, env={"TF_CONFIG": config}) for config in configs]
        state = cut / "backup" / "state.json"
        deadline = time.time() + 180
        while time.time() < deadline and not (
            state.exists() and json.loads(state.read_text())["epoch"] >= 2  # workers back up together, at epoch ends
        ):
            time.sleep(0.05)
        for w in workers:
            w.kill()
            w.wait()
        position = json.loads(state.read_text())
        assert position["epoch"] < 4
        configs = loopback_tf_configs(2)
        workers = [run_python(STUDY, cut, 0, env={"TF_CONFIG": config}) for config in configs]
        resumed = [result_of(w) for w in workers]
        for a, b in zip(resumed[0]["weights"], results[0]["weights"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
