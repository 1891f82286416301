"""Scaling on loopback: one process against two MultiWorkerMirroredStrategy workers on the same
machine, at the same global batch, in one run.

Model and data: the CIFAR-10 convolutional autoencoder (``build_autoencoder``) on the embedded
2,500-image sample, global batch 256, trained through ``tfml.training.fit`` as every study is. Each
contender runs in its own subprocess(es); the first epoch (tracing, the first all-reduce) is left
out. Figures: images per second of the whole job, milliseconds per step, and the gradient bytes one
step all-reduces, from which the README's arithmetic for a real cluster follows.

Contenders:
- one process (all cores);
- two workers on 127.0.0.1, each limited to one core (intra- and inter-op threads 1), so the two
  share the machine as two one-core machines would: the figure is the cost of synchronous
  all-reduce over loopback, not a speed-up (there are no more cores to gain);
- one process on one core at half the global batch: a worker's share of the compute, so the two
  workers' step time minus this one is what synchronising costs per step.

    python benchmarks/multiworker.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from tfml.training import loopback_tf_configs

PROJECT = Path(__file__).resolve().parents[1]

TRAIN = """
    import json, os, sys, time
    import numpy as np
    import tensorflow as tf
    threads = int(sys.argv[4])
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    from tfml.training import get_strategy, fit, set_seed
    strategy = get_strategy("multi-worker" if os.environ.get("TF_CONFIG") else "default")
    import keras
    from tfml.data import load_cifar10
    from tfml.models import build_autoencoder
    from tfml.pipelines import BatchStream, seeded_permutation, unit_float
    set_seed(0)
    with strategy.scope():
        _, _, model = build_autoencoder()
        model.compile(keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError())
    images = tf.constant(load_cifar10("sample").x_train)
    batch, epochs = int(sys.argv[2]), int(sys.argv[3])
    stream = BatchStream(seeded_permutation(len(images), 0),
                         lambda i, e: (tf.gather(images, i), unit_float(tf.gather(images, i))), batch, epochs)
    marks = []
    clock = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: marks.append(time.perf_counter()),
                                           on_epoch_end=lambda e, logs: marks.append(time.perf_counter()))
    history = fit(model, stream, validation=None, log_dir=sys.argv[1], epochs=epochs, checkpoint=None, monitor="loss",
                  verbose=0, backup_seconds=0, tensorboard=False, callbacks=[clock])
    seconds = [end - start for start, end in zip(marks[0::2], marks[1::2])]
    parameter_bytes = int(sum(np.prod(w.shape) * 4 for w in model.trainable_weights))
    print("RESULT " + json.dumps({"epoch_seconds": seconds, "steps": stream.steps_per_epoch,
                                  "loss": history["loss"].tolist(), "parameter_bytes": parameter_bytes}), flush=True)
"""


def launch(log_dir: Path, batch: int, epochs: int, threads: int, tf_config: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = tf_config
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(TRAIN), str(log_dir), str(batch), str(epochs), str(threads)],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def result(process: subprocess.Popen, timeout: float) -> dict:
    try:
        out, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
    line = next((line for line in out.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"a training process failed:\n{out[-3000:]}")
    return json.loads(line[7:])


def report(name: str, outcome: dict, batch: int) -> float:
    steady = outcome["epoch_seconds"][1:]
    per_step = sum(steady) / (len(steady) * outcome["steps"])
    print(
        f"  {name:<44} {batch / per_step:8.0f} images/s  {1000 * per_step:7.1f} ms/step  final loss "
        f"{outcome['loss'][-1]:.5f}"
    )
    return batch / per_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="global batch")
    parser.add_argument("--epochs", type=int, default=4, help="epochs (the first is left out)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a process is stopped")
    args = parser.parse_args()
    print(
        f"{platform.platform()}, {os.cpu_count()} cores; CIFAR-10 autoencoder, embedded sample (2,500 images), "
        f"global batch {args.batch}, {args.epochs - 1} timed epochs"
    )
    with tempfile.TemporaryDirectory() as folder:
        single = result(launch(Path(folder) / "single", args.batch, args.epochs, 0), args.timeout)
        share = result(launch(Path(folder) / "share", args.batch // 2, args.epochs, 1), args.timeout)
        configs = loopback_tf_configs(2)
        workers = [
            launch(Path(folder) / f"worker{i}", args.batch, args.epochs, 1, config) for i, config in enumerate(configs)
        ]
        outcomes = [result(w, args.timeout) for w in workers]
    print(f"  gradient all-reduced per step: {single['parameter_bytes'] / 1e6:.2f} MB (float32)")
    one = report("one process (2 cores)", single, args.batch)
    two = report("two workers on loopback (1 core each)", outcomes[0], args.batch)
    half = report(f"one worker's share: batch {args.batch // 2} on 1 core", share, args.batch // 2)
    print(
        f"  synchronising costs {1000 * (args.batch / two - args.batch // 2 / half):.1f} ms per step "
        f"(two workers' step minus one worker's share of the compute)"
    )
    print(
        f"  two workers / one process: {two / one:.2f}x; losses equal to "
        f"{max(abs(a - b) for a, b in zip(single['loss'], outcomes[0]['loss'])):.1e}"
    )


if __name__ == "__main__":
    main()
