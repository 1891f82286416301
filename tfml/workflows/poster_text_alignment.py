"""Study 4: a CLIP-style dual-tower aligner of movie posters and plot synopses.

For N movies with a poster and a synopsis, D[i, j] is the distance (1 - cosine) between poster i's
embedding and synopsis j's; a dual-tower model is trained with the symmetric InfoNCE loss and a
learned temperature so that each poster is closest to its own synopsis and each synopsis to its own
poster. The protocol is fixed: training uses the movies of train.txt only (a seeded tenth of them
held out to pick the checkpoint), every text statistic (vocabulary, IDF) comes from the training
synopses, and evaluation runs on all N movies and, separately, on those never trained on. Scores:
top-ratio accuracy both ways at ratio 0.5 (the prescribed score) and 0.05, R@1/5/10, median and mean
rank of the true match. The ablation crosses text towers (TF-IDF + MLP; token embeddings + mean
pooling; IDF-weighted GloVe + MLP; TF-IDF and GloVe side by side) with poster towers (from scratch;
colour histograms + a linear layer; a zoo backbone or embedding net) and losses (symmetric InfoNCE;
SigLIP's sigmoid loss with a learned bias; multi-label SupCon both ways, whose positives are a
movie's own synopsis (weight 1) and those of movies whose genres overlap its own by a Jaccard index
J >= ``genre_positive_at`` (weight J): a label comparison on the pairs; "genres": each tower learns
to predict the genres, every training movie teaching both, and the towers meet in the space of
predicted genre profiles, ``tfml.models.aligner``'s label-profile aligner). With two rows or more,
their committee is one more row: the mean of every row's cosine. The report leads with the movies
never trained on, the figure that says whether the aligner generalises (on all N, the 893 training
pairs can be memorised); checkpoints and the aligner are chosen by the validation figure, the mean
rank of the true match among the validation movies (both directions; it is the area above the
top-ratio accuracy curve, so it weighs every ratio, and it is steadier on 99 pairs than the accuracy
at one ratio), never by a test figure: the committee, unless a row's validation ranks are lower than
the committee's with a paired 95% interval that excludes 0. Rows are compared by paired bootstrap
intervals over the same never-trained movies.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tfml import zoo
from tfml.config import option
from tfml.data.posters import Movies, load_movies
from tfml.data.word_vectors import glove_vectors, require_glove
from tfml.losses import ClipLoss, JaccardLabels, SigLipLoss, SupConLoss, SymmetricLoss
from tfml.models import build_embedding_net, build_histogram_net, channel_statistics, load_backbone
from tfml.models.aligner import (
    OBJECTIVES,
    build_aligner,
    build_label_predictor,
    ensemble_aligner,
    label_profile_aligner,
    paired_label_crossentropy,
)
from tfml.models.text import build_text_tower, build_vocabulary
from tfml.pipelines import BatchStream, seeded_permutation
from tfml.pipelines.augmentation import augment
from tfml.pipelines.distortions import distortion_key
from tfml.pipelines.jaccard import jaccard
from tfml.retrieval import match_ranks, paired_difference, top_ratio_accuracy
from tfml.training import EpochMetrics, Run, StudyConfig, set_seed
from tfml.viz import image_table, rank_histograms, texts_beside_images

TEXT_TOWERS = ("tfidf", "mean", "bilstm", "glove", "tfidf-glove")
LOSSES = (*OBJECTIVES, "genres")  # "genres": a label-profile aligner (tfml.models.aligner)
COMMITTEE = "committee"  # the row of every other row's mean cosine


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "align"
    TITLE = "Poster / synopsis alignment: a CLIP-style dual-tower model"
    QUICK = {"epochs": 2, "text_towers": ("tfidf",), "poster_towers": ("scratch",), "objectives": ("clip", "siglip")}
    data: str = option(
        "../shared/data/ml100k-posters", "folder of movies with posters, synopses and train.txt", metavar="SRC"
    )
    image_size: tuple[int, int] = option((96, 64), "posters are resized to H W", low=16, metavar=("H", "W"))
    dim: int = option(64, "size of the shared embedding space", low=2)
    text_towers: tuple[str, ...] = option(
        ("glove",),
        "text towers of the ablation: tfidf, mean (token embeddings, mean pooling), bilstm, glove (IDF-weighted "
        "GloVe vectors), tfidf-glove (both side by side); glove and tfidf-glove need the text extra",
        choices=TEXT_TOWERS,
    )
    poster_towers: tuple[str, ...] = option(
        ("scratch", "histogram"),
        "poster towers of the ablation: scratch; histogram (colour histograms + a linear layer); an embedding net "
        "to start from (zoo name or .h5, e.g. ml100k-poster-embedding); a ResNet-18 backbone (zoo name or .h5)",
        metavar="TOWER",
    )
    objectives: tuple[str, ...] = option(
        ("clip", "genres"),
        "losses of the ablation: clip (symmetric InfoNCE), siglip (sigmoid loss), supcon (multi-label SupCon "
        "both ways: a movie's own synopsis and those of movies with similar genres are positives), genres (each "
        "tower predicts the genres; the towers meet in the space of predicted genre profiles)",
        choices=LOSSES,
    )
    genre_positive_at: float = option(
        0.5,
        "supcon: synopses of movies whose genres overlap by a Jaccard index of at least this are positives",
        above=0,
        high=1,
    )
    epochs: int = option(40, "epochs over the training movies", low=1)
    text_dropout: float = option(0.0, "dropout of the text tower's MLP while training", low=0, high=0.9)
    poster_padding: int = option(0, "posters shifted by up to this many pixels while training (pad and crop)", low=0)
    poster_flip: bool = option(False, "posters flipped left-right at random while training")
    batch_size: int = option(64, "pairs per batch (each pair's negatives are the other pairs)", low=2)
    learning_rate: float = option(1e-3, "Adam learning rate", above=0)
    validation_fraction: float = option(
        0.1, "share of the train.txt movies held out to pick the checkpoint", above=0, high=0.5
    )
    min_count: int = option(2, "vocabulary: words in at least this many training synopses", low=1)
    max_vocabulary: int = option(20000, "vocabulary: at most this many words (most frequent)", low=10)
    length: int = option(128, "tokens read per synopsis (token towers)", low=8)
    figure_items: int = option(4, "posters and synopses shown with their nearest matches", low=1)
    shown: int = option(5, "matches shown per item", low=1)


@dataclasses.dataclass
class Prepared:
    movies: Movies
    fit: np.ndarray  # rows the aligners train on (train.txt, less the validation share)
    validation: np.ndarray  # train.txt rows that pick checkpoints
    trained: np.ndarray  # every train.txt row
    never: np.ndarray  # rows never trained on


@dataclasses.dataclass
class Trained:
    models: dict  # tower pair name -> aligner at its checkpoint
    results: dict  # (name, "all" | "never trained") -> {"d": distance matrix, figure: value}
    table: pd.DataFrame  # the ablation
    best: str  # the aligner: see choose_aligner
    validation: dict  # row name -> validation mean rank of its checkpoint
    choice: str  # why the aligner is the best row, in words

    def metrics(self) -> dict[str, float]:
        """{"<pair>/<subset>/<figure>": value} of every tower pair."""
        return {
            f"{name}/{subset}/{key}": value
            for (name, subset), values in self.results.items()
            for key, value in values.items()
            if key != "d"
        }


def prepare(run: Run) -> Prepared:
    """Load the movies with a poster and a synopsis; train.txt trains (a seeded share of it picks
    checkpoints), the others are never trained on."""
    config = run.config
    if any("glove" in kind for kind in config.text_towers):
        require_glove()  # before any data is read
    movies = load_movies(config.data, tuple(config.image_size), need_overview=True, need_genres=False)
    if movies.train_ids is None:
        raise ValueError(f"{config.data} has no train.txt: the protocol trains on the movies it lists")
    by_genres = [objective for objective in config.objectives if objective in ("supcon", "genres")]
    if by_genres and not movies.genres.any():
        raise ValueError(f"{config.data} lists no genres: the {by_genres[0]} objective compares the movies' genres")
    train_set = set(movies.train_ids)
    trained = np.array([i for i, movie_id in enumerate(movies.ids) if movie_id in train_set])
    never = np.array([i for i, movie_id in enumerate(movies.ids) if movie_id not in train_set])
    permuted = np.random.default_rng(config.seed).permutation(trained)
    cut = max(2, int(round(config.validation_fraction * len(trained))))
    validation, fit = np.sort(permuted[:cut]), np.sort(permuted[cut:])
    run.record(
        data_source=movies.source,
        movies=len(movies),
        train_txt=len(trained),
        fit=len(fit),
        validation=len(validation),
        never_trained=len(never),
        dropped=movies.dropped,
    )
    return Prepared(movies, fit, validation, trained, never)


def train(run: Run, prepared: Prepared) -> Trained:
    """Every text tower with every poster tower and loss, scored on all movies and on those never
    trained on; with two rows or more, their committee; the aligner by ``choose_aligner``."""
    config, movies = run.config, prepared.movies
    rows, models, results = [], {}, {}

    def score(name: str, objective: str, text_kind: str, poster_kind: str) -> None:
        u, v = embed(models[name], movies.posters, movies.overviews)
        for subset, rows_of in (("never trained", prepared.never), ("all", np.arange(len(movies)))):
            d = distance_matrix(u[rows_of], v[rows_of])
            results[(name, subset)] = {"d": d, **alignment_metrics(d)}
            figures = {key: value for key, value in results[(name, subset)].items() if key != "d"}
            movies_of = f"{subset} ({len(rows_of)})"
            rows.append(
                {
                    "loss": objective,
                    "text tower": text_kind,
                    "poster tower": poster_kind,
                    "movies": movies_of,
                    **figures,
                }
            )

    for objective in config.objectives:
        for poster_kind in config.poster_towers:
            for text_kind in config.text_towers:
                name = f"{text_kind}-{Path(poster_kind).stem}" + ("" if objective == "clip" else f"-{objective}")
                models[name] = train_aligner(run, name, text_kind, poster_kind, objective, prepared)
                score(name, objective, text_kind, poster_kind)
    if len(models) > 1:
        models[COMMITTEE] = ensemble_aligner(list(models.values()))
        score(COMMITTEE, "committee", f"all {len(models) - 1} rows", "")
    table = pd.DataFrame(rows).set_index(["loss", "text tower", "poster tower", "movies"])
    ranks = {name: validation_ranks(model, prepared) for name, model in models.items()}
    validation = {name: float(values.mean()) for name, values in ranks.items()}
    best, choice = choose_aligner(ranks, config.seed)
    run.save_model(models[best], "aligner.h5")
    run.record(aligner=best, validation_mean_rank={name: round(value, 4) for name, value in validation.items()})
    return Trained(models, results, table, best, validation, choice)


def choose_aligner(ranks: dict[str, np.ndarray], seed: int) -> tuple[str, str]:
    """(the aligner, why): the row of the lowest validation mean rank, except that the committee, when
    there is one, stays the aligner unless that row's ranks are lower than the committee's with a
    paired 95% bootstrap interval (over the validation movies) that excludes 0: a single row must lead
    the committee by more than the noise of a few dozen validation pairs."""
    best = min(ranks, key=lambda name: ranks[name].mean())
    if COMMITTEE not in ranks or best == COMMITTEE:
        return best, f"{best} has the lowest validation mean rank ({ranks[best].mean():.2f})"
    lead = paired_difference(ranks[COMMITTEE], ranks[best], seed=seed)
    said = lead.sentence(COMMITTEE, best, "the validation rank of the true match")
    if lead.low > 0:
        return best, f"{best} has the lowest validation mean rank, and {said}"
    return COMMITTEE, f"the committee stays, as {said}"


def validation_ranks(aligner: keras.Model, prepared: Prepared) -> np.ndarray:
    """Per validation movie: the rank (1 = first) of its true match among the validation movies, the
    mean of both directions; lower is better."""
    movies, rows = prepared.movies, prepared.validation
    d = distance_matrix(*embed(aligner, movies.posters[rows], [movies.overviews[i] for i in rows]))
    return (match_ranks(d, 0) + match_ranks(d, 1)) / 2


def train_aligner(
    run: Run, name: str, text_kind: str, poster_kind: str, objective: str, prepared: Prepared
) -> keras.Model:
    """One dual tower trained with ``objective``'s loss, at the epoch with the lowest validation mean
    rank; for "genres", which trains the towers' genre logits and returns their label-profile
    aligner, the epoch with the lowest validation genre loss."""
    config, movies = run.config, prepared.movies
    set_seed(config.seed)
    fit_texts = [movies.overviews[i] for i in prepared.fit]
    by_genres = objective == "genres"
    dim = movies.genres.shape[1] if by_genres else config.dim
    base_rates = movies.genres[prepared.fit].mean(axis=0)
    with run.scope():
        towers = (
            poster_tower(poster_kind, config, movies.posters[prepared.fit], dim),
            text_tower(text_kind, fit_texts, config, dim),
        )
        if by_genres:
            model = build_label_predictor(*towers, base_rates=base_rates)
            model.compile(keras.optimizers.Adam(config.learning_rate), paired_label_crossentropy)
        else:
            model = build_aligner(*towers, objective=objective)
            model.compile(keras.optimizers.Adam(config.learning_rate), alignment_loss(objective, config))
    aligner_of = (
        (lambda trained: label_profile_aligner(trained, base_rates)) if by_genres else (lambda trained: trained)
    )
    val_posters, val_texts = movies.posters[prepared.validation], [movies.overviews[i] for i in prepared.validation]
    val_genres = movies.genres[prepared.validation]

    def measure(trained):
        aligner = aligner_of(trained)
        figures = {"val_mean_rank": float(validation_ranks(aligner, prepared).mean())}
        if by_genres:
            logits = trained.predict({"poster": val_posters, "text": np.asarray(val_texts, object)}, verbose=0)
            figures["val_genre_loss"] = float(np.mean(paired_label_crossentropy(val_genres, logits)))
        else:
            figures["logit_scale"] = aligner.get_layer("logit_scale").scale
        return figures

    stream = pair_stream(
        movies.posters[prepared.fit],
        fit_texts,
        movies.genres[prepared.fit],
        min(config.batch_size, len(prepared.fit)),
        config.epochs,
        config.seed,
        padding=config.poster_padding,
        flip=config.poster_flip,
    )
    # a label predictor's checkpoint: its validation genre loss (99 movies x 2 towers x L genres),
    # a steadier figure than the ranks of 99 pairs
    monitor = "val_genre_loss" if by_genres else "val_mean_rank"
    run.fit(
        model,
        stream,
        epochs=config.epochs,
        name=name,
        monitor=monitor,
        mode="min",
        callbacks=[EpochMetrics(measure)],
        curves=f"{name}: {objective} loss, "
        + ("validation genre loss, " if by_genres else "logit scale, ")
        + "validation mean rank",
    )
    return aligner_of(run.best_model(name))


def figures(run: Run, prepared: Prepared, trained: Trained) -> tuple[float, float]:
    """What the best aligner retrieves for never-trained movies, and the rank of the true match;
    returns (genre Jaccard of a never-trained poster and its nearest synopses, of random pairs)."""
    config, movies, never, best = run.config, prepared.movies, prepared.never, trained.best
    u, v = embed(trained.models[best], movies.posters, movies.overviews)
    d_never = distance_matrix(u[never], v[never])
    picks = np.random.default_rng(config.seed).choice(len(never), min(config.figure_items, len(never)), replace=False)
    synopses_of_posters(run, prepared, best, d_never, picks)
    posters_of_synopses(run, prepared, best, d_never, picks)
    ranks = match_ranks(trained.results[(best, "all")]["d"], 1)
    rank_histograms(
        {"trained movies": ranks[prepared.trained], "never-trained movies": ranks[never]},
        run.figure(
            "rank_histogram.png", "Rank of the true synopsis among all N, for trained and never-trained posters"
        ),
        f"{best}: rank of each poster's own synopsis among {len(movies)}",
    )
    top = np.argsort(d_never, axis=1, kind="stable")[:, : config.shown]
    shared = float(
        np.mean([jaccard(movies.genres[[never[i]]], movies.genres[never[top[i]]]).mean() for i in range(len(never))])
    )
    return shared, float(jaccard(movies.genres[never], movies.genres[never]).mean())


def synopses_of_posters(run: Run, prepared: Prepared, best: str, d_never: np.ndarray, picks: np.ndarray) -> None:
    """Never-trained posters beside their nearest synopses (the true one marked)."""
    movies, never = prepared.movies, prepared.never
    text_rows = []
    for q in picks:
        order, movie = np.argsort(d_never[q], kind="stable")[: run.config.shown], never[q]
        text_rows.append(
            (
                movies.posters[movie],
                f"{movies.titles[movie]} ({', '.join(movies.genre_list(movie)) or 'no genre'}); "
                f"its synopsis ranks {int(match_ranks(d_never, 1)[q])} of {len(never)}",
                [(f"[{movies.titles[never[j]]}] {movies.overviews[never[j]]}", j == q) for j in order],
            )
        )
    texts_beside_images(
        text_rows,
        run.figure(
            "poster_to_synopses.png",
            "Posters and their nearest synopses (never-trained movies; the true synopsis in green)",
        ),
        f"{best}: nearest synopses of never-trained posters",
    )


def posters_of_synopses(run: Run, prepared: Prepared, best: str, d_never: np.ndarray, picks: np.ndarray) -> None:
    """Never-trained synopses and their nearest posters (the true one framed green)."""
    movies, never = prepared.movies, prepared.never
    rows = []
    for q in picks:
        order, movie = np.argsort(d_never[:, q], kind="stable")[: run.config.shown], never[q]
        cells = [(movies.posters[movie], f"synopsis of\n{movies.titles[movie][:24]}", "blue")]
        cells += [
            (
                movies.posters[never[j]],
                f"{movies.titles[never[j]][:24]}\n{', '.join(movies.genre_list(never[j]))[:28]}",
                "green" if j == q else "red",
            )
            for j in order
        ]
        rows.append(cells)
    image_table(
        rows,
        run.figure(
            "synopsis_to_posters.png",
            "Synopses and their nearest posters (never-trained movies; first: "
            "the synopsis' own poster, then the nearest, the true one framed green)",
        ),
        f"{best}: nearest posters of never-trained synopses",
        cell=(1.2, 1.9),
    )


def report(run: Run, prepared: Prepared, trained: Trained) -> None:
    """Figures, the ablation table, metrics and what the numbers say."""
    config, movies, best = run.config, prepared.movies, trained.best
    shared, baseline = figures(run, prepared, trained)
    run.add_metrics(trained.metrics())
    run.add_metrics({"best_genre_jaccard_of_top5": shared, "genre_jaccard_of_random_pairs": baseline})
    every, never = trained.results[(best, "all")], trained.results[(best, "never trained")]
    run.summarise(
        f"N = {len(movies):,} movies with a poster and a synopsis; trained on {len(prepared.fit)} train.txt movies "
        f"({len(prepared.validation)} more pick the checkpoint), {len(prepared.never)} never trained on; "
        f"{len(trained.models) - (COMMITTEE in trained.models)} tower pairs, {config.epochs} epochs each."
    )
    run.finding(
        f"The aligner is {best}, chosen on the {len(prepared.validation)} validation movies: {trained.choice}. "
        f"On the {len(prepared.never)} never-trained movies: accuracy at ratio 0.5 "
        f"{never['acc0.5/dim0']:.3f} (dim 0) + {never['acc0.5/dim1']:.3f} (dim 1) = "
        f"{never['acc0.5/dim0'] + never['acc0.5/dim1']:.3f} (random: 0.5 + 0.5); at ratio 0.05 "
        f"{never['acc0.05/dim0']:.3f} / {never['acc0.05/dim1']:.3f} (random 0.05); R@10 poster->synopsis "
        f"{never['R@10/poster->synopsis']:.3f}, median rank {never['median_rank/poster->synopsis']:.0f} of "
        f"{len(prepared.never)}. The prescribed figure, on all N (training pairs included): "
        f"{every['acc0.5/dim0']:.3f} + {every['acc0.5/dim1']:.3f} = {every['acc0.5/dim0'] + every['acc0.5/dim1']:.3f} "
        f"at 0.5, {every['acc0.05/dim0']:.3f} / {every['acc0.05/dim1']:.3f} at 0.05."
    )
    for finding in row_comparisons(trained, len(prepared.never), config.seed):
        run.finding(finding)
    run.finding(
        f"Neighbours share genres: a never-trained poster's {config.shown} nearest synopses belong to movies whose "
        f"genre sets overlap its own by a Jaccard index of {shared:.3f} on average, against {baseline:.3f} for random "
        "pairs."
    )
    run.table(
        "Ablation: loss x text tower x poster tower; top-ratio accuracy (acc<ratio>/dim<d>), recall and ranks, on "
        "the never-trained movies and on all N",
        trained.table,
    )
    run.note(
        "dim=1: for each poster, its k = int(ratio N) nearest synopses; dim=0: for each synopsis, its k nearest "
        "posters; a tie with the true match counts against it. Text cleaning: lower case, letters only (punctuation "
        "and numbers dropped), scikit-learn's English stop words dropped; vocabulary and IDF from the training "
        "synopses only, saved inside the text tower. The logit scale s = exp(t) starts at 1/0.07 (InfoNCE) or 10 "
        "(SigLIP, whose learned bias starts at -10) and is clamped at 100 (logged per epoch). A genres row's towers "
        "predict the genres (trained on the training movies' genres, checkpoint at the lowest validation genre loss) "
        "and embed the predicted probabilities minus the base rates, unit-normalised; the committee's cosine is the "
        "mean of every other row's cosine."
    )


def never_trained_hits(d: np.ndarray, ratio: float) -> np.ndarray:
    """Per movie: the mean over both directions of "its match is among the int(ratio n) nearest"."""
    return (top_ratio_accuracy(d, ratio, 0, per_query=True) + top_ratio_accuracy(d, ratio, 1, per_query=True)) / 2


def row_comparisons(trained: Trained, movies: int, seed: int) -> list[str]:
    """The best row against every other, paired over the same never-trained movies: one finding per
    ratio (0.5, the prescribed one, and 0.05), each movie's hits the mean of both directions."""
    others = [name for name in trained.models if name != trained.best]
    if not others:
        return []
    findings = []
    for ratio in (0.5, 0.05):
        hits = {
            name: never_trained_hits(trained.results[(name, "never trained")]["d"], ratio) for name in trained.models
        }
        sentences = [
            paired_difference(hits[trained.best], hits[name], seed=seed).sentence(
                trained.best, name, f"never-trained hits at ratio {ratio}"
            )
            for name in others
        ]
        findings.append(f"Rows compared on the same {movies} never-trained movies: " + "; ".join(sentences) + ".")
    return findings


def alignment_loss(objective: str, config: Config) -> keras.losses.Loss:
    """The loss of ``objective`` (see the module docstring) on the aligner's (B, 2, D) rows."""
    if objective == "siglip":
        return SigLipLoss()
    if objective == "supcon":  # the aligner's learned logit scale is the temperature
        genres = JaccardLabels(config.genre_positive_at, graded=True)
        return SymmetricLoss(SupConLoss(temperature=1.0, distance="dot", label_comparison=genres))
    return ClipLoss()


def pair_stream(
    posters: np.ndarray,
    texts: list[str],
    genres: np.ndarray,
    batch_size: int,
    epochs: int,
    seed: int,
    padding: int = 0,
    flip: bool = False,
) -> BatchStream:
    """({"poster", "text"}, multi-hot genres) batches of matched pairs, a seeded permutation each
    epoch; with ``padding`` or ``flip`` each poster is augmented with a key from (seed, epoch, movie)."""
    images, strings, labels = tf.constant(posters), tf.constant(texts), tf.constant(genres, tf.float32)

    def example(index, epoch):
        poster = tf.gather(images, index)
        if padding or flip:
            poster = augment(poster, distortion_key(seed, epoch, index), padding, flip)
        return {"poster": poster, "text": tf.gather(strings, index)}, tf.gather(labels, index)

    return BatchStream(seeded_permutation(len(texts), seed), example, batch_size, epochs)


def embed(aligner: keras.Model, posters: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(poster embeddings, synopsis embeddings) from the aligner's towers."""
    u = aligner.get_layer("poster_tower").predict(posters, batch_size=256, verbose=0)
    v = aligner.get_layer("text_tower").predict(np.asarray(texts, dtype=object), batch_size=256, verbose=0)
    return u, v


def distance_matrix(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """D[i, j] = 1 - cos(poster i, synopsis j) (the towers' outputs are unit vectors or zero)."""
    return 1.0 - u.astype(np.float64) @ v.astype(np.float64).T


def alignment_metrics(d: np.ndarray) -> dict[str, float]:
    """Top-ratio accuracy both ways at 0.5 and 0.05, R@1/5/10, median and mean rank both ways."""
    out = {}
    for ratio in (0.5, 0.05):
        for dim in (0, 1):
            out[f"acc{ratio:g}/dim{dim}"] = top_ratio_accuracy(d, ratio, dim)
    for dim, direction in ((1, "poster->synopsis"), (0, "synopsis->poster")):
        ranks = match_ranks(d, dim)
        out.update({f"R@{k}/{direction}": float(np.mean(ranks <= k)) for k in (1, 5, 10)})
        out[f"median_rank/{direction}"] = float(np.median(ranks))
        out[f"mean_rank/{direction}"] = float(np.mean(ranks))
    return out


def text_tower(kind: str, texts: list[str], config: Config, dim: int) -> keras.Model:
    vocabulary, idf = build_vocabulary(texts, config.min_count, config.max_vocabulary)
    vectors = None
    if kind in ("glove", "tfidf-glove"):  # in tfidf-glove every word counts; words GloVe lacks have zero vectors
        vectors, found = glove_vectors(vocabulary)
    if kind == "glove":
        vocabulary, idf, vectors = (
            [w for w, f in zip(vocabulary, found) if f],
            [i for i, f in zip(idf, found) if f],
            vectors[found],
        )
    return build_text_tower(
        kind, vocabulary, idf, dim, config.length, word_vectors=vectors, dropout=config.text_dropout
    )


def poster_tower(kind: str, config: Config, training_posters: np.ndarray, dim: int) -> keras.Model:
    """ "scratch": tfml's reference CNN; "histogram": colour histograms and a linear layer
    (``build_histogram_net``); an embedding net (``build_embedding_net``'s, e.g. the poster study's
    ``ml100k-poster-embedding``): its pooled features, a warm start; otherwise a ResNet-18 backbone.
    Each of the last two gets a new projection to the shared space; the first two standardise
    with statistics of the training posters."""
    shape = (*config.image_size, 3)
    if kind == "scratch":
        statistics = channel_statistics(training_posters)
        return build_embedding_net(shape, dim, network="reference", standardize=statistics, name="poster_tower")
    if kind == "histogram":
        return build_histogram_net(shape, dim, training_posters, name="poster_tower")
    features = warm_start_features(kind, shape) or load_backbone(str(zoo.resolve(kind)), shape)
    inputs = keras.Input(shape, dtype="uint8", name="image")
    x = keras.layers.Dense(dim, name="poster_projection")(features(inputs))
    return keras.Model(inputs, keras.layers.UnitNormalization(name="poster_l2_normalize")(x), name="poster_tower")


def warm_start_features(kind: str, shape: tuple[int, ...]) -> keras.Model | None:
    """The layers of a saved embedding net (zoo name or file) up to its ``embedding`` projection, or
    None for a model without one (a backbone); a ValueError when it reads images of another shape."""
    if kind.endswith(".weights.h5"):
        return None
    model = zoo.load_model(kind)[0]
    if "embedding" not in {layer.name for layer in model.layers}:
        return None
    if tuple(model.input_shape[1:]) != shape:
        raise ValueError(
            f"{kind} reads images of shape {model.input_shape[1:]}, the posters are {shape}: set --image-size"
        )
    return keras.Model(model.inputs, model.get_layer("embedding").input, name="warm_start")


STEPS = (prepare, train, report)
