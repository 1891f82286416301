"""Study 1: content-based image retrieval with a convolutional autoencoder on CIFAR-10.

Train an autoencoder with a 10-d code, check it (reconstructions, code pairplot, projection), then
rank all 60,000 images for test queries by several distances and compare precision@10 with raw
pixels and PCA-10 codes, and reconstruction error with PCA-10.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from tfml import zoo
from tfml.data import load_cifar10, stratified_split
from tfml.models import build_autoencoder, describe_input
from tfml.pipelines import reconstruction_batches, reconstruction_pairs
from tfml.retrieval import Codes, ExactIndex, LabelRelevance, evaluate_retrieval
from tfml.training import PSNR, ImageSummary, sha256
from tfml.viz import image_rows, model_diagram, neighbour_grid, pairplot, project_2d, scatter_2d, training_curves
from tfml.workflows.config import StudyConfig, option
from tfml.workflows.study import Run

log = logging.getLogger(__name__)

DISTANCES = ("euclidean", "cosine", "manhattan", "chebyshev")
ZOO_MODEL = "cifar10-autoencoder"


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "autoencoder"
    TITLE = "Autoencoder image retrieval (CIFAR-10)"
    QUICK = {"data": "sample", "epochs": 10, "batch_size": 64, "projection": "pca"}  # 1.5 minutes on a slow 2-core VM
    data: str = option("sample", "'cifar10' (download), 'sample' (embedded) or a folder/.tar.gz with train/ and test/ class folders",
                       metavar="SRC")
    epochs: int = option(25, "training epochs", low=1)
    batch_size: int = option(128, "images per batch", low=1)
    latent_dim: int = option(10, "size of the code", low=1)
    learning_rate: float = option(1e-3, "Adam learning rate", above=0)
    validation_fraction: float = option(0.1, "share of the training images held out to pick the best epoch", above=0, high=0.5)
    projection: str = option("umap", "2-D projection of the test codes", choices=("umap", "tsne", "pca"))
    n_queries: int = option(20, "test queries shown in the neighbour figures", low=1)
    k: int = option(10, "neighbours retrieved per query (precision@k)", low=1)
    pixel_elementwise_queries: int = option(1000, "test queries for raw pixels with Manhattan/Chebyshev distances "
                                            "(element-wise on 3,072-d is slow)", low=1)


def retrieval_table(representations: dict[str, np.ndarray], labels: np.ndarray, n_train: int, config: Config):
    """precision@k of every representation x distance: base = all images (train then test), queries
    = the test images, each query excluded from its own results. Returns (table, neighbours) with
    neighbours[(name, distance)] = (distances, indices) of the first n_queries queries."""
    rows, neighbours = [], {}
    n_test = len(labels) - n_train
    metric = f"precision@{config.k}"
    for name, vectors in representations.items():
        for distance in DISTANCES:
            n_queries = n_test
            if name == "pixels" and distance in ("manhattan", "chebyshev"):
                n_queries = min(n_test, config.pixel_elementwise_queries)
            queries = np.arange(n_train, n_train + n_queries)
            result = evaluate_retrieval(ExactIndex(vectors, distance), vectors[queries], LabelRelevance(labels[queries], labels),
                                        [metric], exclude=queries, progress=True)
            shown = min(config.n_queries, n_queries)
            rows.append({"representation": name, "distance": distance, "dim": vectors.shape[1], "queries": n_queries,
                         metric: result.metrics[metric],
                         f"{metric} (first {shown})": float(np.mean(result.per_query[metric][:shown]))})
            neighbours[(name, distance)] = (result.distances[:shown], result.indices[:shown])
            log.info("%s %s: %s = %.4f", name, distance, metric, rows[-1][metric])
    return pd.DataFrame(rows), neighbours


def interpretation(table: pd.DataFrame, reconstruction: dict, config: Config, n_images: int) -> str:
    """What the numbers say, in words: whether the codes beat the baselines, and, when they do not
    (the small sample), what the full run gives (from the zoo's record)."""
    metric = f"precision@{config.k}"
    euclidean = table[table["distance"] == "euclidean"].set_index("representation")[metric]
    ours, pixels, pca = euclidean["autoencoder"], euclidean["pixels"], euclidean[f"pca{config.latent_dim}"]
    verdict = (f"With Euclidean distance the autoencoder's 10-number codes find same-class images at {metric} = {ours:.3f} "
               f"(chance: 0.100), against {pixels:.3f} for the 3,072 raw pixels and {pca:.3f} for PCA-{config.latent_dim} codes.")
    if ours >= max(pixels, pca):
        verdict += " The learned codes beat both baselines while being 300 times shorter than the pixels."
    else:
        verdict += (f" Here they are below {'both baselines' if ours < min(pixels, pca) else 'a baseline'}: "
                    f"{n_images:,} images are too few for a convolutional autoencoder to learn more than colour and layout.")
        try:
            recorded = zoo.entry(ZOO_MODEL)["metrics"]
            verdict += (f" The full run on all 60,000 CIFAR-10 images (the zoo's <code>{ZOO_MODEL}</code>) reaches "
                        f"{recorded['precision@10/autoencoder/euclidean']:.3f} against {recorded['precision@10/pixels/euclidean']:.3f} "
                        f"(pixels) and {recorded['precision@10/pca10/euclidean']:.3f} (PCA-10).")
        except (KeyError, FileNotFoundError):
            pass
    better = "better" if reconstruction["autoencoder"] < reconstruction[f"pca{config.latent_dim}"] else "worse"
    verdict += (f" Reconstruction error (MSE on the test images): {reconstruction['autoencoder']:.4f} for the autoencoder, "
                f"{better} than PCA-{config.latent_dim}'s {reconstruction[f'pca{config.latent_dim}']:.4f}.")
    return verdict


def run(config: Config) -> Path:
    run = Run(config)
    data = load_cifar10(config.data, seed=config.seed, progress=True)
    run.record(data_source=data.source)
    train_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed)
    x_fit, x_val = data.x_train[train_index], data.x_train[val_index]

    with run.scope():
        encoder, decoder, autoencoder = build_autoencoder(data.x_train.shape[1:], config.latent_dim)
        autoencoder.compile(keras.optimizers.Adam(config.learning_rate), keras.losses.MeanSquaredError(), metrics=[PSNR()])
    model_diagram(autoencoder, run.figure("architecture.png", "Architecture"))
    history = run.fit(autoencoder, reconstruction_batches(x_fit, config.batch_size, config.seed, config.epochs),
                      validation=reconstruction_pairs(x_val, batch_size=config.batch_size), epochs=config.epochs,
                      checkpoint="autoencoder.h5", callbacks=[ImageSummary(x_val[:8], run.path("tensorboard"))])
    training_curves(history, run.figure("training_curves.png", "Training curves (loss = mean squared error)"),
                    "autoencoder training")

    # The checkpoint holds the best epoch by validation loss; the test set picks nothing.
    autoencoder = run.best_model()
    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    encoder_path = run.save_model(encoder, "encoder.h5")
    run.save_model(decoder, "decoder.h5")

    x_all = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test]).reshape(-1)
    n_train = len(data.x_train)
    x_test_unit = data.x_test.astype(np.float32) / 255.0
    pca = PCA(config.latent_dim, random_state=config.seed).fit(x_fit.reshape(len(x_fit), -1).astype(np.float32) / 255.0)
    codes = encoder.predict(x_all, batch_size=512, verbose=0)
    reconstructed = decoder.predict(codes[n_train:], batch_size=512, verbose=0)
    pixels = x_all.reshape(len(x_all), -1).astype(np.float32) / 255.0
    pca_codes = pca.transform(pixels).astype(np.float32)
    pca_reconstructed = pca.inverse_transform(pca_codes[n_train:]).reshape(data.x_test.shape)
    reconstruction = {
        "autoencoder": float(np.mean((reconstructed - x_test_unit) ** 2)),
        f"pca{config.latent_dim}": float(np.mean((pca_reconstructed - x_test_unit) ** 2)),
    }
    run.save_codes(Codes(codes, labels, data.ids_train + data.ids_test, data.class_names, config.data,
                         {"model": str(encoder_path), "sha256": sha256(encoder_path), **describe_input(encoder)}))

    names = np.array(data.class_names)
    run.project("test_codes", codes[n_train:], pd.DataFrame({"class": names[data.y_test[:, 0]], "image": data.ids_test}), data.x_test)
    image_rows([data.x_test[:10], reconstructed[:10], pca_reconstructed[:10]],
               run.figure("reconstructions.png", "Reconstructions of the first 10 test images"),
               ["original", "autoencoder", f"PCA-{config.latent_dim}"], [data.class_names[c] for c in data.y_test[:10, 0]])
    sample = np.random.default_rng(config.seed).choice(len(data.x_test), 50, replace=False)
    pairplot(codes[n_train:][sample], names[data.y_test[sample, 0]], run.figure("code_pairplot.png", "Code pairplot"),
             "codes of 50 random test images")
    points = project_2d(codes[n_train:], config.projection, seed=config.seed)
    scatter_2d(points, names[data.y_test[:, 0]], run.figure(f"test_codes_{config.projection}.png", f"{config.projection.upper()} of test codes"),
               f"{config.projection.upper()} of the {len(points):,} test codes", class_order=data.class_names)

    representations = {"autoencoder": codes, f"pca{config.latent_dim}": pca_codes, "pixels": pixels}
    table, neighbours = retrieval_table(representations, labels, n_train, config)
    shown = min(config.n_queries, len(data.x_test))
    query_labels = names[data.y_test[:shown, 0]]
    for distance in DISTANCES:
        found, indices = neighbours[("autoencoder", distance)]
        neighbour_grid(data.x_test[:shown], x_all[indices], run.figure(f"neighbours_{distance}.png", f"Neighbours ({distance})"),
                       query_labels, names[labels[indices]], found,
                       f"autoencoder codes, {distance} distance: {config.k} nearest of {len(x_all):,} images")

    metrics = {f"reconstruction_mse/{name}": value for name, value in reconstruction.items()}
    metric = f"precision@{config.k}"
    for row in table.to_dict("records"):
        key = f"{row['representation']}/{row['distance']}"
        metrics[f"{metric}/{key}"] = row[metric]
        metrics[f"{metric}_first{shown}/{key}"] = row[f"{metric} (first {shown})"]
    best = history.loc[history["val_loss"].idxmin()]
    metrics.update({"epochs": int(len(history)), "best_epoch": int(best["epoch"]) + 1,
                    "val_loss": float(best["val_loss"]), "val_psnr": float(best["val_psnr"]),
                    "n_train": int(len(x_fit)), "n_validation": int(len(x_val)), "n_test": int(len(data.x_test))})

    what = "quick mode on the embedded 2,500-image sample" if config.data == "sample" else f"data: {data.source}"
    run.summarise(f"Run: {what}; {len(x_fit):,} training, {len(x_val):,} validation and {len(data.x_test):,} test images, "
                  f"{len(history)} epochs (best: {metrics['best_epoch']}, by validation loss). Each of the {len(data.x_test):,} "
                  f"test images queries all {len(x_all):,} images (itself left out); precision@{config.k} is the share of its "
                  f"{config.k} nearest that have its class.")
    run.summarise(interpretation(table, reconstruction, config, len(x_all)))
    run.table(f"Retrieval: precision@{config.k} (query excluded from its results)", table.set_index(["representation", "distance"]))
    run.table("Reconstruction MSE on the test images", pd.DataFrame({"MSE": reconstruction}))
    run.note(f"Data: {data.source}. Validation: a seeded, class-stratified {config.validation_fraction:.0%} of the training "
             f"images picks the checkpoint; the test set picks nothing. Pixel baselines with Manhattan/Chebyshev use the "
             f"first {min(config.pixel_elementwise_queries, len(data.x_test)):,} test queries.")
    return run.finish(metrics)
