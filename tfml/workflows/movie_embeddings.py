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

import keras
import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfml.config import ConfigError, option
from tfml.data.movielens import MovieLens, load_movielens
from tfml.losses.cooccurrence import CoOccurrenceLoss
from tfml.models.embedding_matrix import build_embedding_matrix, embedding_table
from tfml.pipelines import FullBatch
from tfml.pipelines.cooccurrence import Likes, colike_counts, hold_out_likes, like_matrix, ppmi
from tfml.retrieval import (
    held_out_recall_at_k,
    movie_row,
    paired_difference,
    recommend_for_users,
    recommend_popular,
    similar_items,
    similarity_matrix,
)
from tfml.training import Run, StopOnDivergence, StudyConfig, first_divergence, set_seed
from tfml.viz import loss_curves, write_projector

OPTIMIZERS = {
    "sgd": lambda lr: keras.optimizers.SGD(lr),
    "momentum": lambda lr: keras.optimizers.SGD(lr, momentum=0.9),
    "adam": lambda lr: keras.optimizers.Adam(lr),
    "adagrad": lambda lr: keras.optimizers.Adagrad(lr),
}
# learning rates compared per optimizer; each list spans too small, good and too large
SWEEP = {
    "sgd": (1e-6, 1e-5, 1e-4),
    "momentum": (1e-7, 1e-6, 1e-5),
    "adam": (1e-3, 1e-2, 1e-1),
    "adagrad": (1e-2, 1e-1, 1.0),
}


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "movies"
    REPORT_ONLY = ("titles",)
    TITLE = "MovieLens: movie embeddings from co-like counts"
    QUICK = {"min_likes": 20, "iterations": 150, "sweep_iterations": 40}
    data: str = option(
        "small",
        "'small' (embedded ml-latest-small), or a folder with ratings.csv + movies.csv or u.data + u.item",
        metavar="SRC",
    )
    threshold: float = option(4.0, "a rating at least this is a like", low=0.5, high=5)
    min_likes: int = option(1, "movies liked fewer times get no embedding", low=1)
    dim: int = option(32, "embedding size", low=1)
    init_scale: float = option(0.1, "standard deviation of the initial embeddings", above=0)
    optimizer: str = option("adam", "optimizer of the main embedding", choices=tuple(OPTIMIZERS))
    learning_rate: float = option(0.05, "learning rate of the main embedding", above=0)
    iterations: int = option(400, "full-batch steps of the main embedding", low=1)
    sweep_iterations: int = option(150, "full-batch steps of each optimizer / learning-rate run", low=1)
    sweep: dict = option(
        {name: list(rates) for name, rates in SWEEP.items()},
        "optimizers and learning rates compared, as NAME=LR,LR,... (optimizers: sgd, momentum, adam, adagrad)",
        metavar="NAME=LR,...",
    )
    titles: tuple[str, ...] = option(
        ("Apollo 13", "Toy Story", "Home Alone"), "movies to recommend for in the report", metavar="TITLE"
    )
    k: int = option(10, "recommendations per movie and per user (recall@k)", low=1)
    hidden_fraction: float = option(0.2, "share of each user's likes hidden for the held-out recall", above=0, high=0.9)

    def __post_init__(self):
        super().__post_init__()
        if self.data_service:
            raise ConfigError(
                "data_service", "this study fits one full batch held in memory: there is nothing to serve"
            )
        for name, rates in self.sweep.items():
            if name not in OPTIMIZERS:
                raise ConfigError("sweep", f"unknown optimizer {name!r}; choose among {', '.join(OPTIMIZERS)}")
            if not rates or any(not rate > 0 for rate in rates):
                raise ConfigError("sweep", f"{name}: learning rates must be positive numbers, got {rates}")


@dataclasses.dataclass
class Prepared:
    data: MovieLens
    likes: Likes  # the like matrix (users x movies with a like)
    counts: sp.spmatrix  # co-like counts X


@dataclasses.dataclass
class Trained:
    model: keras.Model  # the embedding of all likes, at its lowest loss
    history: pd.DataFrame
    sweep: (
        dict  # (optimizer, learning rate) -> {"loss": [...], "diverged_at": epoch or None, "vectors": final V or None}
    )


def prepare(run: Run) -> Prepared:
    """Read MovieLens; likes (rating >= threshold) and their co-like counts X."""
    config = run.config
    data = load_movielens(config.data)
    likes = like_matrix(data.ratings, config.threshold, config.min_likes)
    for title in config.titles:  # before any training: a mistyped title is an error now, not after the work
        movie_row(data.movies, likes.movies, title, config.threshold)
    run.record(
        data_source=data.source,
        users=len(likes.users),
        movies_with_likes=len(likes.movies),
        likes=int(likes.matrix.nnz),
        dropped_out_of_range=data.dropped_out_of_range,
        dropped_duplicates=data.dropped_duplicates,
    )
    return Prepared(data, likes, colike_counts(likes.matrix))


def train(run: Run, prepared: Prepared) -> Trained:
    """The embedding of all likes (for recommendations and the zoo), then every optimizer x learning
    rate of the sweep from the same initial V."""
    config, likes = run.config, prepared.likes
    model, history = train_embedding(
        run, prepared.counts, likes.movies, config, "counts", "c(V) of the embedding used for recommendations"
    )
    run.save_model(model, "movie_embedding.h5")
    vectors, item_ids = embedding_table(model)
    titles = prepared.data.movies["title"]
    run.save(
        "tensorboard/projector/movies",
        write_projector,
        vectors,
        pd.DataFrame(
            {"title": titles[item_ids].to_numpy(), "likes": np.asarray(likes.matrix.sum(axis=0)).ravel().astype(int)}
        ),
    )
    sweep = {
        (name, lr): sweep_run(run, prepared.counts, likes.movies, config, name, lr)
        for name, rates in config.sweep.items()
        for lr in rates
    }
    for name, rates in config.sweep.items():
        runs = {f"lr {lr:g}": sweep[(name, lr)] for lr in rates}
        loss_curves(
            {label: r["loss"] for label, r in runs.items()},
            {label: r["diverged_at"] for label, r in runs.items()},
            run.figure(f"sweep_{name}.png", f"Loss against iteration: {name}"),
            f"c(V) per full-batch step: {name}",
        )
    return Trained(model, history, sweep)


def make_model(item_ids, config: Config, optimizer: str, learning_rate: float) -> keras.Model:
    set_seed(config.seed)
    model = build_embedding_matrix(item_ids, config.dim, config.init_scale, seed=config.seed)
    model.compile(OPTIMIZERS[optimizer](learning_rate), CoOccurrenceLoss())
    return model


def full_batch(target: sp.spmatrix, epochs: int) -> FullBatch:
    """(all item indices, the dense target matrix) as every step."""
    return FullBatch(np.arange(target.shape[0], dtype=np.int32), target.toarray().astype(np.float32), epochs)


def train_embedding(run: Run, target: sp.spmatrix, item_ids, config: Config, name: str, curves: str | None = None):
    """Fits V to ``target`` with the config's optimizer as training ``name`` (resumable; one epoch =
    one full-batch step); returns the model at the lowest loss and the history."""
    model = make_model(item_ids, config, config.optimizer, config.learning_rate)
    history = run.fit(
        model,
        full_batch(target, config.iterations),
        epochs=config.iterations,
        name=name,
        checkpoint="embedding.h5",
        monitor="loss",
        verbose=0,
        callbacks=[StopOnDivergence()],
        curves=curves,
    )
    return run.best_model(name), history


def sweep_run(run: Run, target: sp.spmatrix, item_ids, config: Config, optimizer: str, learning_rate: float) -> dict:
    """One (optimizer, learning rate) of the sweep as training sweep/<optimizer>-lr<rate> (resumable):
    its loss per iteration, the iteration where it diverged (None) and its final V (None if it diverged)."""
    model = make_model(item_ids, config, optimizer, learning_rate)
    history = run.fit(
        model,
        full_batch(target, config.sweep_iterations),
        epochs=config.sweep_iterations,
        name=f"sweep/{optimizer}-lr{learning_rate:g}",
        checkpoint=None,
        verbose=0,
        callbacks=[StopOnDivergence()],
        curves=None,
        tensorboard=False,
    )
    losses = history["loss"].tolist()
    diverged_at = first_divergence(losses)
    return {
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "loss": losses,
        "diverged_at": diverged_at,
        "vectors": embedding_table(model)[0] if diverged_at is None else None,
    }


def recommendations(run: Run, prepared: Prepared, trained: Trained) -> dict:
    """For each title: its top k by cosine similarity, their overlap with the popularity list and
    with the lists of every sweep run that did not diverge."""
    config, likes = run.config, prepared.likes
    titles = prepared.data.movies["title"]
    vectors, item_ids = embedding_table(trained.model)
    popularity = np.argsort(-np.asarray(likes.matrix.sum(axis=0)).ravel(), kind="stable")
    lists, popularity_overlap, rec_rows, stability = {}, {}, [], []
    for title in config.titles:
        row = movie_row(prepared.data.movies, item_ids, title, config.threshold)
        found, _ = similar_items(vectors, row, config.k)
        lists[title] = titles[item_ids[found]].tolist()
        rec_rows += [
            {"query": titles[item_ids[row]], "rank": rank + 1, "recommendation": titles[item_ids[r]]}
            for rank, r in enumerate(found)
        ]
        popularity_overlap[title] = overlap(found, [p for p in popularity if p != row][: config.k])
        stability.extend(
            {
                "title": titles[item_ids[row]],
                "optimizer": name,
                "learning_rate": lr,
                "overlap": overlap(found, similar_items(result["vectors"], row, config.k)[0]),
            }
            for (name, lr), result in trained.sweep.items()
            if result["vectors"] is not None
        )
    run.write_json("recommendations.json", lists)
    return {"rows": rec_rows, "popularity_overlap": popularity_overlap, "stability": pd.DataFrame(stability)}


@dataclasses.dataclass
class HeldOut:
    table: pd.DataFrame  # recall@k and distinct movies recommended, per method
    per_user: dict  # method -> recall@k of each user (NaN for a user with nothing hidden)


def held_out(run: Run, prepared: Prepared, trained: Trained, recommended: dict) -> HeldOut:
    """Hide a share of each user's likes, fit V on the rest (counts, log counts, PPMI), and measure
    recall@k of the hidden likes against item-item cosine and popularity."""
    config, likes = run.config, prepared.likes
    kept, hidden = hold_out_likes(likes.matrix, config.hidden_fraction, config.seed)
    kept_counts = colike_counts(kept)
    targets = {
        "counts": ("heldout-counts", kept_counts),
        "log(1 + counts)": ("heldout-logcounts", kept_counts.log1p()),
        "PPMI": ("heldout-ppmi", ppmi(kept_counts)),
    }
    lists = {}
    for target_name, (training, target) in targets.items():
        vectors = embedding_table(train_embedding(run, target, likes.movies, config, training)[0])[0]
        for measure in ("dot", "cosine"):
            lists[f"embedding, c(V) on {target_name} ({measure})"] = recommend_for_users(
                kept, similarity_matrix(vectors, measure), config.k
            )
    lists["item-item cosine on X"] = recommend_for_users(kept, similarity_matrix(kept_counts), config.k)
    lists["popularity"] = recommend_popular(kept, config.k)
    per_user = {name: held_out_recall_at_k(found, hidden, config.k, per_user=True) for name, found in lists.items()}
    table = pd.DataFrame(
        [
            {
                "method": name,
                f"recall@{config.k}": float(np.nanmean(per_user[name])),
                "distinct_movies_recommended": len(np.unique(found)),
            }
            for name, found in lists.items()
        ]
    ).set_index("method")
    return HeldOut(table, per_user)


def report(run: Run, prepared: Prepared, trained: Trained, recommended: dict, heldout: HeldOut) -> None:
    """Tables, metrics and what the numbers say."""
    config, likes, history, recall = run.config, prepared.likes, trained.history, heldout.table
    metric = f"recall@{config.k}"
    run.add_metrics({f"heldout/{method}/{metric}": value for method, value in recall[metric].items()})
    run.add_metrics({"final_loss": history["loss"].iloc[-1]})
    run.add_metrics(
        {f"popularity_overlap/{title}": value for title, value in recommended["popularity_overlap"].items()}
    )
    stability = recommended["stability"]
    if len(stability):
        run.add_metrics({f"sweep_overlap/{t}": v for t, v in stability.groupby("title")["overlap"].mean().items()})
    best = recall[metric].idxmax()
    run.summarise(
        f"{'Movies liked at least ' + str(config.min_likes) + ' times; ' if config.min_likes > 1 else ''}"
        f"{len(likes.users):,} users, {len(likes.movies):,} movies, {likes.matrix.nnz:,} likes; V "
        f"({len(likes.movies):,} x {config.dim}) fitted in {len(history)} full-batch steps, c(V) "
        f"{history['loss'].iloc[0]:.3g} -> {history['loss'].iloc[-1]:.3g}."
    )
    run.summarise(
        f"Held-out likes: {best} has the highest {metric}, {recall.loc[best, metric]:.3f} (a popularity list gets "
        f"{recall.loc['popularity', metric]:.3f}): of the likes hidden from each user, that share comes back among "
        f"their {config.k} recommendations."
    )
    run.finding(against_simple_recommenders(heldout, best, metric, config.seed))
    run.table(
        f"Top {config.k} by cosine similarity of the embeddings (the movie itself excluded)",
        pd.DataFrame(recommended["rows"]).pivot(index="rank", columns="query", values="recommendation"),
    )
    run.table(
        "Overlap of each list with the popularity list (most-liked movies)",
        pd.DataFrame({"overlap": recommended["popularity_overlap"]}),
    )
    run.table(
        "Optimizers and learning rates (overlap_with_main: mean share of the three lists that the run reproduces)",
        sweep_table(trained.sweep, stability),
    )
    run.table(
        f"Held-out likes: {metric} ({config.hidden_fraction:.0%} of each user's likes hidden, seed {config.seed})",
        recall,
    )
    notes(run, prepared, len(history))


def against_simple_recommenders(heldout: HeldOut, best: str, metric: str, seed: int) -> str:
    """The best recommender against item-item cosine and popularity: paired intervals over users."""
    others = [method for method in ("item-item cosine on X", "popularity") if method != best]
    return (
        "Do the embeddings recommend better than the simple recommenders? "
        + "; ".join(
            paired_difference(heldout.per_user[best], heldout.per_user[other], seed=seed).sentence(best, other, metric)
            for other in others
        )
        + " (paired over users)."
    )


def sweep_table(sweep: dict, stability: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame(
        [
            {
                "optimizer": name,
                "learning_rate": lr,
                "final_loss": r["loss"][-1],
                "best_loss": float(np.nanmin(np.asarray(r["loss"], np.float64))),
                "diverged_at_iteration": "-" if r["diverged_at"] is None else r["diverged_at"] + 1,
            }
            for (name, lr), r in sweep.items()
        ]
    )
    if len(stability):
        by_run = stability.pivot_table(index=["optimizer", "learning_rate"], columns="title", values="overlap")
        table = table.merge(by_run.mean(axis=1).rename("overlap_with_main").reset_index(), how="left")
    return table.set_index(["optimizer", "learning_rate"])


def notes(run: Run, prepared: Prepared, steps: int) -> None:
    config, likes = run.config, prepared.likes
    run.note(
        f"Data: {prepared.data.source}; {len(likes.users):,} users, {len(likes.movies):,} movies liked by at least "
        f"{config.min_likes} user(s) (rating >= {config.threshold:g}), {likes.matrix.nnz:,} likes; X has "
        f"{prepared.counts.nnz:,} non-zero off-diagonal entries. V is {len(likes.movies):,} x {config.dim}, trained by "
        f"{config.optimizer} (lr {config.learning_rate:g}) for {steps} full-batch steps; the sweep runs "
        f"{config.sweep_iterations} steps from the same initial V."
    )
    run.note(
        "c(V) depends on V only through V V^T, so any rotation V R of a solution is an equally good solution and gives "
        "the same cosine lists; lists still differ across optimizers and learning rates because each run stops at a "
        "different point of a non-convex descent (unfinished runs have fitted fewer directions of X), and because "
        "movies with few likes have rows that the cost barely constrains, so their similarities are set by where the "
        "descent left them."
    )
    run.note(
        "A user's score for a movie is the sum of its similarities to the movies the user liked (movies they liked are "
        "excluded): 'dot' uses v_i . v_j, the model's estimate of the co-like count; 'cosine' only the direction, "
        "which for movies with few likes is barely constrained by c and so mostly noise."
    )


def overlap(a, b) -> float:
    return len(set(a) & set(b)) / len(a)


STEPS = (prepare, train, recommendations, held_out, report)
