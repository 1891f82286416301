"""Past one machine, on loopback: two workers of MultiWorkerMirroredStrategy against one process, a
killed worker that resumes, the tf.data service, Beam batch embedding, sharded and approximate indexes.
Every process gets a free port and a deadline, and is stopped by the test."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tfml.training import loopback_tf_configs

PROJECT = Path(__file__).resolve().parents[1]


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
    stream = BatchStream(seeded_permutation(256, 0), lambda i, e: (tf.gather(x, i), tf.gather(x, i)), 32, int(sys.argv[2]))
    history = fit(model, stream, validation=None, log_dir=sys.argv[1], epochs=int(sys.argv[2]), checkpoint=None if multi else "best.h5",
                  monitor="loss", verbose=0, backup_seconds=0, tensorboard=False)
    print("RESULT " + json.dumps({"loss": history["loss"].tolist(), "weights": [w.tolist() for w in model.get_weights()]}), flush=True)
"""


def run_python(code, *args, env=None, timeout=240):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=environment, cwd=PROJECT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def result_of(process, timeout=240):
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), None)
    assert line, out[-3000:]
    return json.loads(line[7:])


@pytest.mark.slow
def test_two_workers_on_loopback_match_one_process(tmp_path):
    single = result_of(run_python(TRAIN, tmp_path / "single", 3))
    configs = loopback_tf_configs(2)
    workers = [run_python(TRAIN, tmp_path / f"worker{i}", 3, env={"TF_CONFIG": config}) for i, config in enumerate(configs)]
    results = [result_of(w) for w in workers]
    for result in results:
        np.testing.assert_allclose(result["loss"], single["loss"], rtol=1e-5)
        for a, b in zip(result["weights"], single["weights"]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


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


@pytest.mark.slow
def test_canary_keras_still_needs_the_multiworker_fixes(tmp_path):
    """Fails when Keras fits under MultiWorkerMirroredStrategy without tfml's fixes: then delete
    tfml/training/multiworker.py (and this test) and let get_strategy create the strategy plainly."""
    from tfml.training import multiworker

    if not multiworker.needed_here():
        pytest.skip("the fixes are not applied on this Keras version")
    configs = loopback_tf_configs(2)
    workers = [run_python(CANARY, env={"TF_CONFIG": config}) for config in configs]
    results = [result_of(w, timeout=180) for w in workers]
    assert all(r["failed"] and "PerReplica" in r["error"] for r in results), (
        "Keras now fits under MultiWorkerMirroredStrategy without tfml's fixes: remove tfml/training/multiworker.py", results)


STUDY = """
    import dataclasses, json, sys, time
    import numpy as np
    import tensorflow as tf
    from tfml.workflows.config import StudyConfig
    from tfml.workflows.study import Run

    @dataclasses.dataclass(kw_only=True)
    class Config(StudyConfig):
        NAME, TITLE = "tiny", "a tiny study"

    run = Run(Config(run_dir=sys.argv[1], backup_seconds=0))  # TF_CONFIG set: multi-worker
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
    run.finish({"loss": float(history["loss"].iloc[-1])})
    print("RESULT " + json.dumps({"chief": run.is_chief, "dir": str(run.dir), "weights": [w.tolist() for w in model.get_weights()]}),
          flush=True)
"""


@pytest.mark.slow
def test_a_study_on_two_workers_writes_its_run_directory_once_and_resumes_after_a_kill(tmp_path):
    configs = loopback_tf_configs(2)
    run_dir = tmp_path / "run"
    workers = [run_python(STUDY, run_dir, 0, env={"TF_CONFIG": config}) for config in configs]
    results = [result_of(w) for w in workers]
    assert [r["chief"] for r in results] == [True, False]
    assert results[0]["dir"] == str(run_dir) and results[1]["dir"] == str(tmp_path / "run-worker-1")
    assert (run_dir / "model.h5").exists() and (run_dir / "report.html").exists() and (run_dir / "backup" / "state.json").exists()
    assert (tmp_path / "run-worker-1" / "backup" / "state.json").exists()  # one backup directory per worker
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run-worker-1"]  # nothing else, nothing twice in the run
    # kill both workers mid-run (as a cluster manager would restart a job), then start them again
    configs = loopback_tf_configs(2)
    cut = tmp_path / "cut"
    workers = [run_python(STUDY, cut, 0.05, env={"TF_CONFIG": config}) for config in configs]
    state = cut / "backup" / "state.json"
    deadline = time.time() + 180
    while time.time() < deadline and not (state.exists() and json.loads(state.read_text())["epoch"] >= 1
                                           and json.loads(state.read_text())["step"] >= 3):
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


def test_the_data_service_serves_every_batch_once_per_epoch(tmp_path):
    import tensorflow as tf

    from tfml.pipelines import BatchStream, seeded_permutation
    from tfml.training.fit import ServedBatches

    dispatcher = tf.data.experimental.service.DispatchServer(tf.data.experimental.service.DispatcherConfig(port=0))
    address = dispatcher.target.split("://")[1]
    workers = [tf.data.experimental.service.WorkerServer(tf.data.experimental.service.WorkerConfig(dispatcher_address=address, port=0))
               for _ in range(2)]
    try:
        items = tf.range(96, dtype=tf.int64)
        stream = BatchStream(seeded_permutation(96, 0), lambda i, epoch: (tf.gather(items, i) + 1000 * epoch, i), 8, 2)
        served = ServedBatches(stream, dispatcher.target, job_name=str(tmp_path))
        seen = np.concatenate([x.numpy() for x, _ in served(0, 0)])
        assert sorted(seen.tolist()) == list(range(96)) + list(range(1000, 1096))  # each element once per epoch
        assert served.steps_per_epoch == 12
    finally:
        for worker in workers:
            worker._stop()
        dispatcher._stop()


def test_beam_batch_embedding_matches_the_in_process_encoder(tmp_path):
    pytest.importorskip("apache_beam", reason="the beam extra is not installed (pip install 'tfml[beam]')")
    from tfml import zoo
    from tfml.data import load_labelled_images
    from tfml.retrieval.batch_embedding import encode_with_beam
    from tfml.retrieval.shards import EmbeddingShards

    model, record = zoo.load_model("cifar10-encoder")
    data = load_labelled_images("sample")
    images = data.images[:300]
    encode_with_beam(record["file"], images, tmp_path / "codes", 3, ids=data.ids[:300], labels=data.labels[:300],
                     class_names=data.class_names, source="sample", encoder=record, batch_size=64)
    shards = EmbeddingShards(tmp_path / "codes")
    assert len(shards) == 300 and len(shards.manifest["shards"]) == 3 and shards.manifest["encoder"]["sha256"] == record["sha256"]
    np.testing.assert_allclose(shards.vectors(np.arange(300)), model.predict(images, verbose=0), rtol=1e-5, atol=1e-5)
    assert shards.ids.tolist() == data.ids[:300] and shards.labels.tolist() == data.labels[:300].tolist()


def clustered(n, dim=16, centres=40, seed=0):
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, dim)) * 4
    return (middle[rng.integers(0, centres, n)] + rng.normal(size=(n, dim))).astype(np.float32)


def test_sharded_exact_index_equals_one_exact_index(tmp_path):
    from tfml.retrieval import ExactIndex
    from tfml.retrieval.shards import EmbeddingShards, ShardedExactIndex, write_shards

    vectors = clustered(3000)
    write_shards(tmp_path / "shards", vectors, 4, labels=np.arange(3000) % 7, class_names=[str(i) for i in range(7)])
    shards = EmbeddingShards(tmp_path / "shards")
    queries = clustered(50, seed=1)
    exclude = np.arange(50) * 37
    for distance in ("euclidean", "cosine"):
        expected = ExactIndex(vectors, distance).search(queries, 10, exclude=exclude)
        found = ShardedExactIndex(shards, distance).search(queries, 10, exclude=exclude)
        np.testing.assert_array_equal(found[1], expected[1])
        np.testing.assert_allclose(found[0], expected[0], rtol=1e-5)
    np.testing.assert_array_equal(shards.vectors([5, 2999, 1500]), vectors[[5, 2999, 1500]])


def test_ivfpq_index_recall_with_exact_rerank_saves_and_loads(tmp_path):
    pytest.importorskip("faiss", reason="the faiss extra is not installed")
    from tfml.retrieval import ExactIndex
    from tfml.retrieval.shards import EmbeddingShards, IVFPQIndex, write_shards

    vectors = clustered(20000)
    write_shards(tmp_path / "shards", vectors, 3)
    shards = EmbeddingShards(tmp_path / "shards")
    index = IVFPQIndex.build(shards, tmp_path / "saved", lists=64, subquantizers=8, probes=16, candidates=200)
    assert (tmp_path / "saved" / "lists.ivfdata").stat().st_size > 20000 * 8  # the codes are on disk
    queries = clustered(100, seed=2)
    _, exact = ExactIndex(vectors).search(queries, 10)
    distances, found = index.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact)])
    assert recall >= 0.9, recall
    rows = found[:, 0]
    np.testing.assert_allclose(distances[:, 0], np.linalg.norm(vectors[rows] - queries, axis=1), rtol=1e-5)  # exact re-rank
    loaded = IVFPQIndex.load(tmp_path / "saved")
    np.testing.assert_array_equal(loaded.search(queries, 10)[1], found)
