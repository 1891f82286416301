"""Study 5b: ResNet-18 features vs fine-tuning on CIFAR-10 (and the same network from scratch).

By default the backbone is the zoo's ``resnet18-tt100k-backbone`` (pretrained on traffic-sign crops
by ``tfml train resnet-pretrain``, since ImageNet weights cannot be downloaded here); ``--weights``
also takes a local file or ``imagenet`` (keras-hub preset, needs the network).

- features route: the frozen backbone runs once over every image; a single Dense softmax layer on
  the standardised 512 features is trained with Adam and L2 weight regularisation.
- fine-tuning route: backbone + head trained end to end at 32 x 32 for ``epochs`` epochs (SGD,
  momentum 0.9, cosine-decayed learning rate, weight decay, seeded random horizontal flips in the
  input pipeline).
- scratch: the same network, randomly initialised, same epochs and optimiser.
A 5,000-image stratified validation split picks each route's checkpoint; the test set only scores.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tfml.config import option
from tfml.data import load_cifar10, stratified_split
from tfml.data.cifar10 import Cifar10
from tfml.models.resnet import backbone_stem, classifier, load_backbone
from tfml.pipelines import fixed_batches, labelled_batches, shuffled_order
from tfml.retrieval import paired_difference
from tfml.training import Run, StudyConfig, set_seed
from tfml.training.classifier import compile_classifier
from tfml.viz import confident_predictions

DEFAULT_BACKBONE = "resnet18-tt100k-backbone"
STEM_NOTES = {
    "imagenet": (
        " (7 x 7 / 2 convolution and 3 x 3 / 2 max-pool, as pretrained ImageNet weights expect; at 32 x 32 the last "
        "stage works on 1 x 1 maps; it trains about 16x faster here than the CIFAR stem, which is what fits this "
        "machine)"
    ),
    "cifar": " (3 x 3 / 1 convolution, no max-pool; the last stage works on 4 x 4 maps)",
}


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "resnet"
    TITLE = "ResNet-18 on CIFAR-10: frozen features vs fine-tuning vs scratch"
    QUICK = {"data": "sample", "epochs": 1, "head_epochs": 10, "validation_fraction": 0.25}
    data: str = option("sample", "as for `tfml train autoencoder`", metavar="SRC")
    weights: str = option(
        DEFAULT_BACKBONE,
        "backbone: zoo name, .h5 / .weights.h5 file, 'imagenet' (keras-hub) or 'none'",
        metavar="WEIGHTS",
    )
    epochs: int = option(3, "epochs of the fine-tuning and scratch routes", low=1)
    batch_size: int = option(128, "images per batch", low=1)
    finetune_learning_rate: float = option(0.02, "initial SGD learning rate of fine-tuning (cosine-decayed)", above=0)
    scratch_learning_rate: float = option(0.05, "initial SGD learning rate from scratch (cosine-decayed)", above=0)
    weight_decay: float = option(5e-4, "decoupled weight decay", low=0)
    head_epochs: int = option(40, "epochs of the logistic regression on features", low=1)
    head_learning_rate: float = option(1e-3, "Adam learning rate of the logistic regression", above=0)
    head_l2: float = option(1e-4, "L2 weight penalty of the logistic regression", low=0)
    validation_fraction: float = option(
        0.1, "share of the training images held out to pick each route's checkpoint", above=0, high=0.5
    )


def resolve_weights(weights: str) -> str:
    """A zoo name becomes its verified file; paths, "imagenet" and "none" pass through."""
    if weights in ("imagenet", "none") or Path(weights).is_file():
        return weights
    from tfml import zoo

    return str(zoo.resolve(weights))


def feature_head(features: int, classes: int, mean: np.ndarray, std: np.ndarray, l2: float) -> keras.Model:
    """Standardise (train mean / std) then a Dense softmax: multinomial logistic regression."""
    inputs = keras.Input((features,), name="features")
    x = keras.layers.Normalization(mean=mean, variance=std**2, name="standardise")(inputs)
    outputs = keras.layers.Dense(
        classes, activation="softmax", kernel_regularizer=keras.regularizers.L2(l2), name="head"
    )(x)
    return keras.Model(inputs, outputs, name="logistic_regression")


def evaluate(probabilities: np.ndarray, y_test: np.ndarray) -> dict:
    predicted = probabilities.argmax(axis=1)
    return {
        "test_accuracy": float(np.mean(predicted == y_test)),
        "predicted": predicted,
        "confidence": probabilities.max(axis=1),
    }


@dataclasses.dataclass
class Prepared:
    data: Cifar10
    weights: str  # the backbone's weights: a file, "imagenet" or "none"
    y_train: np.ndarray  # labels, flat
    y_test: np.ndarray
    fit_index: np.ndarray  # training images the routes train on
    val_index: np.ndarray  # held-out training images that pick each route's checkpoint
    backbone: keras.Model  # the pretrained backbone (image -> 512 features)
    stem: str  # its first layers: "imagenet" or "cifar"


@dataclasses.dataclass
class Route:
    description: str  # its row of the table
    initialisation: str
    trained_parameters: int
    epochs: int
    outcome: dict  # test accuracy, predictions and their confidence
    best_val_accuracy: float

    def row(self) -> dict:
        return {
            "route": self.description,
            "initialisation": self.initialisation,
            "trained_parameters": self.trained_parameters,
            "epochs": self.epochs,
            "test_accuracy": self.outcome["test_accuracy"],
            "best_val_accuracy": self.best_val_accuracy,
        }


def prepare(run: Run) -> Prepared:
    """Resolve and load the backbone, load CIFAR-10, hold out a stratified validation set."""
    config = run.config
    weights = resolve_weights(config.weights)
    data = load_cifar10(config.data, seed=config.seed, progress=True)
    run.record(data_source=data.source, weights_file=weights)
    y_train, y_test = data.y_train.reshape(-1), data.y_test.reshape(-1)
    fit_index, val_index = stratified_split(y_train, config.validation_fraction, config.seed, data.class_names)
    backbone = load_backbone(weights, data.x_train.shape[1:])
    return Prepared(data, weights, y_train, y_test, fit_index, val_index, backbone, backbone_stem(backbone))


def features_route(run: Run, prepared: Prepared) -> Route:
    """The frozen backbone runs once over every image; logistic regression on the standardised features."""
    config, data, fit_index = run.config, prepared.data, prepared.fit_index
    features_train = prepared.backbone.predict(data.x_train, batch_size=256, verbose=0)
    features_test = prepared.backbone.predict(data.x_test, batch_size=256, verbose=0)
    mean, std = features_train[fit_index].mean(axis=0), features_train[fit_index].std(axis=0) + 1e-6
    with run.scope():
        head = feature_head(features_train.shape[1], len(data.class_names), mean, std, config.head_l2)
        head.compile(
            keras.optimizers.Adam(config.head_learning_rate),
            keras.losses.SparseCategoricalCrossentropy(),
            metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")],
        )
    y_train = prepared.y_train
    batches = labelled_batches(
        features_train,
        shuffled_order(fit_index, y_train[fit_index], config.seed),
        min(256, len(fit_index)),
        config.head_epochs,
        config.seed,
    )
    history = run.fit(
        head,
        batches,
        validation=fixed_batches(features_train[prepared.val_index], y_train[prepared.val_index], 1024),
        epochs=config.head_epochs,
        name="features",
        monitor="val_accuracy",
        mode="max",
        verbose=0,
        curves="logistic regression on frozen features",
    )
    best = run.best_model("features")
    return Route(
        "features (frozen backbone + logistic regression)",
        Path(prepared.weights).name,
        best.count_params(),
        config.head_epochs,
        evaluate(best.predict(features_test, verbose=0), prepared.y_test),
        float(history["val_accuracy"].max()),
    )


def end_to_end_routes(run: Run, prepared: Prepared, features: Route) -> dict[str, Route]:
    """Fine-tuning from the backbone, and the same network from scratch, at the same budget."""
    config = run.config
    return {
        "fine-tuning": train_route(run, prepared, "fine-tuning", prepared.weights, config.finetune_learning_rate),
        "scratch": train_route(run, prepared, "scratch", "none", config.scratch_learning_rate),
    }


def train_route(run: Run, prepared: Prepared, route: str, initial: str, learning_rate: float) -> Route:
    """Backbone (from ``initial`` weights) + head trained end to end; checkpoint by validation accuracy."""
    config, data, fit_index = run.config, prepared.data, prepared.fit_index
    batch_size = min(config.batch_size, len(fit_index))
    set_seed(config.seed)
    with run.scope():
        backbone = load_backbone(initial, data.x_train.shape[1:], stem=prepared.stem)
        model = compile_classifier(
            classifier(backbone, len(data.class_names)),
            learning_rate,
            config.weight_decay,
            config.epochs * (len(fit_index) // batch_size),
        )
    order = shuffled_order(fit_index, prepared.y_train[fit_index], config.seed)
    batches = labelled_batches(data.x_train, order, batch_size, config.epochs, config.seed, flip=True)
    validation = fixed_batches(data.x_train[prepared.val_index], prepared.y_train[prepared.val_index], 256)
    history = run.fit(
        model,
        batches,
        validation=validation,
        epochs=config.epochs,
        name=route,
        monitor="val_accuracy",
        mode="max",
        curves=f"{route}, {config.epochs} epochs",
    )
    best = run.best_model(route)
    return Route(
        f"{route} (backbone + head, end to end)",
        "random" if initial == "none" else Path(initial).name,
        sum(int(np.prod(w.shape)) for w in best.trainable_weights),
        config.epochs,
        evaluate(best.predict(data.x_test, batch_size=256, verbose=0), prepared.y_test),
        float(history["val_accuracy"].max()),
    )


def report(run: Run, prepared: Prepared, features: Route, end_to_end: dict[str, Route]) -> None:
    """Confident predictions per route, the table, metrics and what the numbers say."""
    config, data = run.config, prepared.data
    routes = {"features": features, **end_to_end}
    for route, result in routes.items():
        confident_figure(run, prepared, route, result.outcome)
    run.add_metrics({f"{route}/test_accuracy": result.outcome["test_accuracy"] for route, result in routes.items()})
    best = max(routes, key=lambda route: routes[route].outcome["test_accuracy"])
    run.summarise(
        f"{len(prepared.fit_index):,} training, {len(prepared.val_index):,} validation, {len(prepared.y_test):,} test "
        f"images; {config.epochs} epoch(s) per end-to-end route, {config.head_epochs} for the logistic regression."
    )
    accuracies = "; ".join(f"{route} {result.outcome['test_accuracy']:.3f}" for route, result in routes.items())
    run.summarise(f"Test accuracy (chance {1 / len(data.class_names):.3f}): {accuracies}.")
    correct = {
        route: (result.outcome["predicted"] == prepared.y_test).astype(float) for route, result in routes.items()
    }
    run.finding(
        f"Which route is best? {best} has the highest test accuracy; "
        + "; ".join(
            paired_difference(correct[best], correct[other], seed=config.seed).sentence(best, other, "test accuracy")
            for other in routes
            if other != best
        )
        + "."
    )
    table = pd.DataFrame([route.row() for route in routes.values()]).set_index("route")
    run.table(f"Test accuracy ({len(prepared.y_test):,} test images)", table)
    notes(run, prepared)


def confident_figure(run: Run, prepared: Prepared, route: str, outcome: dict) -> None:
    """Per class, the test images a route classified most confidently, right and wrong."""
    path = run.figure(f"confident_{route}.png", f"Most confident predictions: {route}")
    title = f"{route}: per class, 5 most confident correct (green) | 5 most confident incorrect (red)"
    data, (predicted, confidence) = prepared.data, (outcome["predicted"], outcome["confidence"])
    confident_predictions(data.x_test, prepared.y_test, predicted, confidence, data.class_names, path, title=title)


def notes(run: Run, prepared: Prepared) -> None:
    config, stem = run.config, prepared.stem
    run.note(
        f"Data: {prepared.data.source}; {len(prepared.fit_index):,} training and {len(prepared.val_index):,} "
        f"validation images (checkpoint by validation accuracy), {len(prepared.y_test):,} test images, all 32 x 32. "
        f"Backbone weights: {config.weights} ({prepared.weights}), {stem} stem{STEM_NOTES[stem]}. Features route: the "
        "backbone's 512 average-pooled features, standardised with the training mean and std, one Dense softmax layer, "
        f"Adam lr {config.head_learning_rate:g}, L2 {config.head_l2:g}, {config.head_epochs} epochs. Fine-tuning: SGD "
        f"momentum 0.9, lr {config.finetune_learning_rate:g} (scratch {config.scratch_learning_rate:g}) "
        f"cosine-decayed, weight decay {config.weight_decay:g}, batch "
        f"{min(config.batch_size, len(prepared.fit_index))}, random horizontal flips, {config.epochs} epochs each."
    )


STEPS = (prepare, features_route, end_to_end_routes, report)
