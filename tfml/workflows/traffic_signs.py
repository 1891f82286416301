"""Study 2: contrastive vs triplet metric learning, with and without mining, on traffic-sign crops.

The protocol of the pytorch-metric-learning reference (``benchmarks/pml_reference.py``), so every
row has its reference twin: TT100K crops with the reference split, 64 x 64, standardised per channel
inside the model, a seeded 4-pixel pad-and-crop, batches of 128 (P x K = 32 x 4, or shuffled), epochs
of len(train) // 128 steps, Adam 1e-3, the reference network (d = 32). The reference trains 8 epochs;
tfml's step takes half its time on the same machine (``benchmarks/train_speed.py``), so the default
is 16 epochs: the same training time. Runs:

- triplet-semihard (a): triplet margin 0.2 on the semi-hard triplets of each batch (PML's miner);
- triplet-random (b): one random in-batch positive and negative per anchor (no mining);
- contrastive-margin (c): contrastive loss (plain distances, margins 0 / 1) on the pairs PML's
  PairMarginMiner keeps (positives farther than 0.2, negatives closer than 0.8);
- contrastive-all (d): contrastive loss on all pairs of shuffled batches (no mining);
- triplet-semihard-tfa: tensorflow-addons' semi-hard rule (one negative per positive pair);
- triplet-batchhard: batch-hard with the soft margin log(1 + exp(d_ap - d_an)), which trains from
  scratch where the hinge at margin 0.2 collapses (all embeddings at the margin);
- with pytorch-metric-learning's defaults, each on P x K batches: multi-similarity (e, with its
  miner), proxy-anchor (f), supcon (g), arcface (h), cosface (i), circle (j) and xbm-contrastive
  (k: contrastive loss and pair-margin miner against a cross-batch memory of 1024 embeddings). The
  proxy and classifier runs train a ClassProxies layer on top of the network, its proxies at 100
  times the learning rate (as the reference's own optimiser for them), and keep the network.

Each run's checkpoint is picked every epoch by MAP@R, never by the mined loss: by default all
training images train (as in the reference) and a seeded sample of them retrieves among all training
embeddings; ``--validation-fraction`` holds images out instead, retrieved among themselves. Test
images are then classified by k-NN against all training images (Euclidean); baselines are raw
pixels and the untrained network. The best run is trained again at smaller sizes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import pandas as pd

from tfml import paths
from tfml.config import option
from tfml.data import stratified_split
from tfml.data.traffic_signs import TrafficSigns, family_order, load_traffic_signs, sign_family
from tfml.losses import (
    ArcFaceLoss,
    CircleLoss,
    ContrastiveLoss,
    CosFaceLoss,
    CrossBatchMemory,
    IndexedTripletMiner,
    MultiSimilarityLoss,
    MultiSimilarityMiner,
    PairMarginMiner,
    ProxyAnchorLoss,
    SupConLoss,
    TripletHardLoss,
    TripletLoss,
    TripletMarginMiner,
    TripletSemiHardLoss,
)
from tfml.models import build_embedding_net, channel_statistics, embedding_part, with_class_proxies
from tfml.pipelines import labelled_batches, pk_indices, random_in_batch_triplets, unit_float_array
from tfml.retrieval import LABEL_METRICS, ExactIndex, LabelRelevance, Retrieval, evaluate_retrieval, paired_difference
from tfml.training import EpochMetrics, Run, StudyConfig, set_seed
from tfml.viz import project_2d, scatter_2d, write_projector
from tfml.viz.figures import distance_heatmap

REFERENCE_FILE = "pml_reference.json"

PROXY_LEARNING_RATE_MULTIPLIER = 100.0  # the proxies' and class weights' rate: x100, as the Proxy Anchor paper


class RunSpec(NamedTuple):
    """batches: "pk" (P x K), "pk-random" (P x K with one random in-batch triplet per anchor in the
    targets) or "shuffled" (a permutation cut into batches); loss(config, dim); the reference row of
    benchmarks/pml_reference.py; proxies: trained through a ClassProxies layer; family: what the
    report compares."""

    batches: str
    loss: Callable
    reference: str | None
    family: str
    proxies: bool = False


RUNS = {
    "triplet-semihard": RunSpec(
        "pk",
        lambda c, d: TripletLoss(
            c.triplet_margin, miner=TripletMarginMiner(c.triplet_margin, "semihard"), reducer="mean_nonzero"
        ),
        "a",
        "triplet",
    ),
    "triplet-random": RunSpec(
        "pk-random",
        lambda c, d: TripletLoss(c.triplet_margin, miner=IndexedTripletMiner(), reducer="mean_nonzero"),
        "b",
        "triplet",
    ),
    "contrastive-margin": RunSpec(
        "pk",
        lambda c, d: ContrastiveLoss(
            margin=1.0, squared=False, miner=PairMarginMiner(*c.miner_margins), reducer="mean_nonzero"
        ),
        "c",
        "pair",
    ),
    "contrastive-all": RunSpec(
        "shuffled", lambda c, d: ContrastiveLoss(margin=1.0, squared=False, reducer="mean_nonzero"), "d", "pair"
    ),
    "triplet-semihard-tfa": RunSpec("pk", lambda c, d: TripletSemiHardLoss(margin=c.triplet_margin), None, "triplet"),
    "triplet-batchhard": RunSpec("pk", lambda c, d: TripletHardLoss(soft=True), None, "triplet"),
    "multi-similarity": RunSpec("pk", lambda c, d: MultiSimilarityLoss(miner=MultiSimilarityMiner()), "e", "pair"),
    "proxy-anchor": RunSpec("pk", lambda c, d: ProxyAnchorLoss(), "f", "proxy", proxies=True),
    "supcon": RunSpec("pk", lambda c, d: SupConLoss(), "g", "pair"),
    "arcface": RunSpec("pk", lambda c, d: ArcFaceLoss(), "h", "proxy", proxies=True),
    "cosface": RunSpec("pk", lambda c, d: CosFaceLoss(), "i", "proxy", proxies=True),
    "circle": RunSpec("pk", lambda c, d: CircleLoss(), "j", "pair"),
    "xbm-contrastive": RunSpec(
        "pk",
        lambda c, d: CrossBatchMemory(
            ContrastiveLoss(margin=1.0, squared=False, reducer="mean_nonzero"),
            embedding_size=d,
            memory_size=c.memory_size,
            miner=PairMarginMiner(*c.miner_margins),
        ),
        "k",
        "pair",
    ),
}
FAMILIES = {"pair": "pair losses", "triplet": "triplet losses", "proxy": "proxy and classifier losses"}


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "traffic-signs"
    TITLE = "Traffic signs: contrastive vs triplet, with and without mining"
    QUICK = {
        "epochs": 2,
        "max_classes": 10,
        "max_images_per_class": 60,
        "classes_per_batch": 8,
        "images_per_class": 4,
        "other_dims": (8,),
        "runs": ("triplet-semihard", "triplet-random", "contrastive-margin", "contrastive-all"),
    }
    data: str = option(
        "../shared/data/tt100k-crops.tar.gz", "folder or .tar.gz with train/<code>/ and test/<code>/", metavar="SRC"
    )
    image_size: int = option(64, "crops are resized to this many pixels square", low=8)
    pad_to_square: bool = option(False, "pad each crop to a square (black) before resizing, keeping the sign's shape")
    min_images: int = option(20, "classes with fewer crops (train and test merged) are dropped", low=2)
    train_fraction: float = option(
        0.8, "share of each class's crops for training (the reference split rule)", above=0, high=0.95
    )
    network: str = option(
        "reference",
        "embedding network: the reference's 4 conv blocks, or tfml's first (small) one",
        choices=("reference", "small"),
    )
    dim: int = option(32, "embedding size of the runs", low=1)
    other_dims: tuple[int, ...] = option(
        (8, 16), "sizes the best run is trained again at (none: give the option alone)", low=1, empty=True
    )
    runs: tuple[str, ...] = option(tuple(RUNS), "runs to train", choices=tuple(RUNS))
    epochs: int = option(
        16,
        "epochs of each run; an epoch is len(train) // batch steps (16: the reference's 8-epoch "
        "training time, tfml's step taking half as long)",
        low=1,
    )
    classes_per_batch: int = option(32, "P of the P x K batches (batch size P x K for every run)", low=2)
    images_per_class: int = option(4, "K of the P x K batches", low=2)
    padding: int = option(4, "random crop after padding this many pixels (0: no augmentation)", low=0)
    learning_rate: float = option(1e-3, "Adam learning rate", above=0)
    triplet_margin: float = option(0.2, "margin of the triplet losses and the semi-hard miner", above=0)
    miner_margins: tuple[float, float] = option(
        (0.2, 0.8), "pair-margin miner: positives farther, negatives closer than", low=0, metavar=("POS", "NEG")
    )
    validation_fraction: float = option(
        0.0,
        "share of the training images held out to pick each run's checkpoint; 0: train on "
        "all of them (as the reference) and pick by retrieval among the training images",
        low=0,
        high=0.5,
    )
    memory_size: int = option(1024, "xbm-contrastive: embeddings kept by its cross-batch memory", low=1)
    selection_queries: int = option(
        2000, "with --validation-fraction 0: training images that query the others every epoch", low=10
    )
    max_classes: int | None = option(None, "keep only the most frequent classes (quick mode)", low=2)
    max_images_per_class: int | None = option(None, "keep at most this many images per class (quick mode)", low=4)
    reference: str = option(
        "",
        "JSON of the pytorch-metric-learning reference rows (default: benchmarks/results/"
        "pml_reference.json of the project, made by benchmarks/pml_reference.py)",
        metavar="FILE",
    )


@dataclasses.dataclass
class Prepared:
    data: TrafficSigns
    fit_index: np.ndarray  # the training images the networks train on
    val_index: np.ndarray  # held-out training images that pick checkpoints (may be empty)
    standardize: tuple  # per-channel mean and variance of the training images, saved inside the networks


@dataclasses.dataclass
class Trained:
    nets: dict  # (run, dim) -> the embedding network at its checkpoint
    seconds: dict  # (run, dim) -> training seconds
    results: dict  # (run, dim) -> test figures
    best: str  # the run with the best test MAP@R at the main dimension
    per_query: dict = dataclasses.field(default_factory=dict)  # (run, dim) -> MAP@R of each test query


def prepare(run: Run) -> Prepared:
    """Load the crops with the reference's split (a subset in quick mode); standardisation from the training images."""
    config = run.config
    data = load_traffic_signs(
        config.data,
        config.image_size,
        config.min_images,
        config.train_fraction,
        seed=config.seed,
        pad_to_square=config.pad_to_square,
        progress=True,
    )
    if config.max_classes or config.max_images_per_class:
        data = quick_subset(data, config)
    run.record(
        data_source=str(Path(config.data).resolve()),
        classes=len(data.class_names),
        train_images=len(data.x_train),
        test_images=len(data.x_test),
        dropped_classes=data.dropped_classes,
        skipped_files=data.skipped_files,
    )
    if config.validation_fraction > 0:
        fit_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed, data.class_names)
    else:
        fit_index, val_index = np.arange(len(data.x_train)), np.array([], np.int64)
    return Prepared(data, fit_index, val_index, channel_statistics(data.x_train[fit_index]))


def baselines(run: Run, prepared: Prepared) -> list[dict]:
    """Test figures of raw pixels and of the untrained network."""
    config, data = run.config, prepared.data
    pixels = [unit_float_array(x.reshape(len(x), -1)) for x in (data.x_train, data.x_test)]
    rows = [{"run": "raw pixels", "dim": pixels[0].shape[1], **evaluate(*pixels, data.y_train, data.y_test).metrics}]
    set_seed(config.seed)
    untrained = build_embedding_net(
        (config.image_size, config.image_size, 3), config.dim, network=config.network, standardize=prepared.standardize
    )
    rows.append(
        {
            "run": "untrained network",
            "dim": config.dim,
            **evaluate(
                embed(untrained, data.x_train), embed(untrained, data.x_test), data.y_train, data.y_test
            ).metrics,
        }
    )
    return rows


def train(run: Run, prepared: Prepared, baseline_rows: list[dict]) -> Trained:
    """Every run at the main dimension; the best of them (test MAP@R) again at the other dimensions."""
    config = run.config
    trained = Trained({}, {}, {}, best="")
    for name in config.runs:
        train_one(run, prepared, trained, name, config.dim)
    trained.best = max(config.runs, key=lambda name: trained.results[(name, config.dim)]["map@r"])
    for dim in config.other_dims:
        train_one(run, prepared, trained, trained.best, dim)
    run.save_model(trained.nets[(trained.best, config.dim)], "best_embedding_net.h5")
    return trained


def train_one(run: Run, prepared: Prepared, trained: Trained, name: str, dim: int) -> None:
    """Trains (or resumes) one run as training <name>-d<dim>, each epoch's checkpoint figure logged,
    and records its best network, training seconds and test figures in ``trained``."""
    config, data, spec = run.config, prepared.data, RUNS[name]
    training = f"{name}-d{dim}"
    set_seed(config.seed)
    with run.scope():
        net = build_embedding_net(
            (config.image_size, config.image_size, 3), dim, network=config.network, standardize=prepared.standardize
        )
        loss = spec.loss(config, dim)
        if spec.proxies:
            net = with_class_proxies(
                net,
                len(data.class_names),
                learning_rate_multiplier=PROXY_LEARNING_RATE_MULTIPLIER,
                initializer=loss.proxy_initializer,
            )
        net.compile(keras.optimizers.Adam(config.learning_rate), loss)
    batch_size = config.classes_per_batch * config.images_per_class
    steps = len(data.x_train) // batch_size  # the reference's epoch: all training images, drop last
    order = epoch_order(spec.batches, data.y_train[prepared.fit_index], config, steps)
    stream = labelled_batches(
        data.x_train[prepared.fit_index], order, batch_size, config.epochs, config.seed, padding=config.padding
    )
    measure, monitor = checkpoint_metrics(data, prepared.fit_index, prepared.val_index, config)
    history = run.fit(
        net,
        stream,
        epochs=config.epochs,
        name=training,
        monitor=monitor,
        mode="max",
        verbose=2,
        callbacks=[EpochMetrics(lambda model: measure(embedding_part(model)))],
        curves=f"{name}, d = {dim} (loss, and the figures that pick the checkpoint)",
    )
    best = embedding_part(run.best_model(training))
    run.save_model(best, f"runs/{training}/embedding_net.h5")
    trained.nets[(name, dim)], trained.seconds[(name, dim)] = best, float(history["epoch_seconds"].sum())
    result = evaluate(embed(best, data.x_train), embed(best, data.x_test), data.y_train, data.y_test)
    trained.results[(name, dim)], trained.per_query[(name, dim)] = result.metrics, result.per_query["map@r"]


def figures(run: Run, prepared: Prepared, trained: Trained) -> None:
    """Projector export, t-SNE / UMAP of training and test embeddings, class-centroid distances by sign family."""
    config, data, best = run.config, prepared.data, trained.best
    net = trained.nets[(best, config.dim)]
    train_vectors, test_vectors = embed(net, data.x_train), embed(net, data.x_test)
    names = np.array(data.class_names)
    run.save(
        f"tensorboard/projector/{best}-d{config.dim}-test",
        write_projector,
        test_vectors,
        pd.DataFrame({"class": names[data.y_test], "family": [sign_family(n) for n in names[data.y_test]]}),
        data.x_test,
    )
    shown = np.sort(
        np.random.default_rng(config.seed).choice(len(train_vectors), min(5000, len(train_vectors)), replace=False)
    )
    for method in ("tsne", "umap"):
        for split, vectors, labels, picked in (
            ("train", train_vectors, data.y_train, shown),
            ("test", test_vectors, data.y_test, slice(None)),
        ):
            points = project_2d(vectors[picked], method, seed=config.seed)
            scatter_2d(
                points,
                names[labels[picked]],
                run.figure(f"{method}_{split}.png", f"{method.upper()}, {split}"),
                f"{method.upper()} of {len(points):,} {split} embeddings ({best}, d = {config.dim})",
                class_order=data.class_names,
                annotate=True,
            )
    order = family_order(data.class_names)
    centroids = np.stack([train_vectors[data.y_train == c].mean(0) for c in order])
    distances = np.sqrt(((centroids[:, None] - centroids[None]) ** 2).sum(-1))
    distance_heatmap(
        distances,
        names[order].tolist(),
        [sign_family(names[c]) for c in order],
        run.figure("centroid_distances.png", "Class-centroid distances by sign family"),
        f"distances between class centroids ({best}, d = {config.dim}), ordered by sign family",
    )


def report(run: Run, prepared: Prepared, baseline_rows: list[dict], trained: Trained) -> None:
    """Figures, the comparison with the reference rows, all test figures, what the numbers say."""
    config, data = run.config, prepared.data
    figures(run, prepared, trained)
    rows = baseline_rows + [
        {"run": name, "dim": dim, **result, "train_seconds": trained.seconds[(name, dim)]}
        for (name, dim), result in trained.results.items()
    ]
    table = pd.DataFrame(rows).set_index(["run", "dim"])
    run.table(
        "k-NN classification and retrieval on the test images (base: training embeddings, Euclidean)",
        table,
        metrics="{level[0]}/d{level[1]}/{column}",
    )
    run.add_metrics({"best_run": list(RUNS).index(trained.best)})
    picked = (
        f"{len(prepared.val_index):,} held out to pick checkpoints"
        if len(prepared.val_index)
        else f"checkpoints picked by retrieval among {min(config.selection_queries, len(prepared.fit_index)):,} "
        "training images"
    )
    batch = config.classes_per_batch * config.images_per_class
    run.summarise(
        f"{len(data.class_names)} classes, {len(data.x_train):,} training ({len(prepared.fit_index):,} to train on, "
        f"{picked}) and {len(data.x_test):,} test images at {config.image_size} x {config.image_size}; each run "
        f"{config.epochs} epochs of {len(data.x_train) // batch} steps (batch {config.classes_per_batch} x "
        f"{config.images_per_class}). Test images are classified by their nearest training images; MAP@R (1.0 = "
        "every same-class image ranked first) is the figure runs are compared by."
    )
    at_dim = {name: trained.results[(name, config.dim)] for name in config.runs}
    for sentence in findings(
        at_dim, {name: trained.per_query[(name, config.dim)] for name in config.runs}, config.seed
    ):
        run.finding(sentence)
    reference_table(run, trained)
    run.note(
        f"Data: {config.data}; {len(data.class_names)} classes ({len(data.dropped_classes)} dropped with fewer than "
        f"{config.min_images} crops), reference split ({config.train_fraction:.0%} of each class for training), "
        f"{'padded to square and ' if config.pad_to_square else ''}resized to {config.image_size} x "
        f"{config.image_size}; network: {config.network}; augmentation: random crop after {config.padding}-px padding. "
        f"Each run's checkpoint is the epoch with the best MAP@R of its checkpoint figure ({picked}; the test set "
        f"picks nothing); train seconds add up the epochs' training time. Best run by test MAP@R at d = {config.dim}: "
        f"**{trained.best}**. t-SNE/UMAP of the training set show a seeded sample of at most 5,000 images."
    )


def reference_table(run: Run, trained: Trained) -> None:
    """tfml's runs beside the pytorch-metric-learning reference rows (benchmarks/pml_reference.py)."""
    config = run.config
    path = reference_file(config)
    reference = read_reference(path)
    comparison = []
    for name in config.runs:
        letter, ours = RUNS[name].reference, trained.results[(name, config.dim)]
        line = {
            "run": name,
            "reference row": letter or "-",
            "kNN@1": ours["knn@1"],
            "kNN@5": ours["knn@5"],
            "R-precision": ours["r_precision"],
            "MAP@R": ours["map@r"],
            "train seconds": trained.seconds[(name, config.dim)],
        }
        if letter and letter in reference:
            ref = reference[letter]
            line.update(
                {
                    "reference kNN@1": ref["knn@1"],
                    "reference MAP@R": ref["map@r"],
                    "reference train seconds": ref["train_seconds"],
                }
            )
        comparison.append(line)
    run.table(
        "tfml runs beside the pytorch-metric-learning reference (same data, split and protocol; d = 32)",
        pd.DataFrame(comparison).set_index("run"),
    )
    if not reference:
        run.note(f"No reference rows: {path} is absent (make it with `python benchmarks/pml_reference.py`).")


def quick_subset(data: TrafficSigns, config: Config) -> TrafficSigns:
    """The data of quick mode: a subset of the classes and images, split again (seeded, stratified)."""
    x_all, y_all = np.concatenate([data.x_train, data.x_test]), np.concatenate([data.y_train, data.y_test])
    x_all, y_all, names = subset(x_all, y_all, config, data.class_names)
    train, test = stratified_split(y_all, 1 - config.train_fraction, config.seed, names)
    return dataclasses.replace(
        data,
        x_train=x_all[train],
        y_train=y_all[train],
        x_test=x_all[test],
        y_test=y_all[test],
        class_names=names,
        ids_train=[],
        ids_test=[],
    )


def subset(images, labels, config: Config, class_names):
    """Quick mode: the max_classes most frequent classes, at most max_images_per_class each (seeded)."""
    counts = np.bincount(labels, minlength=len(class_names))
    classes = np.argsort(-counts, kind="stable")[: config.max_classes or len(class_names)]
    rng = np.random.default_rng(config.seed)
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[: config.max_images_per_class] for c in classes]
    )
    keep.sort()
    remap = np.full(len(class_names), -1)
    remap[np.sort(classes)] = np.arange(len(classes))
    return images[keep], remap[labels[keep]], [class_names[c] for c in np.sort(classes)]


def epoch_order(batches: str, labels: np.ndarray, config: Config, steps: int):
    """order(epoch) -> (indices, targets) of ``steps`` batches of P x K items (labels[indices]
    index the fit images)."""
    batch_size = config.classes_per_batch * config.images_per_class

    def order(epoch):
        if batches == "shuffled":  # permutations one after the other until the epoch's steps are full
            rounds = -(-steps * batch_size // len(labels))
            indices = np.concatenate(
                [np.random.default_rng([config.seed, epoch, r]).permutation(len(labels)) for r in range(rounds)]
            )
            indices = indices[: steps * batch_size]
            return indices, labels[indices]
        indices = pk_indices(labels, config.classes_per_batch, config.images_per_class, steps, config.seed, epoch)
        if batches == "pk-random":
            picks = random_in_batch_triplets(labels[indices], config.seed, epoch).reshape(-1, 2)
            return indices.reshape(-1), np.column_stack([labels[indices.reshape(-1)], picks])
        return indices.reshape(-1), labels[indices.reshape(-1)]

    return order


def embed(net: keras.Model, images: np.ndarray) -> np.ndarray:
    return net.predict(images, batch_size=512, verbose=0)


def evaluate(train_vectors, test_vectors, y_train, y_test) -> Retrieval:
    """k-NN classification (Euclidean, k = 1 and 5, ties to the nearest) and retrieval metrics of the
    test images against the training images."""
    return evaluate_retrieval(ExactIndex(train_vectors), test_vectors, LabelRelevance(y_test, y_train), LABEL_METRICS)


def selection_metrics(images: np.ndarray, labels: np.ndarray, queries: np.ndarray, prefix: str):
    """The per-epoch figures that pick a checkpoint: leave-one-out retrieval of ``queries`` (rows of
    ``images``) among ``images`` -> {prefix + "knn_at_1", prefix + "map_at_r"}; MAP@R over the
    queries whose class has another image."""
    counts = np.bincount(labels)
    scored = queries[counts[labels[queries]] > 1]

    def measure(model):
        vectors = embed(model, images)
        index = ExactIndex(vectors)
        relevance = LabelRelevance(labels, labels)
        knn = evaluate_retrieval(index, vectors[queries], relevance, ["knn@1"], exclude=queries, rows=queries)
        map_r = evaluate_retrieval(index, vectors[scored], relevance, ["map@r"], exclude=scored, rows=scored)
        return {f"{prefix}knn_at_1": knn.metrics["knn@1"], f"{prefix}map_at_r": map_r.metrics["map@r"]}

    return measure


def checkpoint_metrics(data, fit_index, val_index, config: Config):
    """(callback measure, monitored name): held-out validation images retrieved among themselves, or,
    with no held-out images, a seeded sample of training images retrieved among all training images
    (a held-in figure: it follows how well the training images are embedded)."""
    if len(val_index):
        return (
            selection_metrics(data.x_train[val_index], data.y_train[val_index], np.arange(len(val_index)), "val_"),
            "val_map_at_r",
        )
    queries = np.sort(
        np.random.default_rng(config.seed).choice(
            len(fit_index), min(config.selection_queries, len(fit_index)), replace=False
        )
    )
    return selection_metrics(data.x_train[fit_index], data.y_train[fit_index], queries, "train_"), "train_map_at_r"


def reference_file(config: Config) -> Path:
    return Path(config.reference) if config.reference else paths.benchmark_results_dir() / REFERENCE_FILE


def read_reference(path: Path) -> dict:
    """The reference rows {"a": {"knn@1": ..., "train_seconds": ...}, ...} recorded by
    benchmarks/pml_reference.py, or {} when the file is absent."""
    return json.loads(path.read_text())["rows"] if path.is_file() else {}


def findings(rows: dict[str, dict], per_query: dict[str, np.ndarray], seed: int = 0) -> list[str]:
    """Answers to "does mining help?" and "contrastive or triplet?": paired bootstrap intervals of the
    per-query MAP@R differences on the same test queries (a difference whose interval holds 0 is a tie)."""
    said = []
    pairs = (
        ("triplet-semihard", "triplet-random", "triplets"),
        ("contrastive-margin", "contrastive-all", "contrastive pairs"),
    )
    for mined, plain, what in pairs:
        if mined in rows and plain in rows:
            difference = paired_difference(per_query[mined], per_query[plain], seed=seed)
            said.append(
                f"Does mining help {what}? "
                + difference.sentence(f"{mined} (mined)", f"{plain} (not mined)", "MAP@R")
                + f"; kNN@1 {rows[plain]['knn@1']:.3f} -> {rows[mined]['knn@1']:.3f}."
            )
    triplet = {n: r for n, r in rows.items() if n.startswith("triplet")}
    contrastive = {n: r for n, r in rows.items() if n.startswith("contrastive")}
    if triplet and contrastive:
        best_t = max(triplet, key=lambda n: triplet[n]["map@r"])
        best_c = max(contrastive, key=lambda n: contrastive[n]["map@r"])
        difference = paired_difference(per_query[best_t], per_query[best_c], seed=seed)
        said.append(
            "Contrastive or triplet? "
            + difference.sentence(f"the best triplet run ({best_t})", f"the best contrastive run ({best_c})", "MAP@R")
            + "."
        )
    return said + family_findings(rows, per_query, seed)


def family_findings(rows: dict[str, dict], per_query: dict[str, np.ndarray], seed: int = 0) -> list[str]:
    """Which family wins: the best run (MAP@R) of each family trained, and the best against the
    runner-up family's best, by the paired interval of their per-query difference."""
    best = {}
    for name in rows:
        family = RUNS[name].family
        if family not in best or rows[name]["map@r"] > rows[best[family]]["map@r"]:
            best[family] = name
    if len(best) < 2:
        return []
    ranked = sorted(best.items(), key=lambda item: rows[item[1]]["map@r"], reverse=True)
    (first_family, first), (second_family, second) = ranked[:2]
    difference = paired_difference(per_query[first], per_query[second], seed=seed)
    listing = "; ".join(f"{FAMILIES[f]}: {n} (MAP@R {rows[n]['map@r']:.3f})" for f, n in ranked)
    return [
        f"Which family wins? The best of each: {listing}. "
        + difference.sentence(
            f"The best of the {FAMILIES[first_family]} ({first})",
            f"the best of the {FAMILIES[second_family]} ({second})",
            "MAP@R",
        )
        + "."
    ]


STEPS = (prepare, baselines, train, report)
