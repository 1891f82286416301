"""Retrieval evaluation of a million queries against a million items: tfml's streamed
``evaluate_retrieval`` (a ``memory_bytes`` budget) beside the in-memory path (every query's
neighbour list held at once, as pytorch-metric-learning's AccuracyCalculator holds its k-NN result)
and the bare exact search both stand on (the time floor). Each contender runs in a process of its
own; printed: seconds, and peak resident memory of the call above what the process held before it
(the kernel's high-water mark, reset before the call), with the figures of the two evaluations.

Data (real vectors, labelled by where they come from): the first ``--words`` words of GloVe 6B 50-d
(the ``text`` extra), each in ``--copies`` copies with Gaussian noise of 0.3 times the per-dimension
standard deviation; every copy is a query against all of them (itself left out), the other copies
of its word its relevant items (R = copies - 1). Cosine distance. Defaults: 250,000 x 4 = 1,000,000.

    python benchmarks/evaluate.py                 # 1M x 1M
    python benchmarks/evaluate.py --words 5000    # a check in seconds
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
from ann import glove

METRICS = ["precision@1", "r_precision", "map@r", "ndcg@10", "recall@10", "knn@10"]
BUDGET = 64 << 20  # memory_bytes of the streamed evaluation
NOISE = 0.3


def noisy_glove(words: int, copies: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(vectors (words x copies, 50), word labels); generated in blocks to keep the peak low."""
    source = glove()[:words]
    scale = (NOISE * source.std(axis=0)).astype(np.float32)
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(words), copies)
    vectors = np.empty((len(labels), source.shape[1]), np.float32)
    for start in range(0, len(labels), 1 << 18):
        part = slice(start, start + (1 << 18))
        vectors[part] = source[labels[part]] + rng.standard_normal(vectors[part].shape, np.float32) * scale
    return vectors, labels


def resident_kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1))


def contender(name: str, words: int, copies: int, results) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfml.retrieval import ExactIndex, LabelRelevance, evaluate_retrieval
    from tfml.retrieval.evaluate import parse_metric, search_depth

    vectors, labels = noisy_glove(words, copies)
    index, relevance, exclude = ExactIndex(vectors, "cosine"), LabelRelevance(labels, labels), np.arange(len(labels))
    index.search(vectors[:64], 10)  # traced once, outside the timing
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark to the current resident size
    before = resident_kib("VmRSS")
    start = time.perf_counter()
    if name == "bare search":
        parsed = [(metric, *parse_metric(metric)) for metric in METRICS]
        depth, _ = search_depth(parsed, index, relevance, exclude, exclude)
        index.search(vectors, depth, exclude=exclude)
        figures = {}
    else:
        budget = BUDGET if name.startswith("streamed") else None
        figures = evaluate_retrieval(index, vectors, relevance, METRICS, exclude=exclude, memory_bytes=budget).metrics
    seconds = time.perf_counter() - start
    results.put((name, seconds, (resident_kib("VmHWM") - before) * 1024, before * 1024, figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=250_000)
    parser.add_argument("--copies", type=int, default=4)
    args = parser.parse_args()
    n = args.words * args.copies
    print(f"{platform.platform()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    print(f"noisy GloVe: {n:,} queries x {n:,} items, 50-d, cosine; metrics {', '.join(METRICS)}")
    context = multiprocessing.get_context("spawn")
    rows = {}
    for name in (f"streamed evaluation (memory_bytes {BUDGET >> 20} MiB)", "in-memory evaluation", "bare search"):
        results = context.Queue()
        process = context.Process(target=contender, args=(name, args.words, args.copies, results))
        process.start()
        rows[name] = results.get()
        process.join()
        _, seconds, peak, held, _ = rows[name]
        print(
            f"{name}: {seconds:.1f} s, {n / seconds:,.0f} queries/s, peak {peak / 2**20:,.0f} MiB above the "
            f"{held / 2**20:,.0f} MiB held before (data, index, TensorFlow)",
            flush=True,
        )
    streamed, in_memory, bare = rows.values()
    print("\n| contender | seconds | queries/s | peak above the data (MiB) |\n|---|---:|---:|---:|")
    for name, seconds, peak, _, _ in rows.values():
        print(f"| {name} | {seconds:.1f} | {n / seconds:,.0f} | {peak / 2**20:,.0f} |")
    print(
        f"\nstreamed / in-memory: time {streamed[1] / in_memory[1]:.2f}x, "
        f"peak memory {streamed[2] / in_memory[2]:.2f}x; streamed / bare search: time {streamed[1] / bare[1]:.2f}x"
    )
    for metric in METRICS:
        a, b = streamed[4][metric], in_memory[4][metric]
        print(f"{metric}: streamed {a:.6f}, in memory {b:.6f}, {'equal' if a == b else f'differ by {a - b:.2e}'}")


if __name__ == "__main__":
    main()
