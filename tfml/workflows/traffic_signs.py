"""Study 2: contrastive vs triplet metric learning, with and without mining, on traffic-sign crops.

Five runs at one embedding size (contrastive on offline random pairs, contrastive with hard pairs
in P x K batches, triplet on offline random triplets, triplet with semi-hard mining, batch-hard
triplet), then the best of them by MAP@R at two smaller sizes. Every run sees the same number of
images. Test images are classified by k-NN against the training embeddings; baselines are raw pixels
and the untrained network.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import balanced_accuracy_score

from tfml.data import stratified_split
from tfml.data.traffic_signs import family_order, load_traffic_signs, sign_family
from tfml.losses import ContrastiveLoss, ContrastivePairLoss, TripletHardLoss, TripletMarginLoss, TripletSemiHardLoss
from tfml.models import build_embedding_net, build_siamese
from tfml.pipelines.sampling import gather_dataset, offline_pairs, offline_triplets, pk_indices
from tfml.retrieval import ExactIndex, count_relevant, knn_predict, map_at_r, precision_at_k, r_precision
from tfml.training import completed_epochs, fit, prepare_run_dir, save_model, set_seed, write_text
from tfml.viz import project_2d, scatter_2d, training_curves, write_report
from tfml.viz.figures import distance_heatmap
from tfml.workflows.study import StudyConfig

# name -> (sampling, loss factory); sampling is "pk" (P x K batches, online mining), "pairs" or "triplets" (offline)
RUNS = {
    "contrastive": ("pairs", lambda c: ContrastivePairLoss(margin=c.contrastive_margin)),
    "contrastive-hard": ("pk", lambda c: ContrastiveLoss(margin=c.contrastive_margin, pairs="hard")),
    "triplet": ("triplets", lambda c: TripletMarginLoss(margin=c.triplet_margin)),
    "triplet-semihard": ("pk", lambda c: TripletSemiHardLoss(margin=c.triplet_margin)),
    "triplet-batchhard": ("pk", lambda c: TripletHardLoss(margin=c.triplet_margin)),
}


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "traffic-signs"
    QUICK = {"epochs": 2, "max_classes": 10, "max_images_per_class": 60, "classes_per_batch": 8, "images_per_class": 6}
    data: str = "../shared/data/tt100k-crops.tar.gz"
    image_size: int = 64
    min_images: int = 20
    dim: int = 32
    other_dims: tuple[int, ...] = (8, 16)
    normalize: bool = True
    epochs: int = 8
    classes_per_batch: int = 30
    images_per_class: int = 8
    learning_rate: float = 1e-3
    contrastive_margin: float = 1.0
    triplet_margin: float = 0.2
    validation_fraction: float = 0.1
    max_classes: int | None = None  # quick mode: the most frequent classes only
    max_images_per_class: int | None = None


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


def training_batches(sampling: str, labels: np.ndarray, config: Config, epochs: range, images_per_epoch: int):
    """Index batches and targets for the given epochs; every sampling uses images_per_epoch images per epoch."""
    batch_images = config.classes_per_batch * config.images_per_class
    steps = math.ceil(images_per_epoch / batch_images)
    indices, targets = [], []
    for epoch in epochs:
        if sampling == "pk":
            batches = pk_indices(labels, config.classes_per_batch, config.images_per_class, steps, config.seed, epoch)
            indices.append(batches)
            targets.append(labels[batches])
        elif sampling == "pairs":
            per_batch = batch_images // 2
            pairs, similar = offline_pairs(labels, steps * per_batch, config.seed, epoch)
            indices.append(pairs.reshape(steps, per_batch, 2))
            targets.append(similar.reshape(steps, per_batch))
        else:
            per_batch = batch_images // 3
            triplets = offline_triplets(labels, steps * per_batch, config.seed, epoch)
            indices.append(triplets.reshape(steps, per_batch, 3))
            targets.append(np.zeros((steps, per_batch), np.int64))
    return np.concatenate(indices), np.concatenate(targets), steps


def train_run(name: str, dim: int, data, fit_index, val_index, config: Config, run_root: Path) -> keras.Model:
    """Trains (or resumes) one run in run_root/<name>-d<dim>/ and returns its embedding network."""
    sampling, make_loss = RUNS[name]
    run_dir = run_root / f"{name}-d{dim}"
    run_dir.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed)
    net = build_embedding_net((config.image_size, config.image_size, 3), dim, config.normalize)
    model = net if sampling == "pk" else build_siamese(net, 2 if sampling == "pairs" else 3)
    model.compile(keras.optimizers.Adam(config.learning_rate), make_loss(config))
    labels = data.y_train
    images_per_epoch = len(fit_index)
    start = completed_epochs(run_dir)
    train_idx, train_targets, steps = training_batches(sampling, labels[fit_index], config, range(start, config.epochs), images_per_epoch)
    val_idx, val_targets, _ = training_batches(sampling, labels[val_index], config, range(1), len(val_index))
    train = gather_dataset(data.x_train[fit_index], train_idx, train_targets)
    validation = gather_dataset(data.x_train[val_index], val_idx, val_targets)
    history = fit(model, train, validation=validation, run_dir=run_dir, epochs=config.epochs,
                  steps_per_epoch=steps, checkpoint="model.h5", verbose=2)
    training_curves(history, run_dir / "training_curves.png", f"{name}, d = {dim}")
    best = keras.models.load_model(run_dir / "model.h5")
    embedding = best if sampling == "pk" else best.get_layer("shared").layer
    save_model(embedding, run_dir / "embedding_net.h5")
    return embedding


def evaluate(train_vectors, test_vectors, y_train, y_test) -> dict[str, float]:
    """k-NN classification (Euclidean, k = 1 and 5, ties to the nearest) and retrieval metrics of the
    test images against the training images."""
    n_relevant = count_relevant(y_test, y_train, query_in_base=False)
    k = int(max(n_relevant.max(), 5))
    _, found = ExactIndex(train_vectors).search(test_vectors, k)
    neighbours = y_train[found]
    row = {}
    for knn in (1, 5):
        predicted = knn_predict(neighbours, knn)
        row[f"knn{knn}_accuracy"] = float(np.mean(predicted == y_test))
        row[f"knn{knn}_balanced_accuracy"] = float(balanced_accuracy_score(y_test, predicted))
    row["precision@1"] = precision_at_k(neighbours, y_test, 1)
    row["r_precision"] = r_precision(neighbours, y_test, n_relevant)
    row["map@r"] = map_at_r(neighbours, y_test, n_relevant)
    return row


def embed(net: keras.Model, images: np.ndarray) -> np.ndarray:
    return net.predict(images.astype(np.float32) / 255.0, batch_size=512, verbose=0)


def run(config: Config) -> Path:
    run_dir = config.resolved_run_dir()
    set_seed(config.seed)
    data = load_traffic_signs(config.data, config.image_size, config.min_images, seed=config.seed, progress=True)
    if config.max_classes or config.max_images_per_class:
        x_all = np.concatenate([data.x_train, data.x_test])
        y_all = np.concatenate([data.y_train, data.y_test])
        x_all, y_all, names = subset(x_all, y_all, config, data.class_names)
        train, test = stratified_split(y_all, 0.2, config.seed)
        data = dataclasses.replace(data, x_train=x_all[train], y_train=y_all[train], x_test=x_all[test], y_test=y_all[test], class_names=names)
    prepare_run_dir(run_dir, dataclasses.asdict(config), fresh=config.fresh,
                    extra={"classes": len(data.class_names), "train_images": len(data.x_train), "test_images": len(data.x_test),
                           "dropped_classes": data.dropped_classes})
    fit_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed)
    figures = run_dir / "figures"

    rows, nets = [], {}
    pixels = lambda x: x.reshape(len(x), -1).astype(np.float32) / 255.0  # noqa: E731
    rows.append({"run": "raw pixels", "dim": pixels(data.x_train[:1]).shape[1],
                 **evaluate(pixels(data.x_train), pixels(data.x_test), data.y_train, data.y_test)})
    set_seed(config.seed)
    untrained = build_embedding_net((config.image_size, config.image_size, 3), config.dim, config.normalize)
    rows.append({"run": "untrained network", "dim": config.dim,
                 **evaluate(embed(untrained, data.x_train), embed(untrained, data.x_test), data.y_train, data.y_test)})
    for name in RUNS:
        nets[(name, config.dim)] = train_run(name, config.dim, data, fit_index, val_index, config, run_dir / "runs")
    trained_rows = []
    for (name, dim), net in nets.items():
        trained_rows.append({"run": name, "dim": dim, **evaluate(embed(net, data.x_train), embed(net, data.x_test), data.y_train, data.y_test)})
    best = max(trained_rows, key=lambda row: row["map@r"])["run"]
    for dim in config.other_dims:
        net = train_run(best, dim, data, fit_index, val_index, config, run_dir / "runs")
        nets[(best, dim)] = net
        trained_rows.append({"run": best, "dim": dim, **evaluate(embed(net, data.x_train), embed(net, data.x_test), data.y_train, data.y_test)})
    table = pd.DataFrame(rows + trained_rows)
    table.insert(1, "sampling", ["-", "-"] + [RUNS[row["run"]][0] for row in trained_rows])

    best_net = nets[(best, config.dim)]
    save_model(best_net, run_dir / "best_embedding_net.h5")
    train_vectors, test_vectors = embed(best_net, data.x_train), embed(best_net, data.x_test)
    names = np.array(data.class_names)
    rng = np.random.default_rng(config.seed)
    shown = np.sort(rng.choice(len(train_vectors), min(5000, len(train_vectors)), replace=False))
    figure_list = {}
    for method in ("tsne", "umap"):
        for split, vectors, labels, picked in (("train", train_vectors, data.y_train, shown), ("test", test_vectors, data.y_test, slice(None))):
            points = project_2d(vectors[picked], method, seed=config.seed)
            path = f"figures/{method}_{split}.png"
            scatter_2d(points, names[labels[picked]], run_dir / path,
                       f"{method.upper()} of {len(points):,} {split} embeddings ({best}, d = {config.dim})",
                       class_order=data.class_names, annotate=True)
            figure_list[f"{method.upper()}, {split}"] = path
    order = family_order(data.class_names)
    centroids = np.stack([train_vectors[data.y_train == c].mean(0) for c in order])
    distances = np.sqrt(((centroids[:, None] - centroids[None]) ** 2).sum(-1))
    distance_heatmap(distances, names[order].tolist(), [sign_family(names[c]) for c in order], run_dir / "figures/centroid_distances.png",
                     f"distances between class centroids ({best}, d = {config.dim}), ordered by sign family")
    figure_list["Class-centroid distances by sign family"] = "figures/centroid_distances.png"
    for row in trained_rows:
        figure_list[f"Training curves: {row['run']} d = {row['dim']}"] = str(Path("runs") / f"{row['run']}-d{row['dim']}" / "training_curves.png")

    metrics = {f"{row['run']}/d{row['dim']}/{key}": value for row in table.to_dict("records")
               for key, value in row.items() if key not in ("run", "dim", "sampling")}
    metrics["best_run"] = list(RUNS).index(best)
    write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    write_report(
        run_dir, "Traffic signs: contrastive vs triplet, with and without mining", metrics,
        tables={"k-NN classification and retrieval on the test images (base: training embeddings, Euclidean)": table.set_index(["run", "dim"])},
        figures=figure_list,
        notes=(f"Data: {config.data}; {len(data.class_names)} classes, {len(data.x_train):,} training and {len(data.x_test):,} test images "
               f"({config.image_size} x {config.image_size}, padded to square). Each run sees {len(fit_index):,} images per epoch for "
               f"{config.epochs} epochs (P x K = {config.classes_per_batch} x {config.images_per_class}; offline pairs / triplets "
               f"fill batches of the same number of images). Best run by MAP@R at d = {config.dim}: <b>{best}</b>. "
               "t-SNE/UMAP of the training set show a seeded sample of at most 5,000 images."),
    )
    return run_dir
