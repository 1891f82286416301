"""Study 1: content-based image retrieval with a convolutional autoencoder on CIFAR-10.

Train an autoencoder with a 10-d code, check it (reconstructions, code pairplot, projection), then
rank all 60,000 images for test queries by several distances and compare precision@10 with raw
pixels and PCA-10 codes, and reconstruction error with PCA-10.
"""

from __future__ import annotations

import dataclasses
import logging

import keras
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from tfml.config import option
from tfml.data import load_cifar10, stratified_split
from tfml.data.cifar10 import Cifar10
from tfml.io import sha256
from tfml.models import build_autoencoder, describe_input
from tfml.pipelines import reconstruction_batches, reconstruction_pairs, unit_float_array
from tfml.retrieval import (
    Codes,
    ExactIndex,
    LabelRelevance,
    chance_precision,
    evaluate_retrieval,
    paired_difference,
    save_codes,
)
from tfml.training import PSNR, ImageSummary, Run, StudyConfig, flatten
from tfml.viz import image_rows, model_diagram, neighbour_grid, pairplot, project_2d, scatter_2d, write_projector

log = logging.getLogger(__name__)

DISTANCES = ("euclidean", "cosine", "manhattan", "chebyshev")


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "autoencoder"
    TITLE = "Autoencoder image retrieval (CIFAR-10)"
    QUICK = {"data": "sample", "epochs": 10, "batch_size": 64, "projection": "pca"}  # 1.5 minutes on a slow 2-core VM
    data: str = option(
        "sample",
        "'cifar10' (download), 'sample' (embedded) or a folder/.tar.gz with train/ and test/ class folders",
        metavar="SRC",
    )
    epochs: int = option(25, "training epochs", low=1)
    batch_size: int = option(128, "images per batch", low=1)
    latent_dim: int = option(10, "size of the code", low=1)
    learning_rate: float = option(1e-3, "Adam learning rate", above=0)
    validation_fraction: float = option(
        0.1, "share of the training images held out to pick the best epoch", above=0, high=0.5
    )
    projection: str = option("umap", "2-D projection of the test codes", choices=("umap", "tsne", "pca"))
    n_queries: int = option(20, "test queries shown in the neighbour figures", low=1)
    k: int = option(10, "neighbours retrieved per query (precision@k)", low=1)
    pixel_elementwise_queries: int = option(
        1000, "test queries for raw pixels with Manhattan/Chebyshev distances (element-wise on 3,072-d is slow)", low=1
    )


@dataclasses.dataclass
class Prepared:
    data: Cifar10
    x_fit: np.ndarray  # training images (uint8)
    x_val: np.ndarray  # validation images: pick the checkpoint
    x_all: np.ndarray  # the retrieval base: training then test images
    labels: np.ndarray  # labels of x_all


@dataclasses.dataclass
class Trained:
    autoencoder: keras.Model  # the checkpoint of the best epoch
    encoder_path: str  # encoder.h5, which made the codes file


@dataclasses.dataclass
class Evaluation:
    codes: np.ndarray  # autoencoder codes of x_all
    reconstructed: np.ndarray  # the test images through the autoencoder, and through PCA
    pca_reconstructed: np.ndarray
    reconstruction: dict[str, float]  # test MSE per model
    table: pd.DataFrame  # precision@k per representation and distance
    neighbours: dict  # (representation, distance) -> (distances, indices) of the shown queries
    per_query: dict  # (representation, distance) -> precision@k of each query
    chance: float  # precision@k of a random ranking of the same base


def prepare(run: Run) -> Prepared:
    """Load CIFAR-10 from the named source; hold out a stratified validation share of the training images."""
    config = run.config
    data = load_cifar10(config.data, seed=config.seed, progress=True)
    run.record(data_source=data.source)
    fit_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed, data.class_names)
    return Prepared(
        data,
        data.x_train[fit_index],
        data.x_train[val_index],
        np.concatenate([data.x_train, data.x_test]),
        np.concatenate([data.y_train, data.y_test]).reshape(-1),
    )


def train(run: Run, prepared: Prepared) -> Trained:
    """Train the autoencoder; the checkpoint is its best epoch by validation loss (the test set picks nothing)."""
    config = run.config
    with run.scope():
        encoder, decoder, autoencoder = build_autoencoder(prepared.data.x_train.shape[1:], config.latent_dim)
        autoencoder.compile(
            keras.optimizers.Adam(config.learning_rate), keras.losses.MeanSquaredError(), metrics=[PSNR()]
        )
    model_diagram(autoencoder, run.figure("architecture.png", "Architecture"))
    run.fit(
        autoencoder,
        reconstruction_batches(prepared.x_fit, config.batch_size, config.seed, config.epochs),
        validation=reconstruction_pairs(prepared.x_val, batch_size=config.batch_size),
        epochs=config.epochs,
        checkpoint="autoencoder.h5",
        callbacks=[ImageSummary(prepared.x_val[:8], run.path("tensorboard"))],
        curves="autoencoder training (loss = mean squared error)",
    )
    autoencoder = run.best_model()
    encoder_path = run.save_model(autoencoder.get_layer("encoder"), "encoder.h5")
    run.save_model(autoencoder.get_layer("decoder"), "decoder.h5")
    return Trained(autoencoder, str(encoder_path))


def evaluate(run: Run, prepared: Prepared, trained: Trained) -> Evaluation:
    """Codes (saved as codes.npz), reconstructions and precision@k of the autoencoder against PCA
    codes and raw pixels."""
    config, data = run.config, prepared.data
    encoder, n_train = trained.autoencoder.get_layer("encoder"), len(data.x_train)
    codes = encoder.predict(prepared.x_all, batch_size=512, verbose=0)
    run.save(
        "codes.npz",
        save_codes,
        Codes(
            codes,
            prepared.labels,
            data.ids_train + data.ids_test,
            data.class_names,
            config.data,
            {"model": trained.encoder_path, "sha256": sha256(trained.encoder_path), **describe_input(encoder)},
        ),
    )
    pixels = unit_float_array(prepared.x_all.reshape(len(prepared.x_all), -1))
    pca = PCA(config.latent_dim, random_state=config.seed).fit(
        unit_float_array(prepared.x_fit.reshape(len(prepared.x_fit), -1))
    )
    reconstructed = trained.autoencoder.get_layer("decoder").predict(codes[n_train:], batch_size=512, verbose=0)
    pca_codes = pca.transform(pixels).astype(np.float32)
    pca_reconstructed = pca.inverse_transform(pca_codes[n_train:]).reshape(data.x_test.shape)
    x_test_unit = unit_float_array(data.x_test)
    reconstruction = {
        "autoencoder": float(np.mean((reconstructed - x_test_unit) ** 2)),
        f"pca{config.latent_dim}": float(np.mean((pca_reconstructed - x_test_unit) ** 2)),
    }
    table, neighbours, per_query = retrieval_table(
        {"autoencoder": codes, f"pca{config.latent_dim}": pca_codes, "pixels": pixels}, prepared.labels, n_train, config
    )
    queries = np.arange(n_train, len(prepared.labels))
    chance = chance_precision(LabelRelevance(prepared.labels[queries], prepared.labels), exclude=queries)
    return Evaluation(codes, reconstructed, pca_reconstructed, reconstruction, table, neighbours, per_query, chance)


def retrieval_table(representations: dict[str, np.ndarray], labels: np.ndarray, n_train: int, config: Config):
    """precision@k of every representation x distance: base = all images (train then test), queries
    = the test images, each query excluded from its own results. Returns (table, neighbours,
    per_query) with neighbours[(name, distance)] = (distances, indices) of the first n_queries
    queries and per_query[(name, distance)] the precision@k of each query."""
    rows, neighbours, per_query = [], {}, {}
    n_test = len(labels) - n_train
    metric = f"precision@{config.k}"
    for name, vectors in representations.items():
        for distance in DISTANCES:
            n_queries = n_test
            if name == "pixels" and distance in ("manhattan", "chebyshev"):
                n_queries = min(n_test, config.pixel_elementwise_queries)
            queries = np.arange(n_train, n_train + n_queries)
            result = evaluate_retrieval(
                ExactIndex(vectors, distance),
                vectors[queries],
                LabelRelevance(labels[queries], labels),
                [metric],
                exclude=queries,
                progress=True,
            )
            shown = min(config.n_queries, n_queries)
            rows.append(
                {
                    "representation": name,
                    "distance": distance,
                    "dim": vectors.shape[1],
                    "queries": n_queries,
                    metric: result.metrics[metric],
                    f"{metric} (first {shown})": float(np.mean(result.per_query[metric][:shown])),
                }
            )
            neighbours[(name, distance)] = (result.distances[:shown], result.indices[:shown])
            per_query[(name, distance)] = result.per_query[metric]
            log.info("%s %s: %s = %.4f", name, distance, metric, rows[-1][metric])
    return pd.DataFrame(rows).set_index(["representation", "distance"]), neighbours, per_query


def figures(run: Run, prepared: Prepared, evaluation: Evaluation) -> None:
    """Reconstructions, a code pairplot, a 2-D projection and a TensorBoard projector export of the
    test codes, and the test queries' neighbours by each distance."""
    config, data = run.config, prepared.data
    n_train, names = len(data.x_train), np.array(data.class_names)
    test_codes = evaluation.codes[n_train:]
    run.save(
        "tensorboard/projector/test_codes",
        write_projector,
        test_codes,
        pd.DataFrame({"class": names[data.y_test[:, 0]], "image": data.ids_test}),
        data.x_test,
    )
    image_rows(
        [data.x_test[:10], evaluation.reconstructed[:10], evaluation.pca_reconstructed[:10]],
        run.figure("reconstructions.png", "Reconstructions of the first 10 test images"),
        ["original", "autoencoder", f"PCA-{config.latent_dim}"],
        [data.class_names[c] for c in data.y_test[:10, 0]],
    )
    sample = np.random.default_rng(config.seed).choice(len(data.x_test), 50, replace=False)
    pairplot(
        test_codes[sample],
        names[data.y_test[sample, 0]],
        run.figure("code_pairplot.png", "Code pairplot"),
        "codes of 50 random test images",
    )
    points = project_2d(test_codes, config.projection, seed=config.seed)
    method = config.projection.upper()
    scatter_2d(
        points,
        names[data.y_test[:, 0]],
        run.figure(f"test_codes_{config.projection}.png", f"{method} of test codes"),
        f"{method} of the {len(points):,} test codes",
        class_order=data.class_names,
    )
    neighbour_figures(run, prepared, evaluation)


def neighbour_figures(run: Run, prepared: Prepared, evaluation: Evaluation) -> None:
    """The first test queries and their nearest images by the autoencoder's codes, for each distance."""
    config, data, names = run.config, prepared.data, np.array(prepared.data.class_names)
    shown = min(config.n_queries, len(data.x_test))
    for distance in DISTANCES:
        found, indices = evaluation.neighbours[("autoencoder", distance)]
        neighbour_grid(
            data.x_test[:shown],
            prepared.x_all[indices],
            run.figure(f"neighbours_{distance}.png", f"Neighbours ({distance})"),
            names[data.y_test[:shown, 0]],
            names[prepared.labels[indices]],
            found,
            f"autoencoder codes, {distance} distance: {config.k} nearest of {len(prepared.x_all):,} images",
        )


def report(run: Run, prepared: Prepared, trained: Trained, evaluation: Evaluation) -> None:
    """Tables, metrics and what the numbers say."""
    config, data = run.config, prepared.data
    figures(run, prepared, evaluation)
    metric, shown = f"precision@{config.k}", min(config.n_queries, len(data.x_test))
    table = evaluation.table
    run.add_metrics(flatten(pd.DataFrame({"MSE": evaluation.reconstruction}), "reconstruction_mse/{index}"))
    first = table[[metric, f"{metric} (first {shown})"]].rename(
        columns={f"{metric} (first {shown})": f"{metric}_first{shown}"}
    )
    run.add_metrics(flatten(first, "{column}/{index}"))
    history = run.history()
    best = history.loc[history["val_loss"].idxmin()]
    run.add_metrics(
        {
            "epochs": len(history),
            "best_epoch": int(best["epoch"]) + 1,
            "val_loss": best["val_loss"],
            "val_psnr": best["val_psnr"],
            "n_train": len(prepared.x_fit),
            "n_validation": len(prepared.x_val),
            "n_test": len(data.x_test),
        }
    )
    run.summarise(
        f"{len(prepared.x_fit):,} training, {len(prepared.x_val):,} validation and {len(data.x_test):,} test images, "
        f"{len(history)} epochs (best: {int(best['epoch']) + 1}, by validation loss). Each of the {len(data.x_test):,} "
        f"test images queries all {len(prepared.x_all):,} images (itself left out); {metric} is the share of its "
        f"{config.k} nearest that have its class."
    )
    run.summarise(measured(table[metric], evaluation, config))
    run.finding(interpretation(evaluation, config))
    run.table(f"Retrieval: {metric} (query excluded from its results)", table)
    run.table("Reconstruction MSE on the test images", pd.DataFrame({"MSE": evaluation.reconstruction}))
    run.note(
        f"Data: {data.source}. Validation: a seeded, class-stratified {config.validation_fraction:.0%} of the training "
        f"images picks the checkpoint; the test set picks nothing. Pixel baselines with Manhattan/Chebyshev use the "
        f"first {min(config.pixel_elementwise_queries, len(data.x_test)):,} test queries."
    )


def measured(precision: pd.Series, evaluation: Evaluation, config: Config) -> str:
    """The headline numbers: the codes against the baselines with Euclidean distance, and chance."""
    metric, pca_name = f"precision@{config.k}", f"pca{config.latent_dim}"
    ours, pixels, pca = (precision[(name, "euclidean")] for name in ("autoencoder", "pixels", pca_name))
    reconstruction = evaluation.reconstruction
    return (
        f"With Euclidean distance the autoencoder's {config.latent_dim}-number codes find same-class images at "
        f"{metric} = {ours:.3f}, against {pixels:.3f} for the raw pixels and {pca:.3f} for PCA-{config.latent_dim} "
        f"codes (a random ranking: {evaluation.chance:.3f}). Reconstruction error (MSE on the test images): "
        f"{reconstruction['autoencoder']:.4f} for the autoencoder, {reconstruction[pca_name]:.4f} for "
        f"PCA-{config.latent_dim}."
    )


def interpretation(evaluation: Evaluation, config: Config) -> str:
    """Whether the codes beat each baseline with Euclidean distance, by the paired bootstrap interval
    of the per-query difference (a difference whose interval holds 0 is a tie)."""
    metric, pca_name = f"precision@{config.k}", f"pca{config.latent_dim}"
    ours = evaluation.per_query[("autoencoder", "euclidean")]
    sentences = [
        paired_difference(ours, evaluation.per_query[(name, "euclidean")], seed=config.seed).sentence(
            "The autoencoder", label, metric
        )
        for name, label in (("pixels", "the raw pixels"), (pca_name, f"PCA-{config.latent_dim}"))
    ]
    return "; ".join(sentences) + "."


STEPS = (prepare, train, evaluate, report)
