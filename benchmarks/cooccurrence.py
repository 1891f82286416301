"""Co-like counts and the embedding model's step, against named peers, in one run.

1. Building X (movies x movies, users who liked both, zero diagonal) from ml-latest-small:
   tfml's sparse product ``liked^T liked`` against a pandas self-join of the likes on the user
   column followed by a group-by count of (movie, movie) pairs. Both results are checked equal.
2. One full-batch gradient step of the embedding-matrix model on c(V) (Keras ``train_on_batch``
   with plain SGD) against one float32 matrix product V V^T of the same size (the floor: the step
   needs at least this product and one more of the same cost for the gradient).

    python benchmarks/cooccurrence.py              # the embedded ml-latest-small
    python benchmarks/cooccurrence.py --dim 64
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfml.data.movielens import load_movielens  # noqa: E402
from tfml.losses import CoOccurrenceLoss  # noqa: E402
from tfml.models import build_embedding_matrix  # noqa: E402
from tfml.pipelines.cooccurrence import colike_counts, like_matrix  # noqa: E402


def best_of(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def pandas_self_join(ratings: pd.DataFrame, threshold: float, movies: np.ndarray) -> sp.csr_matrix:
    likes = ratings.loc[ratings["rating"] >= threshold, ["user", "movie"]]
    pairs = likes.merge(likes, on="user", suffixes=("_i", "_j"))
    pairs = pairs[pairs["movie_i"] != pairs["movie_j"]]
    counts = pairs.groupby(["movie_i", "movie_j"]).size()
    rows = np.searchsorted(movies, counts.index.get_level_values(0))
    cols = np.searchsorted(movies, counts.index.get_level_values(1))
    return sp.csr_matrix((counts.to_numpy().astype(np.float32), (rows, cols)), shape=(len(movies), len(movies)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="small")
    parser.add_argument("--threshold", type=float, default=4.0)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores, TF {tf.__version__}, {time.strftime('%Y-%m-%d')}")

    ratings = load_movielens(args.data).ratings
    likes = like_matrix(ratings, args.threshold)
    sparse_time = best_of(lambda: colike_counts(like_matrix(ratings, args.threshold).matrix), args.repeats)
    join_time = best_of(lambda: pandas_self_join(ratings, args.threshold, likes.movies), max(1, args.repeats // 2))
    x = colike_counts(likes.matrix)
    assert (x != pandas_self_join(ratings, args.threshold, likes.movies)).nnz == 0, "the two ways disagree"
    m = x.shape[0]
    print(
        f"X: {m:,} x {m:,} movies, {x.nnz:,} non-zero, from {likes.matrix.nnz:,} likes of {likes.matrix.shape[0]} users"
    )
    print(f"  tfml sparse product (likes matrix + liked^T liked): {sparse_time * 1e3:8.1f} ms")
    print(
        f"  pandas self-join + group-by count:                  {join_time * 1e3:8.1f} ms   "
        f"({join_time / sparse_time:.1f}x slower)"
    )

    target = tf.constant(x.toarray())
    indices = tf.range(m, dtype=tf.int32)
    model = build_embedding_matrix(likes.movies, args.dim, seed=0)
    model.compile(keras.optimizers.SGD(1e-6), CoOccurrenceLoss())
    model.train_on_batch(indices, target)
    step_time = best_of(lambda: model.train_on_batch(indices, target), args.repeats * 4)
    vectors = tf.random.normal((m, args.dim))
    product = tf.function(lambda v: tf.matmul(v, v, transpose_b=True))
    product(vectors).numpy()
    product_time = best_of(lambda: product(vectors).numpy(), args.repeats * 4)
    print(f"one full-batch step of c(V), V {m:,} x {args.dim}:")
    print(f"  Keras train_on_batch (forward, gradient, SGD update): {step_time * 1e3:8.1f} ms")
    print(
        f"  one float32 product V V^T ({m:,} x {m:,} output):     {product_time * 1e3:8.1f} ms   (step = "
        f"{step_time / product_time:.1f}x the product)"
    )


if __name__ == "__main__":
    main()
