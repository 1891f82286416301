"""Study 5a: movie embeddings from co-like counts (MovieLens).

X[i, j] counts the users who liked both movie i and movie j (rating >= threshold). An embedding
matrix V (M x d) is fitted by full-batch gradient descent on c(V) = sum over i != j of
(v_i . v_j - X[i, j])^2. Movies are recommended by cosine similarity of their rows of V, the movie
itself excluded. The study compares optimizers and learning rates on c, lists recommendations for a
few titles, and measures recall@10 of held-out likes for embeddings fitted to counts, log(1 + counts)
and PPMI (less popularity bias), scored by dot product and by cosine, against item-item cosine on X
and a popularity list.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfml.data.movielens import load_movielens, resolve_title
from tfml.losses.cooccurrence import CoOccurrenceLoss
from tfml.models.embedding_matrix import build_embedding_matrix, embedding_table
from tfml.pipelines import FullBatch
from tfml.pipelines.cooccurrence import colike_counts, hold_out_likes, like_matrix, ppmi
from tfml.retrieval import ExactIndex, held_out_recall_at_k, recommend_for_users, recommend_popular, similarity_matrix
from tfml.training import StopOnDivergence, atomic_write, set_seed
from tfml.viz import loss_curves, training_curves
from tfml.workflows.config import ConfigError, StudyConfig, option
from tfml.workflows.study import Run

OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(lr),
    "momentum": lambda lr: keras.optimizers.SGD(lr, momentum=0.9),
    "adam": lambda lr: keras.optimizers.Adam(lr),
    "adagrad": lambda lr: keras.optimizers.Adagrad(lr),
}
# learning rates compared per optimizer; each list spans too small, good and too large
SWEEP = {"sgd": (1e-6, 1e-5, 1e-4), "momentum": (1e-7, 1e-6, 1e-5), "adam": (1e-3, 1e-2, 1e-1), "adagrad": (1e-2, 1e-1, 1.0)}


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "movies"
    TITLE = "MovieLens: movie embeddings from co-like counts"
    QUICK = {"min_likes": 20, "iterations": 150, "sweep_iterations": 40}
    data: str = option("small", "'small' (embedded ml-latest-small), or a folder with ratings.csv + movies.csv or u.data + u.item",
                       metavar="SRC")
    threshold: float = option(4.0, "a rating at least this is a like", low=0.5, high=5)
    min_likes: int = option(1, "movies liked fewer times get no embedding", low=1)
    dim: int = option(32, "embedding size", low=1)
    init_scale: float = option(0.1, "standard deviation of the initial embeddings", above=0)
    optimizer: str = option("adam", "optimizer of the main embedding", choices=tuple(OPTIMIZERS))
    learning_rate: float = option(0.05, "learning rate of the main embedding", above=0)
    iterations: int = option(400, "full-batch steps of the main embedding", low=1)
    sweep_iterations: int = option(150, "full-batch steps of each optimizer / learning-rate run", low=1)
    sweep: dict = option({name: list(rates) for name, rates in SWEEP.items()},
                         "optimizers and learning rates compared, as NAME=LR,LR,... (optimizers: sgd, momentum, adam, adagrad)",
                         metavar="NAME=LR,...")
    titles: tuple[str, ...] = option(("Apollo 13", "Toy Story", "Home Alone"), "movies to recommend for in the report", metavar="TITLE")
    k: int = option(10, "recommendations per movie and per user (recall@k)", low=1)
    hidden_fraction: float = option(0.2, "share of each user's likes hidden for the held-out recall", above=0, high=0.9)

    def __post_init__(self):
        super().__post_init__()
        for name, rates in self.sweep.items():
            if name not in OPTIMIZERS:
                raise ConfigError("sweep", f"unknown optimizer {name!r}; choose among {', '.join(OPTIMIZERS)}")
            if not rates or any(not rate > 0 for rate in rates):
                raise ConfigError("sweep", f"{name}: learning rates must be positive numbers, got {rates}")


def make_model(item_ids, config: Config, optimizer: str, learning_rate: float) -> keras.Model:
    set_seed(config.seed)
    model = build_embedding_matrix(item_ids, config.dim, config.init_scale, seed=config.seed)
    model.compile(OPTIMIZERS[optimizer](learning_rate), CoOccurrenceLoss())
    return model


def full_batch(target: sp.spmatrix, epochs: int) -> FullBatch:
    """(all item indices, the dense target matrix) as every step."""
    return FullBatch(np.arange(target.shape[0], dtype=np.int32), target.toarray().astype(np.float32), epochs)


def train_embedding(run: Run, target: sp.spmatrix, item_ids, config: Config, name: str) -> tuple[keras.Model, pd.DataFrame]:
    """Fits V to ``target`` with the config's optimizer as training ``name`` (resumable; one epoch =
    one full-batch step); returns the model at the lowest loss and the history."""
    model = make_model(item_ids, config, config.optimizer, config.learning_rate)
    history = run.fit(model, full_batch(target, config.iterations), validation=None, epochs=config.iterations, name=name,
                      checkpoint="embedding.h5", monitor="loss", verbose=0, callbacks=[StopOnDivergence()])
    return run.best_model(name), history


def sweep_run(run: Run, target: sp.spmatrix, item_ids, config: Config, optimizer: str, learning_rate: float) -> dict:
    """Loss per iteration of one (optimizer, learning rate), kept in sweep/<name>.json, and the final V
    of a run that did not diverge, in sweep/<name>.npy; both re-used when present."""
    path = run.path("sweep", f"{optimizer}_lr{learning_rate:g}.json")
    vectors_path = path.with_suffix(".npy")
    if path.exists():
        result = json.loads(path.read_text())
        return {**result, "vectors": np.load(vectors_path) if result["diverged_at"] is None else None}
    model = make_model(item_ids, config, optimizer, learning_rate)
    stop = StopOnDivergence()
    history = model.fit(full_batch(target, config.sweep_iterations)(), steps_per_epoch=1, epochs=config.sweep_iterations,
                        verbose=0, callbacks=[stop], shuffle=False)
    vectors, _ = embedding_table(model)
    result = {"optimizer": optimizer, "learning_rate": learning_rate, "loss": [float(v) for v in history.history["loss"]],
              "diverged_at": stop.diverged_at}
    if stop.diverged_at is None:
        atomic_write(vectors_path, lambda p: np.save(p, vectors))
    run.write_json(f"sweep/{path.name}", result)
    return {**result, "vectors": vectors if stop.diverged_at is None else None}


def similar_movies(vectors: np.ndarray, row: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cosine similarities) of the k movies most cosine-similar to ``row`` (itself excluded),
    best first, ties to the lower row."""
    distances, rows = ExactIndex(vectors, "cosine").search(vectors[row : row + 1], k, exclude=[row])
    return rows[0], 1 - distances[0]


def movie_row(movies: pd.DataFrame, item_ids: np.ndarray, title: str, threshold: float) -> int:
    """The row of V for a title (see ``resolve_title``); a movie with no likes has none (KeyError)."""
    movie = resolve_title(movies, title)
    rows = np.flatnonzero(item_ids == movie)
    if not len(rows):
        raise KeyError(f"{movies['title'][movie]!r} has no embedding: too few users liked it (rating >= {threshold})")
    return int(rows[0])


def recommend(model: keras.Model, movies: pd.DataFrame, title: str, k: int = 10, threshold: float = 4.0) -> pd.DataFrame:
    """The k movies closest to ``title`` by cosine similarity of the embeddings (itself excluded)."""
    vectors, item_ids = embedding_table(model)
    row = movie_row(movies, item_ids, title, threshold)
    rows, cosine = similar_movies(vectors, row, k)
    return pd.DataFrame({"rank": np.arange(1, k + 1), "title": movies["title"][item_ids[rows]].to_numpy(), "cosine": cosine})


def overlap(a, b) -> float:
    return len(set(a) & set(b)) / len(a)


def run(config: Config) -> Path:
    run = Run(config)
    data = load_movielens(config.data)
    likes = like_matrix(data.ratings, config.threshold, config.min_likes)
    counts = colike_counts(likes.matrix)
    run.record(data_source=data.source, users=len(likes.users), movies_with_likes=len(likes.movies), likes=int(likes.matrix.nnz),
               dropped_out_of_range=data.dropped_out_of_range, dropped_duplicates=data.dropped_duplicates)
    titles = data.movies["title"]

    # 1. the embedding of all likes, for recommendations (and the zoo)
    model, history = train_embedding(run, counts, likes.movies, config, "counts")
    run.save_model(model, "movie_embedding.h5")
    training_curves(history, run.figure("loss_main.png", "Loss of the embedding used for recommendations"),
                    f"c(V), {config.optimizer} lr {config.learning_rate:g}")
    vectors, item_ids = embedding_table(model)
    run.project("movies", vectors, pd.DataFrame({"title": titles[item_ids].to_numpy(),
                                                 "likes": np.asarray(likes.matrix.sum(axis=0)).ravel().astype(int)}))

    # 2. optimizers x learning rates, same seed and initial V
    sweep = {(name, lr): sweep_run(run, counts, likes.movies, config, name, lr) for name, rates in config.sweep.items() for lr in rates}
    for name, rates in config.sweep.items():
        runs = {f"lr {lr:g}": sweep[(name, lr)] for lr in rates}
        loss_curves({label: r["loss"] for label, r in runs.items()}, {label: r["diverged_at"] for label, r in runs.items()},
                    run.figure(f"sweep_{name}.png", f"Loss against iteration: {name}"), f"c(V) per full-batch step: {name}")

    # 3. recommendations for the titles: lists, overlap with popularity, stability across the sweep
    popularity = np.argsort(-np.asarray(likes.matrix.sum(axis=0)).ravel(), kind="stable")
    lists, popularity_overlap, rec_rows, stability = {}, {}, [], []
    for title in config.titles:
        row = movie_row(data.movies, item_ids, title, config.threshold)
        found, _ = similar_movies(vectors, row, config.k)
        popular = [p for p in popularity if p != row][: config.k]
        lists[title] = titles[item_ids[found]].tolist()
        for rank, r in enumerate(found):
            rec_rows.append({"query": titles[item_ids[row]], "rank": rank + 1, "recommendation": titles[item_ids[r]]})
        popularity_overlap[title] = overlap(found, popular)
        stability.extend({"title": titles[item_ids[row]], "optimizer": name, "learning_rate": lr,
                          "overlap": overlap(found, similar_movies(result["vectors"], row, config.k)[0])}
                         for (name, lr), result in sweep.items() if result["vectors"] is not None)
    sweep_table = pd.DataFrame([{"optimizer": name, "learning_rate": lr, "final_loss": r["loss"][-1],
                                 "best_loss": float(np.nanmin(np.asarray(r["loss"], np.float64))),
                                 "diverged_at_iteration": "-" if r["diverged_at"] is None else r["diverged_at"] + 1}
                                for (name, lr), r in sweep.items()])
    stability_table = pd.DataFrame(stability)
    if len(stability_table):
        stability_by_run = stability_table.pivot_table(index=["optimizer", "learning_rate"], columns="title", values="overlap")
        sweep_table = sweep_table.merge(stability_by_run.mean(axis=1).rename("overlap_with_main").reset_index(), how="left")

    # 4. held-out likes: hide a share of each user's likes, fit on the rest, recommend from the rest
    kept, hidden = hold_out_likes(likes.matrix, config.hidden_fraction, config.seed)
    kept_counts = colike_counts(kept)
    targets = {"counts": kept_counts, "log(1 + counts)": kept_counts.log1p(), "PPMI": ppmi(kept_counts)}
    run_names = {"counts": "heldout-counts", "log(1 + counts)": "heldout-logcounts", "PPMI": "heldout-ppmi"}
    recommendations = {}
    for target_name, target in targets.items():
        vectors_kept = embedding_table(train_embedding(run, target, likes.movies, config, run_names[target_name])[0])[0]
        for measure in ("dot", "cosine"):
            recommendations[f"embedding, c(V) on {target_name} ({measure})"] = recommend_for_users(
                kept, similarity_matrix(vectors_kept, measure), config.k)
    recommendations["item-item cosine on X"] = recommend_for_users(kept, similarity_matrix(kept_counts), config.k)
    recommendations["popularity"] = recommend_popular(kept, config.k)
    recall_rows = []
    for name, recommended in recommendations.items():
        recall_rows.append({"method": name, f"recall@{config.k}": held_out_recall_at_k(recommended, hidden, config.k),
                            "distinct_movies_recommended": len(np.unique(recommended))})
    recall_table = pd.DataFrame(recall_rows)

    metrics = {f"heldout/{row['method']}/recall@{config.k}": row[f"recall@{config.k}"] for row in recall_rows}
    metrics["final_loss"] = float(history["loss"].iloc[-1])
    metrics.update({f"popularity_overlap/{title}": value for title, value in popularity_overlap.items()})
    if len(stability_table):
        metrics.update({f"sweep_overlap/{t}": float(v) for t, v in stability_table.groupby("title")["overlap"].mean().items()})
    run.write_json("recommendations.json", lists)
    best = max(recall_rows, key=lambda row: row[f"recall@{config.k}"])
    popularity_row = next(row for row in recall_rows if row["method"] == "popularity")
    run.summarise(f"Run: {'quick mode (movies liked at least ' + str(config.min_likes) + ' times)' if config.quick else 'full run'} "
                  f"on {data.source}: {len(likes.users):,} users, {len(likes.movies):,} movies, {likes.matrix.nnz:,} likes; "
                  f"V ({len(likes.movies):,} x {config.dim}) fitted in {len(history)} full-batch steps, c(V) "
                  f"{history['loss'].iloc[0]:.3g} -> {history['loss'].iloc[-1]:.3g}.")
    run.summarise(f"Held-out likes: the best recommender is {best['method']} with recall@{config.k} = "
                  f"{best[f'recall@{config.k}']:.3f} (a popularity list gets {popularity_row[f'recall@{config.k}']:.3f}): "
                  f"of the likes hidden from each user, that share comes back among their {config.k} recommendations.")
    recommendations = pd.DataFrame(rec_rows).pivot(index="rank", columns="query", values="recommendation")
    run.table(f"Top {config.k} by cosine similarity of the embeddings (the movie itself excluded)", recommendations)
    run.table("Overlap of each list with the popularity list (most-liked movies)", pd.DataFrame({"overlap": popularity_overlap}))
    run.table("Optimizers and learning rates (overlap_with_main: mean share of the three lists that the run reproduces)",
              sweep_table.set_index(["optimizer", "learning_rate"]))
    run.table(f"Held-out likes: recall@{config.k} ({config.hidden_fraction:.0%} of each user's likes hidden, seed {config.seed})",
              recall_table.set_index("method"))
    run.note(f"Data: {data.source}; {len(likes.users):,} users, {len(likes.movies):,} movies liked by at least {config.min_likes} user(s) "
             f"(rating >= {config.threshold:g}), {likes.matrix.nnz:,} likes; X has {counts.nnz:,} non-zero off-diagonal entries. "
             f"V is {len(likes.movies):,} x {config.dim}, trained by {config.optimizer} (lr {config.learning_rate:g}) for "
             f"{config.iterations} full-batch steps; the sweep runs {config.sweep_iterations} steps from the same initial V.")
    run.note("c(V) depends on V only through V V^T, so any rotation V R of a solution is an equally good solution and gives the "
             "same cosine lists; lists still differ across optimizers and learning rates because each run stops at a different "
             "point of a non-convex descent (unfinished runs have fitted fewer directions of X), and because movies with few likes "
             "have rows that the cost barely constrains, so their similarities are set by where the descent left them.")
    run.note("A user's score for a movie is the sum of its similarities to the movies the user liked (movies they liked are "
             "excluded): 'dot' uses v_i . v_j, the model's estimate of the co-like count; 'cosine' only the direction, which for "
             "movies with few likes is barely constrained by c and so mostly noise.")
    return run.finish(metrics)
