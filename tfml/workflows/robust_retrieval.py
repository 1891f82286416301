"""Study 1b: retrieval that survives noise and projective distortion.

Continue training a trained autoencoder with distorted inputs (clean targets) mixed into its
batches on a growing schedule, then compare the old and the retrained model on distorted test
queries: reconstruction error against the clean image, precision@10 against the clean base without
the query's own source, and how often the query finds its own source at rank 1 and in the top 10.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tfml.data import load_cifar10, stratified_split
from tfml.pipelines.distortions import DistortionSchedule, distort_batch, mix_distortions
from tfml.pipelines.images import epoch_keyed_reconstruction_dataset
from tfml.retrieval import ExactIndex, precision_at_k
from tfml.training import PSNR, completed_epochs, fit, prepare_run_dir, save_model, set_seed, write_text
from tfml.viz import image_rows, neighbour_grid, training_curves, write_report
from tfml.workflows.study import StudyConfig


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "robust"
    QUICK = {"data": "sample", "epochs": 3, "batch_size": 64, "eval_noise": (0.1, 0.3), "eval_projective": (0.1, 0.25)}
    base_model: str  # autoencoder .h5 to continue from (the CLI also takes zoo names)
    data: str = "sample"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 3e-4
    validation_fraction: float = 0.1
    share: tuple[float, float] = (0.25, 0.75)
    noise: tuple[float, float] = (0.05, 0.3)
    projective: tuple[float, float] = (0.05, 0.25)
    eval_noise: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    eval_projective: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    evaluation_seed: int = 1234
    k: int = 10
    figure_queries: int = 6

    def schedule(self) -> DistortionSchedule:
        return DistortionSchedule(tuple(self.share), tuple(self.noise), tuple(self.projective), ramp_epochs=self.epochs)


def distorted_queries(x_test: np.ndarray, config: Config) -> dict[tuple[str, float], np.ndarray]:
    """The evaluation queries: clean, and each (kind, strength) of the config, seeded."""
    settings = {("clean", 0.0): x_test}
    for kind, strengths in (("noise", config.eval_noise), ("projective", config.eval_projective)):
        for strength in strengths:
            settings[(kind, strength)] = distort_batch(x_test, kind, strength, config.evaluation_seed)
    return settings


def evaluate(models: dict[str, keras.Model], x_all: np.ndarray, labels: np.ndarray, n_train: int, queries: dict, k: int):
    """One row per (kind, strength, model); neighbours[(model, kind, strength)] = indices (Q, k) found
    with the source kept in the base."""
    x_test, y_test = x_all[n_train:], labels[n_train:]
    sources = np.arange(n_train, len(x_all))
    rows, neighbours = [], {}
    for name, autoencoder in models.items():
        encoder = autoencoder.get_layer("encoder")
        index = ExactIndex(encoder.predict(x_all, batch_size=1024, verbose=0))
        for (kind, strength), images in queries.items():
            codes = encoder.predict(images, batch_size=1024, verbose=0)
            reconstructed = autoencoder.predict(images, batch_size=1024, verbose=0)
            _, without_source = index.search(codes, k, exclude=sources)
            _, with_source = index.search(codes, k)
            neighbours[(name, kind, strength)] = with_source
            rows.append({
                "distortion": kind, "strength": strength, "model": name,
                "reconstruction_mse": float(np.mean((reconstructed - x_test) ** 2)),
                f"precision@{k}": precision_at_k(labels[without_source], y_test, k),
                "own_source_at_1": float(np.mean(with_source[:, 0] == sources)),
                f"own_source_in_top{k}": float(np.mean((with_source == sources[:, None]).any(axis=1))),
            })
    return pd.DataFrame(rows), neighbours


def run(config: Config) -> Path:
    run_dir = config.resolved_run_dir()
    set_seed(config.seed)
    data = load_cifar10(config.data, seed=config.seed, progress=True)
    prepare_run_dir(run_dir, dataclasses.asdict(config), fresh=config.fresh, extra={"data_source": data.source})
    figures = run_dir / "figures"
    schedule = config.schedule()
    train_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed)
    x_fit = np.rint(data.x_train[train_index] * 255).astype(np.uint8)  # cached as uint8, scaled per batch
    x_val = data.x_train[val_index]

    original = keras.models.load_model(config.base_model, compile=False)
    model = keras.models.clone_model(original)
    model.set_weights(original.get_weights())
    model.compile(keras.optimizers.Adam(config.learning_rate), keras.losses.MeanSquaredError(),
                  metrics=[keras.metrics.MeanSquaredError(name="mse"), PSNR()])
    last = config.epochs - 1
    train = epoch_keyed_reconstruction_dataset(
        x_fit, config.batch_size, config.seed, config.epochs, completed_epochs(run_dir),
        input_map=lambda image, key, epoch: mix_distortions(image, key, epoch, schedule))
    validation = epoch_keyed_reconstruction_dataset(  # fixed inputs: the final schedule, epoch-independent keys
        x_val, config.batch_size, config.seed + 1, 1, input_map=lambda image, key, epoch: mix_distortions(image, key, last, schedule))
    log_schedule = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(
        {f"schedule_{name}": value for name, value in schedule.values(epoch).items()}))
    history = fit(model, train, validation=validation, run_dir=run_dir, epochs=config.epochs, checkpoint="robust_autoencoder.h5",
                  steps_per_epoch=math.ceil(len(x_fit) / config.batch_size), callbacks=[log_schedule])
    training_curves(history, figures / "training_curves.png", "continued training with distorted inputs")

    robust = keras.models.load_model(run_dir / "robust_autoencoder.h5")
    save_model(robust.get_layer("encoder"), run_dir / "robust_encoder.h5")
    x_all = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test]).reshape(-1)
    n_train = len(data.x_train)
    queries = distorted_queries(data.x_test, config)
    table, neighbours = evaluate({"original": original, "robust": robust}, x_all, labels, n_train, queries, config.k)

    n = config.figure_queries
    image_rows([queries[key][:8] for key in queries], figures / "distortion_examples.png",
               [f"{kind} {strength:g}" for kind, strength in queries], title="evaluation queries (seeded)")
    names = np.array(data.class_names)
    for kind, strengths in (("noise", config.eval_noise), ("projective", config.eval_projective)):
        key = (kind, max(strengths))
        rows_images, rows_neighbours, rows_labels, rows_names = [], [], [], []
        for q in range(n):
            for model_name in ("original", "robust"):
                found = neighbours[(model_name, *key)][q]
                rows_images.append(queries[key][q])
                rows_neighbours.append(x_all[found])
                rows_labels.append(f"{model_name}: {names[data.y_test[q, 0]]}")
                rows_names.append([("SOURCE " if i == n_train + q else "") + names[labels[i]] for i in found])
        neighbour_grid(np.stack(rows_images), np.stack(rows_neighbours), figures / f"neighbours_{kind}.png",
                       None, rows_names, query_titles=rows_labels, title=f"{kind} {key[1]:g}: each distorted query, neighbours by the original (upper) "
                       "and the robust model (lower); SOURCE marks the query's own clean image")

    metrics = {f"{row['model']}/{row['distortion']}/{row['strength']:g}/{name}": row[name]
               for row in table.to_dict("records") for name in table.columns[3:]}
    metrics.update({"epochs": int(len(history)), "best_val_loss": float(history["val_loss"].min())})
    write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    wide = table.pivot_table(index=["distortion", "strength"], columns="model", values=list(table.columns[3:]))
    write_report(
        run_dir, "Robust retrieval under noise and projective distortion", metrics,
        tables={"Original vs robust model on distorted test queries (euclidean, base: 60,000 clean images)": wide},
        figures={"Training curves (schedule columns: share of distorted inputs and largest strengths)": "figures/training_curves.png",
                 "Evaluation queries": "figures/distortion_examples.png",
                 "Neighbours of noisy queries": "figures/neighbours_noise.png",
                 "Neighbours of warped queries": "figures/neighbours_projective.png"},
        notes=(f"Data: {data.source}. Continued from {config.base_model} for {config.epochs} epochs; the share of distorted "
               f"inputs grows {config.share[0]:g} -> {config.share[1]:g}, the largest noise standard deviation "
               f"{config.noise[0]:g} -> {config.noise[1]:g} and the largest corner shift {config.projective[0]:g} -> "
               f"{config.projective[1]:g} of the image size; each distorted input draws its strength uniformly below that. "
               "precision@10 leaves the query's own source out of the base; own_source_* keeps it in."),
    )
    return run_dir
