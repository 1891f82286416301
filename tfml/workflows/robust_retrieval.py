"""Study 1b: retrieval that survives noise and projective distortion.

Continue training a trained autoencoder with distorted inputs (clean targets) mixed into its
batches on a growing schedule, then compare the old and the retrained model on distorted test
queries: reconstruction error against the clean image, precision@10 against the clean base without
the query's own source, and how often the query finds its own source at rank 1 and in the top 10.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pandas as pd

from tfml import zoo
from tfml.config import option
from tfml.data import load_cifar10, stratified_split
from tfml.data.cifar10 import Cifar10
from tfml.pipelines import reconstruction_batches, reconstruction_pairs, unit_float_array
from tfml.pipelines.distortions import DistortionSchedule, distort_batch, keyed_map, mix_distortions
from tfml.retrieval import ExactIndex, LabelRelevance, chance_precision, evaluate_retrieval, paired_difference
from tfml.training import PSNR, Run, StudyConfig, flatten
from tfml.viz import image_rows, neighbour_grid


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "robust"
    TITLE = "Robust retrieval under noise and projective distortion"
    QUICK = {"data": "sample", "epochs": 3, "batch_size": 64, "eval_noise": (0.1, 0.3), "eval_projective": (0.1, 0.25)}
    base_model: str = option("cifar10-autoencoder", "autoencoder .h5 or zoo name to continue from", metavar="MODEL")
    data: str = option("sample", "as for `tfml train autoencoder`", metavar="SRC")
    epochs: int = option(10, "training epochs", low=1)
    batch_size: int = option(128, "images per batch", low=1)
    learning_rate: float = option(3e-4, "Adam learning rate", above=0)
    validation_fraction: float = option(
        0.1, "share of the training images held out to pick the best epoch", above=0, high=0.5
    )
    share: tuple[float, float] = option(
        (0.25, 0.75),
        "share of distorted inputs, first and last epoch (ramped)",
        low=0,
        high=1,
        metavar=("FIRST", "LAST"),
    )
    noise: tuple[float, float] = option(
        (0.05, 0.3), "largest noise standard deviation, first and last epoch", low=0, metavar=("FIRST", "LAST")
    )
    projective: tuple[float, float] = option(
        (0.05, 0.25),
        "largest corner shift (share of the size), first and last epoch",
        low=0,
        high=0.5,
        metavar=("FIRST", "LAST"),
    )
    eval_noise: tuple[float, ...] = option((0.05, 0.1, 0.2, 0.3), "noise strengths of the evaluation queries", low=0)
    eval_projective: tuple[float, ...] = option(
        (0.05, 0.1, 0.2, 0.3), "projective strengths of the evaluation queries", low=0, high=0.5
    )
    evaluation_seed: int = option(1234, "seed of the distorted evaluation queries")
    k: int = option(10, "neighbours retrieved per query (precision@k)", low=1)
    figure_queries: int = option(6, "queries shown per neighbour figure", low=1)

    def schedule(self) -> DistortionSchedule:
        return DistortionSchedule(tuple(self.share), tuple(self.noise), tuple(self.projective), ramp_epochs=self.epochs)


@dataclasses.dataclass
class Prepared:
    data: Cifar10
    x_fit: np.ndarray  # training images (uint8)
    x_val: np.ndarray  # validation images: pick the checkpoint
    original: keras.Model  # the autoencoder training continues from


@dataclasses.dataclass
class Evaluation:
    table: pd.DataFrame  # one row per (distortion, strength, model)
    queries: dict  # (kind, strength) -> distorted test images
    neighbours: dict  # (model, kind, strength) -> indices (Q, k), the query's source kept in the base
    per_query: dict  # (model, kind, strength) -> precision@k of each query
    chance: float  # precision@k of a random ranking


def prepare(run: Run) -> Prepared:
    """Load CIFAR-10 and the autoencoder to continue from; hold out a validation share."""
    config = run.config
    data = load_cifar10(config.data, seed=config.seed, progress=True)
    path = zoo.resolve(config.base_model)
    run.record(data_source=data.source, base_model=config.base_model, base_model_file=str(path))
    fit_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed, data.class_names)
    return Prepared(data, data.x_train[fit_index], data.x_train[val_index], load_autoencoder(config.base_model))


def train(run: Run, prepared: Prepared) -> keras.Model:
    """Continue training a copy of the autoencoder with distorted inputs (clean targets) on the
    schedule; validation inputs are distorted once, by the final schedule."""
    config, schedule = run.config, run.config.schedule()
    with run.scope():
        model = keras.models.clone_model(prepared.original)
        model.set_weights(prepared.original.get_weights())
        model.compile(keras.optimizers.Adam(config.learning_rate), keras.losses.MeanSquaredError(), metrics=[PSNR()])
    mix = lambda image, key, epoch: mix_distortions(image, key, epoch, schedule)  # noqa: E731
    train_batches = reconstruction_batches(prepared.x_fit, config.batch_size, config.seed, config.epochs, input_map=mix)
    last = config.epochs - 1  # validation inputs: fixed, distorted by the final schedule with epoch-independent keys
    x_val_distorted = keyed_map(
        prepared.x_val, lambda image, key: mix_distortions(image, key, last, schedule), config.seed + 1
    )
    log_schedule = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: logs.update(
            {f"schedule_{name}": value for name, value in schedule.values(epoch).items()}
        )
    )
    run.fit(
        model,
        train_batches,
        validation=reconstruction_pairs(x_val_distorted, prepared.x_val, config.batch_size),
        epochs=config.epochs,
        checkpoint="robust_autoencoder.h5",
        callbacks=[log_schedule],
        curves="continued training with distorted inputs (schedule_*: share of distorted inputs, largest strengths)",
    )
    robust = run.best_model()
    run.save_model(robust.get_layer("encoder"), "robust_encoder.h5")
    return robust


def evaluate(run: Run, prepared: Prepared, robust: keras.Model) -> Evaluation:
    """Both models on clean and distorted test queries against all clean images."""
    config, data = run.config, prepared.data
    x_all = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test]).reshape(-1)
    queries = distorted_queries(data.x_test, config)
    table, neighbours, per_query = evaluate_models(
        {"original": prepared.original, "robust": robust}, x_all, labels, len(data.x_train), queries, config.k
    )
    sources = np.arange(len(data.x_train), len(x_all))
    chance = chance_precision(LabelRelevance(labels[sources], labels), exclude=sources)
    return Evaluation(table, queries, neighbours, per_query, chance)


def report(run: Run, prepared: Prepared, robust: keras.Model, evaluation: Evaluation) -> None:
    """Figures, tables, metrics and what the numbers say."""
    config, data, table = run.config, prepared.data, evaluation.table
    figures(run, prepared, evaluation)
    history = run.history()
    run.add_metrics(flatten(table.set_index(["model", "distortion", "strength"]), "{index}/{column}"))
    run.add_metrics({"epochs": len(history), "best_val_loss": history["val_loss"].min()})
    n_all = len(data.x_train) + len(data.x_test)
    run.summarise(
        f"Continued {config.base_model} for {len(history)} epochs on {len(prepared.x_fit):,} training images with "
        f"distorted inputs. Each of the {len(data.x_test):,} test images, clean and distorted "
        f"({len(evaluation.queries) - 1} settings), queries all {n_all:,} clean images."
    )
    run.summarise(robustness_figures(table, config.k, evaluation.chance))
    run.finding(robustness_verdict(evaluation, config.k, config.seed))
    wide = table.pivot_table(index=["distortion", "strength"], columns="model", values=list(table.columns[3:]))
    run.table(f"Original vs robust model on distorted test queries (euclidean, base: {n_all:,} clean images)", wide)
    run.note(
        f"Data: {data.source}. Continued from {config.base_model} for {config.epochs} epochs; the share of distorted "
        f"inputs grows {config.share[0]:g} -> {config.share[1]:g}, the largest noise standard deviation "
        f"{config.noise[0]:g} -> {config.noise[1]:g} and the largest corner shift {config.projective[0]:g} -> "
        f"{config.projective[1]:g} of the image size; each distorted input draws its strength uniformly below that. "
        f"precision@{config.k} leaves the query's own source out of the base; own_source_* keeps it in."
    )


def figures(run: Run, prepared: Prepared, evaluation: Evaluation) -> None:
    """The evaluation queries, and the neighbours of the most distorted ones by each model."""
    config, data, queries = run.config, prepared.data, evaluation.queries
    image_rows(
        [queries[key][:8] for key in queries],
        run.figure("distortion_examples.png", "Evaluation queries"),
        [f"{kind} {strength:g}" for kind, strength in queries],
        title="evaluation queries (seeded)",
    )
    x_all = np.concatenate([data.x_train, data.x_test])
    labels, n_train = np.concatenate([data.y_train, data.y_test]).reshape(-1), len(data.x_train)
    names, n = np.array(data.class_names), min(config.figure_queries, len(data.x_test))
    for kind, strengths, caption in (
        ("noise", config.eval_noise, "Neighbours of noisy queries"),
        ("projective", config.eval_projective, "Neighbours of warped queries"),
    ):
        key = (kind, max(strengths))
        rows_images, rows_neighbours, rows_labels, rows_names = [], [], [], []
        for q in range(n):
            for model_name in ("original", "robust"):
                found = evaluation.neighbours[(model_name, *key)][q]
                rows_images.append(queries[key][q])
                rows_neighbours.append(x_all[found])
                rows_labels.append(f"{model_name}: {names[data.y_test[q, 0]]}")
                rows_names.append([("SOURCE " if i == n_train + q else "") + names[labels[i]] for i in found])
        neighbour_grid(
            np.stack(rows_images),
            np.stack(rows_neighbours),
            run.figure(f"neighbours_{kind}.png", caption),
            None,
            rows_names,
            query_titles=rows_labels,
            title=f"{kind} {key[1]:g}: each distorted query, neighbours by "
            "the original (upper) and the robust model (lower); SOURCE marks the query's own clean image",
        )


def distorted_queries(x_test: np.ndarray, config: Config) -> dict[tuple[str, float], np.ndarray]:
    """The evaluation queries (uint8): clean, and each (kind, strength) of the config, seeded."""
    settings = {("clean", 0.0): x_test}
    for kind, strengths in (("noise", config.eval_noise), ("projective", config.eval_projective)):
        for strength in strengths:
            settings[(kind, strength)] = distort_batch(x_test, kind, strength, config.evaluation_seed)
    return settings


def evaluate_models(
    models: dict[str, keras.Model], x_all: np.ndarray, labels: np.ndarray, n_train: int, queries: dict, k: int
):
    """One row per (kind, strength, model); neighbours[(model, kind, strength)] = indices (Q, k) found
    with the source kept in the base; per_query[(model, kind, strength)] = precision@k of each query."""
    x_test, y_test = x_all[n_train:], labels[n_train:]
    clean_targets = unit_float_array(x_test)
    sources = np.arange(n_train, len(x_all))
    same_class = LabelRelevance(y_test, labels)
    own_source = LabelRelevance(sources, np.arange(len(x_all)))  # query i's one relevant item: its clean source
    rows, neighbours, per_query = [], {}, {}
    for name, autoencoder in models.items():
        encoder = autoencoder.get_layer("encoder")
        index = ExactIndex(encoder.predict(x_all, batch_size=1024, verbose=0))
        for (kind, strength), images in queries.items():
            codes = encoder.predict(images, batch_size=1024, verbose=0)
            reconstructed = autoencoder.predict(images, batch_size=1024, verbose=0)
            without_source = evaluate_retrieval(index, codes, same_class, [f"precision@{k}"], exclude=sources)
            with_source = evaluate_retrieval(index, codes, own_source, ["hit_rate@1", f"hit_rate@{k}"])
            neighbours[(name, kind, strength)] = with_source.indices
            per_query[(name, kind, strength)] = without_source.per_query[f"precision@{k}"]
            rows.append(
                {
                    "distortion": kind,
                    "strength": strength,
                    "model": name,
                    "reconstruction_mse": float(np.mean((reconstructed - clean_targets) ** 2)),
                    f"precision@{k}": without_source.metrics[f"precision@{k}"],
                    "own_source_at_1": with_source.metrics["hit_rate@1"],
                    f"own_source_in_top{k}": with_source.metrics[f"hit_rate@{k}"],
                }
            )
    return pd.DataFrame(rows), neighbours, per_query


def robustness_figures(table: pd.DataFrame, k: int, chance: float) -> str:
    """The numbers at the strongest distortion of each kind and on clean queries, original -> robust."""
    pivot = table.pivot_table(
        index=["distortion", "strength"], columns="model", values=[f"precision@{k}", "own_source_at_1"]
    )
    strongest = pivot.drop(index="clean", level=0).groupby(level=0).tail(1)
    parts = [
        f"{kind} {strength:g}: precision@{k} {row[(f'precision@{k}', 'original')]:.3f} -> "
        f"{row[(f'precision@{k}', 'robust')]:.3f}, own source first {row[('own_source_at_1', 'original')]:.2f} -> "
        f"{row[('own_source_at_1', 'robust')]:.2f}"
        for (kind, strength), row in strongest.iterrows()
    ]
    clean = pivot.loc[("clean", 0.0)]
    return (
        f"Original -> robust model at the strongest distortions: {'; '.join(parts)}; on clean queries precision@{k} "
        f"{clean[(f'precision@{k}', 'original')]:.3f} -> {clean[(f'precision@{k}', 'robust')]:.3f}. A random ranking "
        f"gives precision@{k} {chance:.3f}; 'own source first' is how often a distorted query finds its own clean "
        "image at rank 1."
    )


def robustness_verdict(evaluation: Evaluation, k: int, seed: int) -> str:
    """On how many distorted settings the retrained model finds more same-class images than the
    original, and on clean queries: paired bootstrap intervals of the per-query difference."""
    differences = {
        (kind, strength): paired_difference(
            evaluation.per_query[("robust", kind, strength)],
            evaluation.per_query[("original", kind, strength)],
            seed=seed,
        )
        for kind, strength in evaluation.queries
    }
    distorted = [d for (kind, _), d in differences.items() if kind != "clean"]
    ahead, behind = sum(d.low > 0 for d in distorted), sum(d.high < 0 for d in distorted)
    clean = differences[("clean", 0.0)].sentence("the retrained model", "the original", f"precision@{k}")
    return (
        f"By precision@{k} (paired 95% intervals of the per-query difference) the retrained model is ahead of the "
        f"original on {ahead}, behind on {behind} and not distinguishable on {len(distorted) - ahead - behind} of "
        f"the {len(distorted)} distorted settings; on clean queries {clean}."
    )


def load_autoencoder(path: str) -> keras.Model:
    """An autoencoder saved by tfml: uint8 images in, with "encoder" and "decoder" parts."""
    model, _ = zoo.load_model(path)
    layer_names = {layer.name for layer in model.layers}
    if not {"encoder", "decoder"} <= layer_names:
        raise ValueError(
            f"{path} is not an autoencoder (it has no 'encoder' and 'decoder' parts); give one made by "
            "`tfml train autoencoder` (autoencoder.h5) or the zoo's cifar10-autoencoder"
        )
    if str(model.inputs[0].dtype) != "uint8":
        raise ValueError(
            f"{path} takes {model.inputs[0].dtype} images; tfml's models take uint8 images (retrain it, or use "
            "the zoo's cifar10-autoencoder)"
        )
    return model


STEPS = (prepare, train, evaluate, report)
