"""Study 2: contrastive vs triplet metric learning, with and without mining, on traffic-sign crops.

Five runs at one embedding size (contrastive on offline random pairs, contrastive with hard pairs
in P x K batches, triplet on offline random triplets, triplet with semi-hard mining, batch-hard
triplet), then the best of them by MAP@R at two smaller sizes. Every run sees the same number of
images. Test images are classified by k-NN against the training embeddings; baselines are raw pixels
and the untrained network.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tfml.data import stratified_split
from tfml.data.traffic_signs import family_order, load_traffic_signs, sign_family
from tfml.losses import ContrastiveLoss, ContrastivePairLoss, TripletHardLoss, TripletMarginLoss, TripletSemiHardLoss
from tfml.models import build_embedding_net, build_siamese
from tfml.pipelines import labelled_batches, offline_pairs, offline_triplets, pk_indices
from tfml.retrieval import ExactIndex, LabelRelevance, evaluate_retrieval
from tfml.training import set_seed
from tfml.viz import project_2d, scatter_2d, training_curves
from tfml.viz.figures import distance_heatmap
from tfml.workflows.config import StudyConfig, option
from tfml.workflows.study import Run

# name -> (sampling, loss factory); sampling is "pk" (P x K batches, online mining), "pairs" or "triplets" (offline)
RUNS = {
    "contrastive": ("pairs", lambda c: ContrastivePairLoss(margin=c.contrastive_margin)),
    "contrastive-hard": ("pk", lambda c: ContrastiveLoss(margin=c.contrastive_margin, pairs="hard")),
    "triplet": ("triplets", lambda c: TripletMarginLoss(margin=c.triplet_margin)),
    "triplet-semihard": ("pk", lambda c: TripletSemiHardLoss(margin=c.triplet_margin)),
    "triplet-batchhard": ("pk", lambda c: TripletHardLoss(margin=c.triplet_margin)),
}
METRICS = ("knn@1", "knn@5", "balanced_knn@1", "precision@1", "r_precision", "map@r")


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "traffic-signs"
    TITLE = "Traffic signs: contrastive vs triplet, with and without mining"
    QUICK = {"epochs": 2, "max_classes": 10, "max_images_per_class": 60, "classes_per_batch": 8, "images_per_class": 6}
    data: str = option("../shared/data/tt100k-crops.tar.gz", "folder or .tar.gz with train/<code>/ and test/<code>/", metavar="SRC")
    image_size: int = option(64, "crops are padded to a square and resized to this many pixels", low=8)
    min_images: int = option(20, "classes with fewer crops (train and test merged) are dropped", low=2)
    dim: int = option(32, "embedding size of the five runs", low=1)
    other_dims: tuple[int, ...] = option((8, 16), "sizes tried for the best run", low=1)
    normalize: bool = option(True, "L2-normalise the embeddings")
    epochs: int = option(8, "training epochs of each run", low=1)
    classes_per_batch: int = option(30, "P of the P x K batches", low=2)
    images_per_class: int = option(8, "K of the P x K batches", low=2)
    learning_rate: float = option(1e-3, "Adam learning rate", above=0)
    contrastive_margin: float = option(1.0, "margin of the contrastive losses", above=0)
    triplet_margin: float = option(0.2, "margin of the triplet losses", above=0)
    validation_fraction: float = option(0.1, "share of the training images held out for validation", above=0, high=0.5)
    max_classes: int | None = option(None, "keep only the most frequent classes (quick mode)", low=2)
    max_images_per_class: int | None = option(None, "keep at most this many images per class (quick mode)", low=2)


def subset(images, labels, config: Config, class_names):
    """Quick mode: the max_classes most frequent classes, at most max_images_per_class each (seeded)."""
    counts = np.bincount(labels, minlength=len(class_names))
    classes = np.argsort(-counts, kind="stable")[: config.max_classes or len(class_names)]
    rng = np.random.default_rng(config.seed)
    keep = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[: config.max_images_per_class] for c in classes])
    keep.sort()
    remap = np.full(len(class_names), -1)
    remap[np.sort(classes)] = np.arange(len(classes))
    return images[keep], remap[labels[keep]], [class_names[c] for c in np.sort(classes)]


def epoch_order(sampling: str, labels: np.ndarray, config: Config, images_per_epoch: int):
    """(order(epoch) -> (indices, targets), items per batch); every sampling uses images_per_epoch
    images per epoch."""
    batch_images = config.classes_per_batch * config.images_per_class
    steps = math.ceil(images_per_epoch / batch_images)
    if sampling == "pk":
        def order(epoch):
            batches = pk_indices(labels, config.classes_per_batch, config.images_per_class, steps, config.seed, epoch).reshape(-1)
            return batches, labels[batches]
        return order, batch_images
    if sampling == "pairs":
        per_batch = batch_images // 2
        return lambda epoch: offline_pairs(labels, steps * per_batch, config.seed, epoch), per_batch
    per_batch = batch_images // 3
    return lambda epoch: (offline_triplets(labels, steps * per_batch, config.seed, epoch), np.zeros(steps * per_batch, np.int64)), per_batch


def train_run(run: Run, name: str, dim: int, data, fit_index, val_index, config: Config) -> keras.Model:
    """Trains (or resumes) one run, runs/<name>-d<dim>/, and returns its embedding network."""
    sampling, make_loss = RUNS[name]
    training = f"{name}-d{dim}"
    set_seed(config.seed)
    with run.scope():
        net = build_embedding_net((config.image_size, config.image_size, 3), dim, config.normalize)
        model = net if sampling == "pk" else build_siamese(net, 2 if sampling == "pairs" else 3)
        model.compile(keras.optimizers.Adam(config.learning_rate), make_loss(config))
    labels = data.y_train
    order, batch_size = epoch_order(sampling, labels[fit_index], config, len(fit_index))
    train = labelled_batches(data.x_train[fit_index], order, batch_size, config.epochs, config.seed)
    val_order, _ = epoch_order(sampling, labels[val_index], config, len(val_index))
    validation = labelled_batches(data.x_train[val_index], val_order, batch_size, 1, config.seed)(0, 0)
    history = run.fit(model, train, validation=validation, epochs=config.epochs, name=training, verbose=2)
    training_curves(history, run.figure(f"curves_{training}.png", f"Training curves: {name} d = {dim}"), f"{name}, d = {dim}")
    best = run.best_model(training)
    embedding = best if sampling == "pk" else best.get_layer("shared").layer
    run.save_model(embedding, f"runs/{training}/embedding_net.h5")
    return embedding


def evaluate(train_vectors, test_vectors, y_train, y_test) -> dict[str, float]:
    """k-NN classification (Euclidean, k = 1 and 5, ties to the nearest) and retrieval metrics of the
    test images against the training images."""
    result = evaluate_retrieval(ExactIndex(train_vectors), test_vectors, LabelRelevance(y_test, y_train), METRICS)
    return result.metrics


def embed(net: keras.Model, images: np.ndarray) -> np.ndarray:
    return net.predict(images, batch_size=512, verbose=0)


def run(config: Config) -> Path:
    run = Run(config)
    data = load_traffic_signs(config.data, config.image_size, config.min_images, seed=config.seed, progress=True)
    if config.max_classes or config.max_images_per_class:
        x_all = np.concatenate([data.x_train, data.x_test])
        y_all = np.concatenate([data.y_train, data.y_test])
        x_all, y_all, names = subset(x_all, y_all, config, data.class_names)
        train, test = stratified_split(y_all, 0.2, config.seed)
        data = dataclasses.replace(data, x_train=x_all[train], y_train=y_all[train], x_test=x_all[test], y_test=y_all[test], class_names=names)
    run.record(data_source=str(Path(config.data).resolve()), classes=len(data.class_names), train_images=len(data.x_train),
               test_images=len(data.x_test), dropped_classes=data.dropped_classes, skipped_files=data.skipped_files)
    fit_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed)

    rows, nets = [], {}
    pixels = lambda x: x.reshape(len(x), -1).astype(np.float32) / 255.0  # noqa: E731
    rows.append({"run": "raw pixels", "dim": pixels(data.x_train[:1]).shape[1],
                 **evaluate(pixels(data.x_train), pixels(data.x_test), data.y_train, data.y_test)})
    set_seed(config.seed)
    untrained = build_embedding_net((config.image_size, config.image_size, 3), config.dim, config.normalize)
    rows.append({"run": "untrained network", "dim": config.dim,
                 **evaluate(embed(untrained, data.x_train), embed(untrained, data.x_test), data.y_train, data.y_test)})
    for name in RUNS:
        nets[(name, config.dim)] = train_run(run, name, config.dim, data, fit_index, val_index, config)
    trained_rows = []
    for (name, dim), net in nets.items():
        trained_rows.append({"run": name, "dim": dim, **evaluate(embed(net, data.x_train), embed(net, data.x_test), data.y_train, data.y_test)})
    best = max(trained_rows, key=lambda row: row["map@r"])["run"]
    for dim in config.other_dims:
        net = train_run(run, best, dim, data, fit_index, val_index, config)
        nets[(best, dim)] = net
        trained_rows.append({"run": best, "dim": dim, **evaluate(embed(net, data.x_train), embed(net, data.x_test), data.y_train, data.y_test)})
    table = pd.DataFrame(rows + trained_rows)
    table.insert(1, "sampling", ["-", "-"] + [RUNS[row["run"]][0] for row in trained_rows])

    best_net = nets[(best, config.dim)]
    run.save_model(best_net, "best_embedding_net.h5")
    train_vectors, test_vectors = embed(best_net, data.x_train), embed(best_net, data.x_test)
    names = np.array(data.class_names)
    rng = np.random.default_rng(config.seed)
    shown = np.sort(rng.choice(len(train_vectors), min(5000, len(train_vectors)), replace=False))
    for method in ("tsne", "umap"):
        for split, vectors, labels, picked in (("train", train_vectors, data.y_train, shown), ("test", test_vectors, data.y_test, slice(None))):
            points = project_2d(vectors[picked], method, seed=config.seed)
            scatter_2d(points, names[labels[picked]], run.figure(f"{method}_{split}.png", f"{method.upper()}, {split}"),
                       f"{method.upper()} of {len(points):,} {split} embeddings ({best}, d = {config.dim})",
                       class_order=data.class_names, annotate=True)
    order = family_order(data.class_names)
    centroids = np.stack([train_vectors[data.y_train == c].mean(0) for c in order])
    distances = np.sqrt(((centroids[:, None] - centroids[None]) ** 2).sum(-1))
    distance_heatmap(distances, names[order].tolist(), [sign_family(names[c]) for c in order],
                     run.figure("centroid_distances.png", "Class-centroid distances by sign family"),
                     f"distances between class centroids ({best}, d = {config.dim}), ordered by sign family")

    metrics = {f"{row['run']}/d{row['dim']}/{key}": value for row in table.to_dict("records")
               for key, value in row.items() if key not in ("run", "dim", "sampling")}
    metrics["best_run"] = list(RUNS).index(best)
    run.table("k-NN classification and retrieval on the test images (base: training embeddings, Euclidean)", table.set_index(["run", "dim"]))
    run.note(f"Data: {config.data}; {len(data.class_names)} classes, {len(data.x_train):,} training and {len(data.x_test):,} test images "
             f"({config.image_size} x {config.image_size}, padded to square). Each run sees {len(fit_index):,} images per epoch for "
             f"{config.epochs} epochs (P x K = {config.classes_per_batch} x {config.images_per_class}; offline pairs / triplets "
             f"fill batches of the same number of images). Best run by MAP@R at d = {config.dim}: <b>{best}</b>. "
             "t-SNE/UMAP of the training set show a seeded sample of at most 5,000 images.")
    return run.finish(metrics)
