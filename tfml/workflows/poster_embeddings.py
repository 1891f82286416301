"""Study 3: graded multi-label metric learning on movie posters (genre Jaccard, log-ratio loss, nDCG).

Two movies are as similar as the Jaccard index J of their genre sets. From the poster alone, a
triplet network learns an embedding whose distances follow the label distance 1 - J, trained with
the log-ratio loss of Kim et al. (CVPR 2019) on triplets built from random batches of training
movies (the most and least similar of each anchor's batch, ``tfml.pipelines.jaccard_triplets``).
It is judged by nDCG@10 of poster retrieval among the test movies (gain = Jaccard index) against
the binary triplet margin loss on the same triplets, the untrained network, a colour histogram and
random ranking, with 95% bootstrap intervals over queries and paired intervals of the differences
(each trained model against the untrained network: did training help?); the poster network starts
from scratch and from a zoo backbone at the same budget. Two batch losses read the genres as
multi-hot labels compared by their Jaccard index (``tfml.losses.JaccardLabels``): multi-label
SupCon (positives J >= 0.5 weighted by J, negatives J = 0) and MultiSimilarity with its miner on
the same positives and negatives, on random batches of as many posters per step as the triplet
trainings see. Checkpoints are chosen by validation nDCG@10.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tfml import zoo
from tfml.config import option
from tfml.data.posters import Movies, load_movies, split_movies
from tfml.losses import (
    JaccardLabels,
    LogRatioLoss,
    MultiSimilarityLoss,
    MultiSimilarityMiner,
    SupConLoss,
    TripletMarginLoss,
)
from tfml.models import ColourHistogram, build_embedding_net, build_siamese, channel_statistics, load_backbone
from tfml.pipelines import labelled_batches
from tfml.pipelines.jaccard import jaccard, jaccard_triplets
from tfml.pipelines.pixels import unit_float_array
from tfml.retrieval import (
    ExactIndex,
    GradedRelevance,
    bootstrap_interval,
    evaluate_retrieval,
    jaccard_relevance,
    paired_difference,
)
from tfml.training import EpochMetrics, Run, StudyConfig, set_seed
from tfml.viz import (
    grouped_bars,
    highlight_grid,
    image_table,
    line_plot,
    matrix_heatmap,
    project_2d,
    scatter_xy,
    write_projector,
)

TOP_K = 10


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "posters"
    TITLE = "Movie posters: graded metric learning with the log-ratio loss, judged by nDCG"
    QUICK = {"epochs": 2, "triplet_batches": 24}  # about 90 s on 2 idle cores
    data: str = option(
        "../shared/data/ml100k-posters", "folder of movies: ML-100K posters, MM-IMDB or plain layout", metavar="SRC"
    )
    image_size: tuple[int, int] = option((96, 64), "posters are resized to H W", low=16, metavar=("H", "W"))
    dim: int = option(32, "embedding size", low=2)
    triplet_batches: int = option(200, "m: batches of training movies drawn per epoch", low=1)
    batch_movies: int = option(32, "b: movies per batch (anchors, positives and negatives come from one batch)", low=3)
    anchors_per_batch: int = option(16, "n: anchors drawn per batch, one triplet each", low=1)
    triplets_per_step: int = option(32, "triplets per training step", low=1)
    epochs: int = option(10, "epochs (each with new triplets)", low=1)
    learning_rate: float = option(1e-3, "Adam learning rate", above=0)
    label_floor: float = option(0.1, "log-ratio loss: label distances below this count as it", above=0, high=1)
    embedding_distance: str = option(
        "euclidean",
        "log-ratio loss: embedding distance, sqrt(|u-v|^2 + eps) (official code) or |u-v|^2 + eps (the paper's text)",
        choices=("euclidean", "sqeuclidean"),
    )
    margin: float = option(0.2, "margin of the binary triplet baseline", above=0)
    padding: int = option(0, "posters shifted by up to this many pixels while training (pad and crop)", low=0)
    flip: bool = option(False, "posters flipped left-right at random while training")
    backbone: str = option(
        "resnet18-tt100k-backbone",
        "poster network compared with the scratch one: a ResNet-18 backbone (zoo name or .h5), or 'none'",
        metavar="MODEL",
    )
    validation_share: float = option(
        1 / 3, "share of the movies outside train.txt that pick checkpoints (the rest test)", above=0, high=0.9
    )
    figure_queries: int = option(6, "queries shown with their nearest posters", low=1)
    bootstrap: int = option(2000, "bootstrap resamples of the test queries for 95% intervals", low=100)


@dataclasses.dataclass
class Prepared:
    movies: Movies
    train: np.ndarray  # rows of the train.txt movies
    validation: np.ndarray  # rows that pick checkpoints
    test: np.ndarray  # rows that are scored
    standardize: tuple  # per-channel mean and variance of the training posters


@dataclasses.dataclass
class Evaluation:
    table: pd.DataFrame  # nDCG@10 with intervals per embedding
    distance_at_k: dict  # embedding -> mean label distance of the K nearest, K = 1..10
    neighbours: dict  # embedding -> (test queries, 10) nearest test rows
    embeddings: dict  # embedding -> test vectors
    share_zero: float  # share of the builder's triplets whose positive has label distance 0
    correlation: float  # validation triplets: Pearson r of log label ratio and log embedding ratio
    per_query: dict  # embedding -> nDCG@10 of each test query (NaN where it cannot be scored)


# table row -> (training name, loss); the triplet losses train a siamese network on the builder's
# triplets, the others the poster network on random batches with the genres as multi-hot labels
TRAININGS = {
    "log-ratio": ("log-ratio", "log-ratio"),
    "binary triplet": ("binary-triplet", "binary"),
    "multi-label SupCon": ("supcon-jaccard", "supcon"),
    "MultiSimilarity, Jaccard positives": ("multi-similarity-jaccard", "multi-similarity"),
}
TRIPLET_LOSSES = ("log-ratio", "binary")
JACCARD_POSITIVES = 0.5  # a positive shares at least half of the two movies' genres; a negative none


def prepare(run: Run) -> Prepared:
    """Load the movies with a poster and a genre; split train.txt / validation / test."""
    config = run.config
    movies = load_movies(config.data, tuple(config.image_size), need_overview=False, need_genres=True)
    train, validation, test = split_movies(movies, config.validation_share, config.seed)
    run.record(
        data_source=movies.source,
        movies=len(movies),
        train=len(train),
        validation=len(validation),
        test=len(test),
        dropped=movies.dropped,
        identical_posters=len(movies.identical_posters),
    )
    return Prepared(movies, train, validation, test, channel_statistics(movies.posters[train]))


def describe_data(run: Run, prepared: Prepared) -> float:
    """Genres per split, their co-occurrence and example triplets of the builder; returns the share
    of triplets whose positive has the anchor's very genres (label distance 0)."""
    config, movies, train = run.config, prepared.movies, prepared.train
    splits = {"train": train, "validation": prepared.validation, "test": prepared.test}
    grouped_bars(
        pd.DataFrame(
            {split: movies.genres[rows].mean(axis=0) for split, rows in splits.items()}, index=movies.genre_names
        ),
        run.figure("genre_frequency.png", "Genre frequency per split"),
        "share of the movies with each genre",
        "share",
    )
    matrix_heatmap(
        movies.genres.T.astype(int) @ movies.genres.astype(int),
        movies.genre_names,
        run.figure("genre_cooccurrence.png", "Genre co-occurrence (all movies; the diagonal counts each genre)"),
        "movies with both genres",
        label="movies",
    )
    anchor, positive, negative, d_ap, d_an = jaccard_triplets(
        movies.genres[train],
        config.triplet_batches,
        config.batch_movies,
        config.anchors_per_batch,
        seed=(config.seed, 0),
    )
    rows = [
        [
            (movies.posters[train[a]], f"anchor\n{genre_text(movies, train[a])}", "blue"),
            (movies.posters[train[p]], f"positive, 1 - J = {dp:.2f}\n{genre_text(movies, train[p])}", "green"),
            (movies.posters[train[n]], f"negative, 1 - J = {dn:.2f}\n{genre_text(movies, train[n])}", "red"),
        ]
        for a, p, n, dp, dn in list(zip(anchor, positive, negative, d_ap, d_an))[:4]
    ]
    image_table(
        rows,
        run.figure("triplet_examples.png", "Triplets of the builder (label distance 1 - Jaccard)"),
        "the first triplets of epoch 0: the most and the least similar movie of each anchor's batch",
    )
    return float(np.mean(d_ap == 0))


def train(run: Run, prepared: Prepared, share_zero: float) -> dict[str, keras.Model]:
    """The networks of TRAININGS from scratch, and the log-ratio network
    on a zoo backbone, each checkpoint picked by validation nDCG@10."""
    config = run.config
    models = {label: train_model(run, name, prepared, None, loss) for label, (name, loss) in TRAININGS.items()}
    if config.backbone != "none":
        models[f"log-ratio, backbone {Path(config.backbone).stem}"] = train_model(
            run, "log-ratio-backbone", prepared, config.backbone, "log-ratio"
        )
    run.save_model(models["log-ratio"], "poster_embedding.h5")
    return models


def train_model(run: Run, name: str, prepared: Prepared, backbone: str | None, loss: str) -> keras.Model:
    """Trains one poster network (training ``name``, loss ``loss`` of TRAININGS); returns it at the
    best epoch."""
    config, movies = run.config, prepared.movies
    triplets = loss in TRIPLET_LOSSES
    set_seed(config.seed)
    with run.scope():
        network = poster_network(config, prepared.standardize, backbone)
        model = build_siamese(network, 3) if triplets else network
        model.compile(keras.optimizers.Adam(config.learning_rate), training_loss(config, loss))
    genres = movies.genres[prepared.train]
    order, per_step = (  # a triplet is 3 posters: the batch losses see as many posters per step
        (epoch_triplets(genres, config, loss == "binary"), config.triplets_per_step)
        if triplets
        else (epoch_movies(genres, config), 3 * config.triplets_per_step)
    )
    stream = labelled_batches(
        movies.posters[prepared.train],
        order,
        per_step,
        config.epochs,
        config.seed,
        padding=config.padding,
        flip=config.flip,
    )
    measure = ndcg_metrics(movies.posters[prepared.validation], movies.genres[prepared.validation])
    embedding_net = (lambda m: m.get_layer("shared").layer) if triplets else (lambda m: m)  # what retrieves
    run.fit(
        model,
        stream,
        epochs=config.epochs,
        name=name,
        monitor=f"val_ndcg_at_{TOP_K}",
        mode="max",
        callbacks=[EpochMetrics(lambda trained: measure(embedding_net(trained)))],
        curves=f"{name}: loss and validation nDCG@10",
    )
    best = embedding_net(run.best_model(name))
    run.save_model(best, f"runs/{name}/embedding_net.h5")
    return best


def training_loss(config: Config, loss: str) -> keras.losses.Loss:
    if loss == "log-ratio":
        return LogRatioLoss(config.label_floor, distance=config.embedding_distance)
    if loss == "binary":
        return TripletMarginLoss(config.margin)
    genres = JaccardLabels(JACCARD_POSITIVES, negative_at=0.0, graded=loss == "supcon")
    if loss == "supcon":
        return SupConLoss(label_comparison=genres)
    return MultiSimilarityLoss(miner=MultiSimilarityMiner(), label_comparison=genres)


def epoch_movies(genres: np.ndarray, config: Config):
    """order(epoch) -> (training movies, their multi-hot genres) of the epoch: seeded permutations,
    as many posters as the triplet trainings see (3 per triplet)."""
    count = 3 * config.triplet_batches * config.anchors_per_batch

    def order(epoch):
        rng = np.random.default_rng([config.seed, epoch])
        rows = np.concatenate([rng.permutation(len(genres)) for _ in range(-(-count // len(genres)))])[:count]
        return rows, genres[rows].astype(np.float32)

    return order


def evaluate(run: Run, prepared: Prepared, share_zero: float, models: dict[str, keras.Model]) -> Evaluation:
    """nDCG@10 of every embedding on the test movies (with baselines), and how the log-ratio
    network's embedding ratios follow the label ratios on validation triplets."""
    config, movies, test = run.config, prepared.movies, prepared.test
    set_seed(config.seed)
    untrained = poster_network(config, prepared.standardize, None)
    correlation = ratio_scatter(run, prepared, models["log-ratio"])
    posters = movies.posters[test]
    embeddings = {name: model.predict(posters, verbose=0) for name, model in models.items()}
    embeddings["untrained network"] = untrained.predict(posters, verbose=0)
    embeddings["colour histogram"] = colour_histograms(posters)
    embeddings["random ranking"] = (
        np.random.default_rng(config.seed).normal(size=(len(test), config.dim)).astype(np.float32)
    )
    table, distance_at_k, neighbours, per_query = retrieval_rows(embeddings, movies.genres[test], config)
    return Evaluation(table, distance_at_k, neighbours, embeddings, share_zero, correlation, per_query)


def ratio_scatter(run: Run, prepared: Prepared, model: keras.Model) -> float:
    """Validation triplets: log embedding ratio against log label ratio (scatter and examples);
    returns their Pearson correlation."""
    config, movies, validation = run.config, prepared.movies, prepared.validation
    batch = min(config.batch_movies, len(validation))
    triplets = jaccard_triplets(
        movies.genres[validation], 20, batch, config.anchors_per_batch, seed=(config.seed, 10_000)
    )
    anchor, positive, negative, d_ap, d_an = triplets
    vectors = model.predict(movies.posters[validation], verbose=0)
    e_ap = np.linalg.norm(vectors[anchor] - vectors[positive], axis=1)
    e_an = np.linalg.norm(vectors[anchor] - vectors[negative], axis=1)
    floor = config.label_floor
    label_ratio = np.log(np.maximum(d_ap, floor) / np.maximum(d_an, floor))
    embedding_ratio = np.log(np.maximum(e_ap, 1e-6) / np.maximum(e_an, 1e-6))
    scatter_xy(
        label_ratio,
        embedding_ratio,
        run.figure(
            "log_ratio_scatter.png",
            "Validation triplets: log embedding ratio against log label ratio (log-ratio model)",
        ),
        "validation triplets of the log-ratio model",
        f"log max(1-J(a,p), {floor:g}) / max(1-J(a,n), {floor:g})",
        "log |f_a - f_p| / |f_a - f_n|",
        diagonal=True,
    )
    rows = [
        [
            (movies.posters[a], f"anchor\n{genre_text(movies, a)}", "blue"),
            (movies.posters[p], f"1-J {d_ap[t]:.2f}, |f| {e_ap[t]:.2f}\n{genre_text(movies, p)}", "green"),
            (movies.posters[n], f"1-J {d_an[t]:.2f}, |f| {e_an[t]:.2f}\n{genre_text(movies, n)}", "red"),
        ]
        for t, (a, p, n) in enumerate(zip(validation[anchor[:4]], validation[positive[:4]], validation[negative[:4]]))
    ]
    image_table(
        rows,
        run.figure("validation_triplets.png", "Validation triplets: label distance (1-J) and embedding distance (|f|)"),
        "validation triplets, log-ratio model",
    )
    return float(np.corrcoef(label_ratio, embedding_ratio)[0, 1])


def figures(run: Run, prepared: Prepared, models: dict, evaluation: Evaluation) -> None:
    """Label distance at K, the nearest test posters of each trained network, t-SNE per genre, projector export."""
    config, movies, test = run.config, prepared.movies, prepared.test
    line_plot(
        range(1, TOP_K + 1),
        evaluation.distance_at_k,
        run.figure("label_distance_at_k.png", "Mean label distance (1 - Jaccard) of the K nearest"),
        "test queries: mean label distance of the K nearest posters",
        "K",
        "mean 1 - J",
    )
    queries = np.random.default_rng(config.seed).choice(len(test), min(config.figure_queries, len(test)), replace=False)
    for name in models:
        neighbour_figure(run, prepared, name, evaluation.neighbours[name], queries)
    genres = movies.genres[test]
    points = project_2d(evaluation.embeddings["log-ratio"], "tsne", seed=config.seed)
    highlight_grid(
        points,
        {g: genres[:, i].astype(bool) for i, g in enumerate(movies.genre_names) if genres[:, i].any()},
        run.figure("tsne_by_genre.png", "t-SNE of the test embeddings (log-ratio), one panel per genre"),
        f"t-SNE of the {len(test)} test posters' embeddings: where each genre's movies fall",
    )
    run.save(
        "tensorboard/projector/test_posters",
        write_projector,
        evaluation.embeddings["log-ratio"],
        pd.DataFrame({"title": [movies.titles[i] for i in test], "genres": [genre_text(movies, i) for i in test]}),
        movies.posters[test],
        thumbnail=(48, 32),
    )


def neighbour_figure(run: Run, prepared: Prepared, name: str, neighbours: np.ndarray, queries: np.ndarray) -> None:
    """The 10 nearest test posters of a few test queries, each with its Jaccard index to the query."""
    movies, test = prepared.movies, prepared.test
    rows = []
    for q in queries:
        query = test[q]
        cells = [(movies.posters[query], f"query: {movies.titles[query][:22]}\n{genre_text(movies, query)}", "blue")]
        for j in neighbours[q]:
            gain = jaccard(movies.genres[query : query + 1], movies.genres[test[j] : test[j] + 1])[0, 0]
            cells.append(
                (
                    movies.posters[test[j]],
                    f"J={gain:.2f}\n{genre_text(movies, test[j])}",
                    "green" if gain > 0 else "red",
                )
            )
        rows.append(cells)
    slug = name.replace(", backbone ", " backbone ").replace(" ", "-")
    image_table(
        rows,
        run.figure(f"neighbours_{slug}.png", f"Nearest test posters: {name}"),
        f"{name}: the 10 nearest test posters (J = Jaccard index of the genres with the query's)",
        cell=(1.05, 1.75),
    )


def report(run: Run, prepared: Prepared, share_zero: float, models: dict, evaluation: Evaluation) -> None:
    """Figures, the test table, metrics and what the numbers say."""
    config, movies, table = run.config, prepared.movies, evaluation.table
    figures(run, prepared, models, evaluation)
    run.table(
        "Test retrieval (gallery: the test movies, query excluded); 95% bootstrap intervals of nDCG@10 over queries",
        table,
        metrics="{index}/{column}",
    )
    run.add_metrics(
        {"share_positive_label_distance_zero": share_zero, "validation_log_ratio_correlation": evaluation.correlation}
    )
    ours, binary = table.loc["log-ratio"], table.loc["binary triplet"]
    test = prepared.test
    run.summarise(
        f"{len(movies):,} movies with a poster and a genre ({len(prepared.train)} train from train.txt, "
        f"{len(prepared.validation)} validation, {len(test)} test; {sum(movies.dropped.values())} dropped: "
        + ", ".join(f"{v} {k}" for k, v in movies.dropped.items() if v)
        + f"); {config.epochs} epochs of {config.triplet_batches * config.anchors_per_batch:,} triplets per model. "
        f"Every test poster queries the other {len(test) - 1}; nDCG@10 is 1 when its 10 nearest are the movies whose "
        "genres are closest to its own, in that order (gain = Jaccard index of the genre sets)."
    )
    run.summarise(
        f"nDCG@10: log-ratio {ours['nDCG@10']:.3f} [{ours['95% low']:.3f}, {ours['95% high']:.3f}], binary triplet "
        f"{binary['nDCG@10']:.3f} [{binary['95% low']:.3f}, {binary['95% high']:.3f}], random ranking "
        f"{table.loc['random ranking', 'nDCG@10']:.3f}."
    )
    difference = paired_difference(
        evaluation.per_query["log-ratio"],
        evaluation.per_query["binary triplet"],
        resamples=config.bootstrap,
        seed=config.seed,
    )
    run.finding(difference.sentence("The log-ratio model", "the binary triplet model", "nDCG@10") + ".")
    for finding in training_findings(run, list(models), evaluation.per_query):
        run.finding(finding)
    identical = {a for pair in movies.identical_posters for a in pair}
    run.note(
        f"{share_zero:.0%} of the builder's triplets have an anchor and a positive with identical genre sets (label "
        f"distance 0); the log-ratio loss floors label distances at {config.label_floor:g} (the official code's +1e-6 "
        "would make log = -13.8). On validation triplets the log embedding ratio follows the log label ratio with "
        f"Pearson r = {evaluation.correlation:.2f}. {len(movies.identical_posters)} poster files are byte-identical to "
        "another movie's (ML-100K lists some films twice); they are kept as separate movies "
        f"({len(identical & set(movies.ids[i] for i in test))} of them in the test split, where such a pair finds each "
        "other first). Movies with only ML-100K's 'unknown' genre have no genre and are dropped."
    )


def training_findings(run: Run, trained: list[str], per_query: dict[str, np.ndarray]) -> list[str]:
    """Did training help (each trained network against the untrained one, paired over the test
    queries), and which loss helps most (the best trained network against the runner-up); the
    differences go into the metrics as "<name> - untrained network/..."."""
    config = run.config
    compare = lambda a, b: paired_difference(per_query[a], per_query[b], resamples=config.bootstrap, seed=config.seed)  # noqa: E731
    against_untrained = {name: compare(name, "untrained network") for name in trained}
    run.add_metrics(
        {
            f"{name} - untrained network/nDCG@10 {part}": getattr(difference, part)
            for name, difference in against_untrained.items()
            for part in ("mean", "low", "high")
        }
    )
    helped = [name for name, difference in against_untrained.items() if difference.low > 0]
    findings = [
        "Did training help? "
        + "; ".join(
            difference.sentence(f"the {name} network", "the untrained network", "nDCG@10")
            for name, difference in against_untrained.items()
        )
        + f". {len(helped)} of {len(trained)} trained networks are ahead of the untrained one with a paired 95% "
        "interval above 0."
    ]
    ranked = sorted(trained, key=lambda name: np.nanmean(per_query[name]), reverse=True)
    if len(ranked) > 1:
        findings.append(
            "Which loss helps most? "
            + compare(ranked[0], ranked[1]).sentence(
                f"The best, {ranked[0]},", f"the runner-up, {ranked[1]}", "nDCG@10"
            )
            + "."
        )
    return findings


def poster_network(config: Config, standardize, backbone: str | None) -> keras.Model:
    """The embedding network: the reference CNN from scratch, or a ResNet-18 backbone + Dense, L2-normalised."""
    shape = (*config.image_size, 3)
    if backbone is None:
        return build_embedding_net(shape, config.dim, network="reference", standardize=standardize, name="poster_net")
    features = load_backbone(str(zoo.resolve(backbone)), shape)
    inputs = keras.Input(shape, dtype="uint8", name="image")
    x = keras.layers.Dense(config.dim, name="embedding")(features(inputs))
    return keras.Model(inputs, keras.layers.UnitNormalization(name="l2_normalize")(x), name="poster_net")


def epoch_triplets(genres: np.ndarray, config: Config, binary: bool):
    """order(epoch) -> (triplets (count, 3), label distances (count, 2)) of the epoch's triplets
    (seeded by (seed, epoch)), always ``count`` = m n of them: the binary baseline leaves out
    triplets with J(a, p) = J(a, n) and repeats its others to the same budget."""
    count = config.triplet_batches * config.anchors_per_batch

    def order(epoch):
        anchor, positive, negative, d_ap, d_an = jaccard_triplets(
            genres, config.triplet_batches, config.batch_movies, config.anchors_per_batch, seed=(config.seed, epoch)
        )
        keep = d_ap != d_an if binary else np.ones(len(anchor), bool)
        if not keep.any():
            raise ValueError(
                "no triplet has J(anchor, positive) > J(anchor, negative): the binary loss has nothing to learn"
            )
        rows = np.resize(np.flatnonzero(keep), count)
        return np.stack([anchor, positive, negative], 1)[rows], np.stack([d_ap, d_an], 1)[rows]

    return order


def ndcg_metrics(images: np.ndarray, genres: np.ndarray, k: int = TOP_K):
    """Per-epoch checkpoint figure: nDCG@k of leave-one-out poster retrieval among the validation movies."""
    relevance = jaccard_relevance(genres, genres)

    def measure(model):
        vectors = model.predict(images, verbose=0)
        result = evaluate_retrieval(
            ExactIndex(vectors), vectors, relevance, [f"ndcg@{k}"], exclude=np.arange(len(images))
        )
        return {f"val_ndcg_at_{k}": result.metrics[f"ndcg@{k}"]}

    return measure


def colour_histograms(images: np.ndarray, bins: int = 4) -> np.ndarray:
    """Joint RGB histograms (bins^3 cells, ``ColourHistogram``), each summing to 1: a baseline embedding."""
    return ColourHistogram(bins)(unit_float_array(images)).numpy()


def retrieval_rows(embeddings: dict[str, np.ndarray], genres: np.ndarray, config: Config):
    """nDCG@10 (Jaccard gain and the paper's 1 / (1 + d)), mean label distance of the top K, with 95%
    bootstrap intervals, for every embedding of the test movies (gallery: the test movies, the query
    excluded). Returns (table, mean label distance at K = 1..10 per embedding, neighbours, per-query
    nDCG@10 per embedding)."""
    jaccard_gain = jaccard_relevance(genres, genres)
    paper_gain = GradedRelevance(lambda rows: 1.0 / (1.0 + (1.0 - jaccard(genres[rows], genres))), len(genres))
    exclude = np.arange(len(genres))
    rows, distance_at_k, neighbours, per_query = [], {}, {}, {}
    for name, vectors in embeddings.items():
        result = evaluate_retrieval(
            ExactIndex(vectors),
            vectors,
            jaccard_gain,
            [f"ndcg@{TOP_K}"] + [f"mean_gain@{k}" for k in range(1, TOP_K + 1)],
            exclude=exclude,
        )
        paper = evaluate_retrieval(ExactIndex(vectors), vectors, paper_gain, [f"ndcg@{TOP_K}"], exclude=exclude)
        low, high = bootstrap_interval(result.per_query[f"ndcg@{TOP_K}"], resamples=config.bootstrap, seed=config.seed)
        rows.append(
            {
                "embedding": name,
                "nDCG@10": result.metrics[f"ndcg@{TOP_K}"],
                "95% low": low,
                "95% high": high,
                "queries scored": len(genres) - result.skipped[f"ndcg@{TOP_K}"],
                "nDCG@10 (gain 1/(1+d))": paper.metrics[f"ndcg@{TOP_K}"],
                "mean label distance of top 10": 1 - result.metrics[f"mean_gain@{TOP_K}"],
            }
        )
        distance_at_k[name] = [1 - result.metrics[f"mean_gain@{k}"] for k in range(1, TOP_K + 1)]
        neighbours[name] = result.indices[:, :TOP_K]
        per_query[name] = result.per_query[f"ndcg@{TOP_K}"]
    return pd.DataFrame(rows).set_index("embedding"), distance_at_k, neighbours, per_query


def genre_text(movies, row: int) -> str:
    return ", ".join(movies.genre_list(row)) or "-"


STEPS = (prepare, describe_data, train, evaluate, report)
