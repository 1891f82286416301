"""Study 1: content-based image retrieval with a convolutional autoencoder on CIFAR-10.

Train an autoencoder with a 10-d code, check it (reconstructions, code pairplot, projection), then
rank all 60,000 images for test queries by several distances and compare precision@10 with raw
pixels and PCA-10 codes, and reconstruction error with PCA-10.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from tfml.data import load_cifar10, stratified_split
from tfml.models import build_autoencoder
from tfml.pipelines import reconstruction_dataset
from tfml.retrieval import ExactIndex, precision_at_k
from tfml.training import PSNR, ImageSummary, atomic_write, fit, get_strategy, prepare_run_dir, save_model, set_seed, write_text
from tfml.viz import image_rows, model_diagram, neighbour_grid, pairplot, project_2d, scatter_2d, training_curves, write_report
from tfml.workflows.study import StudyConfig

log = logging.getLogger(__name__)

DISTANCES = ("euclidean", "cosine", "manhattan", "chebyshev")


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "autoencoder"
    QUICK = {"data": "sample", "epochs": 10, "batch_size": 64, "projection": "pca"}  # 1.5 minutes on a slow 2-core VM
    data: str = "sample"
    epochs: int = 25
    batch_size: int = 128
    latent_dim: int = 10
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    projection: str = "umap"
    strategy: str = "default"
    n_queries: int = 20
    k: int = 10
    pixel_elementwise_queries: int = 1000


def retrieval_table(representations: dict[str, np.ndarray], labels: np.ndarray, n_train: int, config: Config):
    """precision@k of every representation x distance: base = all images (train then test), queries
    = the test images, each query excluded from its own results. Returns (table, neighbours) with
    neighbours[(name, distance)] = (distances, indices) of the first n_queries queries."""
    rows, neighbours = [], {}
    n_test = len(labels) - n_train
    for name, vectors in representations.items():
        for distance in DISTANCES:
            n_queries = n_test
            if name == "pixels" and distance in ("manhattan", "chebyshev"):
                n_queries = min(n_test, config.pixel_elementwise_queries)  # element-wise on 3,072-d is slow
            queries = np.arange(n_train, n_train + n_queries)
            index = ExactIndex(vectors, distance)
            found, indices = index.search(vectors[queries], config.k, exclude=queries, progress=True)
            retrieved = labels[indices]
            rows.append({
                "representation": name, "distance": distance, "dim": vectors.shape[1], "queries": n_queries,
                f"precision@{config.k}": precision_at_k(retrieved, labels[queries], config.k),
                f"precision@{config.k} (first {config.n_queries})": precision_at_k(
                    retrieved[: config.n_queries], labels[queries[: config.n_queries]], config.k),
            })
            neighbours[(name, distance)] = (found[: config.n_queries], indices[: config.n_queries])
            log.info("%s %s: precision@%d = %.4f", name, distance, config.k, rows[-1][f"precision@{config.k}"])
    return pd.DataFrame(rows), neighbours


def run(config: Config) -> Path:
    run_dir = config.resolved_run_dir()
    set_seed(config.seed)
    data = load_cifar10(config.data, seed=config.seed, progress=True)
    prepare_run_dir(run_dir, dataclasses.asdict(config), fresh=config.fresh, extra={"data_source": data.source})
    figures = run_dir / "figures"
    train_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed)
    x_fit, x_val = data.x_train[train_index], data.x_train[val_index]

    with get_strategy(config.strategy).scope():
        encoder, decoder, autoencoder = build_autoencoder(data.x_train.shape[1:], config.latent_dim)
        autoencoder.compile(keras.optimizers.Adam(config.learning_rate), keras.losses.MeanSquaredError(),
                            metrics=[keras.metrics.MeanSquaredError(name="mse"), PSNR()])
    model_diagram(autoencoder, figures / "architecture.png")
    history = fit(
        autoencoder,
        reconstruction_dataset(x_fit, config.batch_size, shuffle=True, seed=config.seed),
        validation=reconstruction_dataset(x_val, config.batch_size),
        run_dir=run_dir, epochs=config.epochs, checkpoint="autoencoder.h5",
        callbacks=[ImageSummary(x_val[:8], run_dir / "tensorboard")],
    )
    training_curves(history, figures / "training_curves.png", "autoencoder training")

    # The checkpoint holds the best epoch by validation loss; the test set picks nothing.
    autoencoder = keras.models.load_model(run_dir / "autoencoder.h5")
    encoder, decoder = autoencoder.get_layer("encoder"), autoencoder.get_layer("decoder")
    save_model(encoder, run_dir / "encoder.h5")
    save_model(decoder, run_dir / "decoder.h5")

    flat_train = x_fit.reshape(len(x_fit), -1)
    pca = PCA(config.latent_dim, random_state=config.seed).fit(flat_train)
    x_all = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test]).reshape(-1)
    n_train = len(data.x_train)
    codes = encoder.predict(x_all, batch_size=512, verbose=1)
    reconstructed = decoder.predict(codes[n_train:], batch_size=512, verbose=0)
    pca_codes = pca.transform(x_all.reshape(len(x_all), -1)).astype(np.float32)
    pca_reconstructed = pca.inverse_transform(pca_codes[n_train:]).reshape(data.x_test.shape)
    reconstruction = {
        "autoencoder": float(np.mean((reconstructed - data.x_test) ** 2)),
        f"pca{config.latent_dim}": float(np.mean((pca_reconstructed - data.x_test) ** 2)),
    }
    ids = [f"train/{i}" for i in range(n_train)] + [f"test/{i}" for i in range(len(data.x_test))]
    atomic_write(run_dir / "codes.npz", lambda path: np.savez_compressed(
        path, codes=codes, labels=labels, class_names=data.class_names, ids=ids, source=config.data, seed=config.seed))

    image_rows([data.x_test[:10], reconstructed[:10], pca_reconstructed[:10]], figures / "reconstructions.png",
               ["original", "autoencoder", f"PCA-{config.latent_dim}"],
               [data.class_names[c] for c in data.y_test[:10, 0]], "first 10 test images")
    names = np.array(data.class_names)
    sample = np.random.default_rng(config.seed).choice(len(data.x_test), 50, replace=False)
    pairplot(codes[n_train:][sample], names[data.y_test[sample, 0]], figures / "code_pairplot.png", "codes of 50 random test images")
    points = project_2d(codes[n_train:], config.projection, seed=config.seed)
    scatter_2d(points, names[data.y_test[:, 0]], figures / f"test_codes_{config.projection}.png",
               f"{config.projection.upper()} of the {len(points):,} test codes", class_order=data.class_names)

    representations = {"autoencoder": codes, f"pca{config.latent_dim}": pca_codes, "pixels": x_all.reshape(len(x_all), -1)}
    table, neighbours = retrieval_table(representations, labels, n_train, config)
    query_labels = names[data.y_test[: config.n_queries, 0]]
    for distance in DISTANCES:
        found, indices = neighbours[("autoencoder", distance)]
        neighbour_grid(data.x_test[: config.n_queries], x_all[indices], figures / f"neighbours_{distance}.png",
                       query_labels, names[labels[indices]], found,
                       f"autoencoder codes, {distance} distance: {config.k} nearest of {len(x_all):,} images")

    metrics = {f"reconstruction_mse/{name}": value for name, value in reconstruction.items()}
    for row in table.to_dict("records"):
        key = f"{row['representation']}/{row['distance']}"
        metrics[f"precision@{config.k}/{key}"] = row[f"precision@{config.k}"]
        metrics[f"precision@{config.k}_first{config.n_queries}/{key}"] = row[f"precision@{config.k} (first {config.n_queries})"]
    best = history.loc[history["val_loss"].idxmin()]
    metrics.update({"epochs": int(len(history)), "best_epoch": int(best["epoch"]) + 1,
                    "val_loss": float(best["val_loss"]), "val_psnr": float(best["val_psnr"]),
                    "n_train": int(len(x_fit)), "n_validation": int(len(x_val)), "n_test": int(len(data.x_test))})
    write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))

    figure_list = {"Architecture": "figures/architecture.png", "Training curves": "figures/training_curves.png",
                   "Reconstructions": "figures/reconstructions.png", "Code pairplot": "figures/code_pairplot.png",
                   f"{config.projection.upper()} of test codes": f"figures/test_codes_{config.projection}.png"}
    figure_list.update({f"Neighbours ({d})": f"figures/neighbours_{d}.png" for d in DISTANCES})
    write_report(
        run_dir, "Autoencoder image retrieval (CIFAR-10)", metrics,
        tables={"Retrieval: precision@10 (query excluded from its results)": table.set_index(["representation", "distance"]),
                "Reconstruction MSE on the test images": pd.DataFrame({"MSE": reconstruction})},
        figures=figure_list,
        notes=(f"Data: {data.source}; {len(x_fit):,} training, {len(x_val):,} validation (seeded, stratified), "
               f"{len(data.x_test):,} test images. Base for retrieval: all {len(x_all):,} images. Pixel baselines with "
               f"Manhattan/Chebyshev use the first {config.pixel_elementwise_queries:,} test queries."),
    )
    return run_dir
