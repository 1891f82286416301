"""An index past RAM: tfml's IVF-PQ index (faiss, codes and inverted lists on disk, exact re-rank from
the shard files) and sharded exact search, against one in-memory ExactIndex, in one run.

Data: the zoo's CIFAR-10 codes (``cifar10-encoder`` on all 60,000 images of
``../shared/data/cifar10-jpg.tar.gz``, 10-d) and 1,000,000 synthetic clustered 64-d vectors
(1,000 Gaussian clusters). Queries: 1,000 held-out vectors of the same kind. Figures: recall@10
against the exact neighbours, queries per second, and the bytes per vector that stay in RAM (the
exact index holds the vectors; IVF-PQ the coarse centroids and PQ tables, its codes and lists are
memory-mapped from disk, the vectors are read only for the candidates it re-ranks).

    python benchmarks/ann.py --data ../shared/data/cifar10-jpg.tar.gz
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import numpy as np


def clustered(n: int, dim: int, centres: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = np.random.default_rng(12345).normal(size=(centres, dim)).astype(np.float32) * 3
    return (middle[rng.integers(0, centres, n)] + rng.normal(size=(n, dim)).astype(np.float32)).astype(np.float32)


def measure(
    name: str, base: np.ndarray, queries: np.ndarray, settings: list[tuple[int, int]], subquantizers: int, lists: int
):
    from tfml.retrieval import ExactIndex
    from tfml.retrieval.shards import EmbeddingShards, IVFPQIndex, ShardedExactIndex, write_shards

    print(f"\n{name}: {len(base):,} x {base.shape[1]} base, {len(queries):,} queries, k = 10")
    start = time.perf_counter()
    exact = ExactIndex(base)
    exact.search(queries[:16], 10)
    built = time.perf_counter() - start
    start = time.perf_counter()
    _, truth = exact.search(queries, 10)
    seconds = time.perf_counter() - start
    print(
        f"  {'ExactIndex (in memory)':<44} recall@10 1.000  {len(queries) / seconds:9.0f} queries/s  "
        f"{base.shape[1] * 4:6.1f} B/vector in RAM  (build {built:.1f} s)"
    )
    with tempfile.TemporaryDirectory() as folder:
        write_shards(f"{folder}/shards", base, 8)
        shards = EmbeddingShards(f"{folder}/shards")
        start = time.perf_counter()
        _, found = ShardedExactIndex(shards).search(queries, 10)
        seconds = time.perf_counter() - start
        agreement = np.mean(found == truth)
        print(
            f"  {'ShardedExactIndex (8 shards, one in memory)':<44} recall@10 {agreement:.3f}  "
            f"{len(queries) / seconds:9.0f} queries/s  {base.shape[1] * 4 * len(base) / 8 / len(base):6.1f} B/vector "
            "in RAM"
        )
        start = time.perf_counter()
        index = IVFPQIndex.build(shards, f"{folder}/ivfpq", lists=lists, subquantizers=subquantizers)
        built = time.perf_counter() - start
        for probes, candidates in settings:
            index.probes, index.candidates = probes, candidates
            index.search(queries[:16], 10)
            start = time.perf_counter()
            _, found = index.search(queries, 10)
            seconds = time.perf_counter() - start
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
            label = f"IVF-PQ{subquantizers} ({lists} lists), probes {probes}, re-rank {candidates}"
            print(
                f"  {label:<44} recall@10 {recall:.3f}  {len(queries) / seconds:9.0f} queries/s  "
                f"{index.resident_bytes_per_vector():6.1f} B/vector in RAM  (build {built:.1f} s; codes on disk "
                f"{os.path.getsize(f'{folder}/ivfpq/lists.ivfdata') / len(base):.1f} B/vector)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default="../shared/data/cifar10-jpg.tar.gz", help="CIFAR-10 archive for the zoo codes ('' skips)"
    )
    parser.add_argument("--synthetic", type=int, default=1_000_000, help="synthetic clustered vectors (0 skips)")
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(f"{platform.platform()}, {os.cpu_count()} cores")
    if args.data:
        from tfml import zoo
        from tfml.data import load_labelled_images

        images = load_labelled_images(args.data).images
        codes = zoo.load("cifar10-encoder").predict(images, batch_size=1024, verbose=0)
        rng = np.random.default_rng(0)
        held = rng.choice(len(codes), args.queries, replace=False)
        keep = np.setdiff1d(np.arange(len(codes)), held)
        measure(
            "zoo CIFAR-10 codes (cifar10-encoder)",
            codes[keep],
            codes[held],
            [(8, 64), (16, 256), (32, 512)],
            subquantizers=5,
            lists=256,
        )
    if args.synthetic:
        base = clustered(args.synthetic, 64, 1000, seed=0)
        measure(
            "synthetic clustered vectors",
            base,
            clustered(args.queries, 64, 1000, seed=1),
            [(16, 256), (32, 1024), (64, 4096)],
            subquantizers=16,
            lists=4096,
        )


if __name__ == "__main__":
    main()
