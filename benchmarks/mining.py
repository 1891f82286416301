"""Online mining cost: tfml's semi-hard and batch-hard triplet losses (forward and gradient, in one
tf.function) on batches of 256 x 32-d embeddings, against the numpy reference loops the tests use
and a pure-Python enumeration of every (anchor, positive, negative) triplet, in one run.

    python benchmarks/mining.py [--batch 256] [--dim 32] [--classes 32]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.losses.references import ref_hard, ref_semihard  # noqa: E402  (the numpy oracles of the test suite)
from tfml.losses import TripletHardLoss, TripletSemiHardLoss  # noqa: E402


def python_semihard(labels, x, margin):
    """Every triplet enumerated in plain Python (lists, math.dist): the semi-hard rule per (a, p)."""
    points = [list(map(float, row)) for row in x]
    labels = [int(v) for v in labels]
    n = len(points)
    total, count = 0.0, 0
    for a, p in itertools.permutations(range(n), 2):
        if labels[a] != labels[p]:
            continue
        d_ap = math.dist(points[a], points[p])
        closest, farthest = math.inf, -math.inf
        for k in range(n):
            if labels[k] == labels[a]:
                continue
            d_an = math.dist(points[a], points[k])
            farthest = max(farthest, d_an)
            if d_an > d_ap:
                closest = min(closest, d_an)
        negative = closest if closest < math.inf else farthest
        total += max(0.0, margin + d_ap - negative)
        count += 1
    return total / count if count else 0.0


def best_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--classes", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(args.classes), args.batch // args.classes)
    x = rng.normal(size=(len(labels), args.dim)).astype(np.float32)
    print(f"batch {len(labels)} x {args.dim}, {args.classes} classes; {platform.platform()}, {os.cpu_count()} cores")
    variable = tf.Variable(x)
    label_tensor = tf.constant(labels)
    rows = []
    for name, loss, reference in (
        ("semi-hard", TripletSemiHardLoss(margin=0.2), lambda: ref_semihard(labels, x, 0.2, "l2")),
        ("batch-hard", TripletHardLoss(margin=0.2), lambda: ref_hard(labels, x, 0.2, False, "l2")),
    ):

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                value = loss(label_tensor, variable)  # noqa: B023  (called in this iteration only)
            return value, tape.gradient(value, variable)

        value = float(step()[0])
        expected = reference()
        assert abs(value - expected) <= 1e-4 * max(1.0, abs(expected)), (name, value, expected)
        tfml_s = best_time(lambda: step()[1].numpy(), args.repeats)
        numpy_s = best_time(reference, 1)
        rows.append((name, tfml_s, numpy_s))
        print(
            f"{name:>10}: tfml forward + gradient {tfml_s * 1e3:8.2f} ms | numpy reference loop (forward only) "
            f"{numpy_s * 1e3:9.1f} ms | ratio {numpy_s / tfml_s:7.0f}x"
        )
    python_s = best_time(lambda: python_semihard(labels, x, 0.2), 1)
    assert abs(python_semihard(labels, x, 0.2) - ref_semihard(labels, x, 0.2, "l2")) < 1e-4
    print(
        f"semi-hard: pure-Python triplet enumeration (forward only) {python_s * 1e3:9.1f} ms | "
        f"ratio to tfml {python_s / rows[0][1]:7.0f}x"
    )


if __name__ == "__main__":
    main()
