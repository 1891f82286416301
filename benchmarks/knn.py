"""Exact k-NN: tfml.retrieval.ExactIndex against faiss-cpu IndexFlatL2 and scikit-learn brute force.

Each contender runs in its own subprocess on the same seeded data (base N x D float32, Q queries)
and reports build time, search time, queries per second and peak resident memory; the parent
prints the ratios and checks that the neighbours agree: for every query, the float64 distances of
each contender's k neighbours, sorted, must match the reference's within a relative 1e-5 (so ties
may be broken differently). ``matmul-floor`` is the matrix product alone in ExactIndex's query chunks
and base tiles, no selection, through TensorFlow; ``numpy-floor`` the same products through numpy's
BLAS; the floor is the faster of the two.

    python benchmarks/knn.py                          # 1,000,000 x 64, 10,000 queries, k = 10
    python benchmarks/knn.py --n 100000 --queries 1000
    taskset -c 0 python benchmarks/knn.py --stages    # ExactIndex's steps on one chunk, one core
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import timeit
from functools import partial
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
CONTENDERS = ("tfml", "faiss", "sklearn", "matmul-floor", "numpy-floor")
FLOORS = ("matmul-floor", "numpy-floor")


def run_contender(name: str, folder: Path, k: int) -> dict:
    base = np.load(folder / "base.npy")
    queries = np.load(folder / "queries.npy")
    start = time.perf_counter()
    if name == "tfml":
        from tfml.retrieval import ExactIndex

        index = ExactIndex(base, "euclidean")
        built = time.perf_counter()
        index.search(queries[:64], k)  # trace the tf.functions once, as any long-lived index would
        built_and_warm = time.perf_counter()
        distances, indices = index.search(queries, k)
    elif name == "faiss":
        import faiss

        index = faiss.IndexFlatL2(base.shape[1])
        index.add(base)
        built = built_and_warm = time.perf_counter()
        distances, indices = index.search(queries, k)
        distances = np.sqrt(np.maximum(distances, 0))
    elif name == "sklearn":
        from sklearn.neighbors import NearestNeighbors

        index = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="euclidean", n_jobs=-1).fit(base)
        built = built_and_warm = time.perf_counter()
        distances, indices = index.kneighbors(queries)
    elif name == "matmul-floor":
        import tensorflow as tf

        from tfml.retrieval.index import MAX_QUERY_CHUNK, TILE_ROWS

        # ExactIndex's query chunks and base tiles, the product only (one column kept per tile)
        tiles, augmented = product_operands(base, queries, TILE_ROWS)
        tiles = tf.constant(tiles)
        product = tf.function(
            lambda q: tf.map_fn(
                lambda rows: tf.matmul(q, rows, transpose_b=True)[:, 0],
                tiles,
                parallel_iterations=2,
                fn_output_signature=tf.float32,
            )
        )
        built = time.perf_counter()
        product(tf.constant(augmented[:MAX_QUERY_CHUNK]))
        built_and_warm = time.perf_counter()
        for s in range(0, len(queries), MAX_QUERY_CHUNK):
            product(tf.constant(augmented[s : s + MAX_QUERY_CHUNK])).numpy()
        distances = indices = None
    elif name == "numpy-floor":
        from tfml.retrieval.index import MAX_QUERY_CHUNK, TILE_ROWS

        # the same products through numpy's BLAS, written into one reused output tile
        tiles, augmented = product_operands(base, queries, TILE_ROWS)
        tiles = [np.ascontiguousarray(tile.T) for tile in tiles]
        out = np.empty((MAX_QUERY_CHUNK, TILE_ROWS), np.float32)
        built = time.perf_counter()
        np.matmul(augmented[:MAX_QUERY_CHUNK], tiles[0], out=out)
        built_and_warm = time.perf_counter()
        for s in range(0, len(queries), MAX_QUERY_CHUNK):
            chunk = augmented[s : s + MAX_QUERY_CHUNK]
            for tile in tiles:
                np.matmul(chunk, tile, out=out[: len(chunk)])
        distances = indices = None
    else:
        raise ValueError(name)
    searched = time.perf_counter()
    if indices is not None:
        np.save(folder / f"{name}-indices.npy", np.asarray(indices, np.int64))
    return {
        "build_s": built - start,
        "warmup_s": built_and_warm - built,
        "search_s": searched - built_and_warm,
        "queries_per_s": len(queries) / (searched - built_and_warm),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def product_operands(base, queries, tile_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(base tiles (n_tiles, tile_rows, dim + 1), zero-padded; augmented queries [2q, -1]): the floors' operands."""
    n_tiles = -(-len(base) // tile_rows)
    padded = np.zeros((n_tiles * tile_rows, base.shape[1] + 1), np.float32)
    padded[: len(base), :-1] = base
    augmented = np.concatenate([2 * queries, -np.ones((len(queries), 1), np.float32)], axis=1)
    return padded.reshape(n_tiles, tile_rows, -1), augmented


def stages(base, queries, k: int) -> None:
    """Seconds of ExactIndex's steps on one query chunk (best of 3): what the selection costs beyond the product."""
    import tensorflow as tf

    from tfml.retrieval import ExactIndex
    from tfml.retrieval.index import MAX_QUERY_CHUNK, _matmul_topk

    index = ExactIndex(base)
    chunk = queries[:MAX_QUERY_CHUNK]
    augmented = tf.constant(index._augment_queries(chunk))
    tiles = tf.reshape(index._padded, [-1, index.tile, index._padded.shape[1]])
    c, block = len(chunk), index.block

    def over_tiles(reduce):
        return tf.function(
            lambda q: tf.map_fn(
                lambda rows: reduce(tf.matmul(q, rows, transpose_b=True)),
                tiles,
                parallel_iterations=2,
                fn_output_signature=tf.float32,
            )
        )

    product = over_tiles(lambda scores: scores[:, 0])
    maxima = over_tiles(lambda scores: tf.reduce_max(tf.reshape(scores, [c, -1, block]), axis=2))
    block_maxima = tf.reshape(tf.transpose(maxima(augmented), [1, 0, 2]), [c, -1])
    best = tf.sort(tf.math.top_k(block_maxima, k + 1)[1], axis=1)
    blocks = tf.reshape(index._padded, [-1, block, index._padded.shape[1]])
    rescore = tf.function(lambda q, b: tf.einsum("qd,qkbd->qkb", q, tf.gather(blocks, b)))
    exclude = tf.constant(np.full(c, -1, np.int64))
    whole = partial(_matmul_topk, augmented, index._padded, k + 1, block, index.tile, exclude)
    steps = {
        "product alone (the floor)": lambda: product(augmented).numpy(),
        "product and block maxima": lambda: maxima(augmented).numpy(),
        "top-k of the block maxima": lambda: tf.math.top_k(block_maxima, k + 1)[0].numpy(),
        "gather the best blocks and score them": lambda: rescore(augmented, best).numpy(),
        "the whole selection": lambda: whole()[0].numpy(),
        "ExactIndex.search": lambda: index.search(chunk, k),
    }
    for name, step in steps.items():
        step()
        print(f"{name:>40}: {min(timeit.repeat(step, number=1, repeat=3)):.3f} s for {c:,} queries")


def agreement(base, queries, indices, reference, k) -> float:
    """Share of queries whose neighbours' sorted float64 distances match the reference's (rel 1e-5)."""

    def sorted_distances(ids):
        diff = queries[:, None, :].astype(np.float64) - base[ids].astype(np.float64)
        return np.sort(np.sqrt((diff**2).sum(-1)), axis=1)

    a, b = sorted_distances(indices), sorted_distances(reference)
    return float(np.mean(np.all(np.abs(a - b) <= 1e-5 * np.maximum(b, 1e-12), axis=1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stages", action="store_true", help="time ExactIndex's steps on one query chunk instead")
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        print(json.dumps(run_contender(args.run_one, Path(args.folder), args.k)))
        return

    rng = np.random.default_rng(args.seed)
    if args.stages:
        base = rng.standard_normal((args.n, args.dim), dtype=np.float32)
        stages(base, rng.standard_normal((args.queries, args.dim), dtype=np.float32), args.k)
        return
    print(f"exact k-NN, euclidean: base {args.n:,} x {args.dim} float32, {args.queries:,} queries, k = {args.k}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = rng.standard_normal((args.n, args.dim), dtype=np.float32)
        queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
        np.save(folder / "base.npy", base)
        np.save(folder / "queries.npy", queries)
        results = {}
        for name in args.contenders.split(","):
            command = [sys.executable, __file__, "--run-one", name, "--folder", tmp, "-k", str(args.k)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{name}: failed\n{done.stderr[-2000:]}")
                continue
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{name:>13}: {results[name]['queries_per_s']:9.1f} queries/s  search {results[name]['search_s']:7.2f} "
                f"s  build {results[name]['build_s']:5.2f} s  warm-up {results[name]['warmup_s']:5.2f} s  peak RSS "
                f"{results[name]['peak_rss_gb']:5.2f} GB",
                flush=True,
            )
        print(f"base size: {base.nbytes / 2**30:.2f} GB")
        if "tfml" in results:
            floors = [results[f]["queries_per_s"] for f in FLOORS if f in results]
            if floors:
                ratio = results["tfml"]["queries_per_s"] / max(floors)
                print(f"tfml / the faster matrix product (the floor): {ratio:.2f}x")
            for peer in ("faiss", "sklearn", *FLOORS):
                if peer in results:
                    print(
                        f"tfml / {peer} throughput: "
                        f"{results['tfml']['queries_per_s'] / results[peer]['queries_per_s']:.2f}x"
                    )
            reference = next((p for p in ("faiss", "sklearn") if p in results), None)
            if reference:
                tfml_ids = np.load(folder / "tfml-indices.npy")
                for peer in ("faiss", "sklearn"):
                    if peer in results:
                        peer_ids = np.load(folder / f"{peer}-indices.npy")
                        same = np.mean(np.all(np.sort(tfml_ids, 1) == np.sort(peer_ids, 1), axis=1))
                        print(
                            f"agreement with {peer}: {agreement(base, queries, tfml_ids, peer_ids, args.k):.4%} of "
                            f"queries (same ids: {same:.4%})"
                        )


if __name__ == "__main__":
    main()
