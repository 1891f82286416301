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

from tfml.data import load_cifar10, stratified_split
from tfml.models.resnet import backbone_stem, classifier, load_backbone
from tfml.pipelines import fixed_batches, labelled_batches, shuffled_order
from tfml.training import set_seed
from tfml.training.classifier import compile_classifier
from tfml.viz import confident_predictions, training_curves
from tfml.workflows.config import StudyConfig, option
from tfml.workflows.study import Run

DEFAULT_BACKBONE = "resnet18-tt100k-backbone"
STEM_NOTES = {
    "imagenet": (" (7 x 7 / 2 convolution and 3 x 3 / 2 max-pool, as pretrained ImageNet weights expect; at 32 x 32 the last "
                 "stage works on 1 x 1 maps; it trains about 16x faster here than the CIFAR stem, which is what fits this machine)"),
    "cifar": " (3 x 3 / 1 convolution, no max-pool; the last stage works on 4 x 4 maps)",
}


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "resnet"
    TITLE = "ResNet-18 on CIFAR-10: frozen features vs fine-tuning vs scratch"
    QUICK = {"data": "sample", "epochs": 1, "head_epochs": 10, "validation_size": 500}
    data: str = option("sample", "as for `tfml train autoencoder`", metavar="SRC")
    weights: str = option(DEFAULT_BACKBONE, "backbone: zoo name, .h5 / .weights.h5 file, 'imagenet' (keras-hub) or 'none'",
                          metavar="WEIGHTS")
    epochs: int = option(3, "epochs of the fine-tuning and scratch routes", low=1)
    batch_size: int = option(128, "images per batch", low=1)
    finetune_learning_rate: float = option(0.02, "initial SGD learning rate of fine-tuning (cosine-decayed)", above=0)
    scratch_learning_rate: float = option(0.05, "initial SGD learning rate from scratch (cosine-decayed)", above=0)
    weight_decay: float = option(5e-4, "decoupled weight decay", low=0)
    head_epochs: int = option(40, "epochs of the logistic regression on features", low=1)
    head_learning_rate: float = option(1e-3, "Adam learning rate of the logistic regression", above=0)
    head_l2: float = option(1e-4, "L2 weight penalty of the logistic regression", low=0)
    validation_size: int = option(5000, "training images held out to pick each route's checkpoint", low=10)


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
    outputs = keras.layers.Dense(classes, activation="softmax", kernel_regularizer=keras.regularizers.L2(l2), name="head")(x)
    return keras.Model(inputs, outputs, name="logistic_regression")


def evaluate(probabilities: np.ndarray, y_test: np.ndarray) -> dict:
    predicted = probabilities.argmax(axis=1)
    return {"test_accuracy": float(np.mean(predicted == y_test)), "predicted": predicted, "confidence": probabilities.max(axis=1)}


def run(config: Config) -> Path:
    run = Run(config)
    weights = resolve_weights(config.weights)
    data = load_cifar10(config.data, seed=config.seed, progress=True)
    run.record(data_source=data.source, weights_file=weights)
    y_train, y_test = data.y_train.reshape(-1), data.y_test.reshape(-1)
    fit_index, val_index = stratified_split(y_train, config.validation_size, config.seed)
    classes, names = len(data.class_names), data.class_names
    rows, outcomes = [], {}

    # features route: frozen backbone once, then logistic regression on the features
    backbone = load_backbone(weights, data.x_train.shape[1:])
    stem = backbone_stem(backbone)
    features_train = backbone.predict(data.x_train, batch_size=256, verbose=0)
    features_test = backbone.predict(data.x_test, batch_size=256, verbose=0)
    mean, std = features_train[fit_index].mean(axis=0), features_train[fit_index].std(axis=0) + 1e-6
    with run.scope():
        head = feature_head(features_train.shape[1], classes, mean, std, config.head_l2)
        head.compile(keras.optimizers.Adam(config.head_learning_rate), keras.losses.SparseCategoricalCrossentropy(),
                     metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")])
    head_batch = min(256, len(fit_index))
    history = run.fit(head, labelled_batches(features_train, shuffled_order(fit_index, y_train[fit_index], config.seed), head_batch,
                                             config.head_epochs, config.seed),
                      validation=fixed_batches(features_train[val_index], y_train[val_index], 1024), epochs=config.head_epochs,
                      name="features", monitor="val_accuracy", mode="max", verbose=0)
    best = run.best_model("features")
    outcomes["features"] = evaluate(best.predict(features_test, verbose=0), y_test)
    rows.append({"route": "features (frozen backbone + logistic regression)", "initialisation": Path(weights).name,
                 "trained_parameters": best.count_params(), "epochs": config.head_epochs, "test_accuracy": outcomes["features"]["test_accuracy"],
                 "best_val_accuracy": float(history["val_accuracy"].max())})
    training_curves(history, run.figure("curves_features.png", "Training curves: features"), "logistic regression on frozen features")

    # fine-tuning from the pretrained backbone, and the same network from scratch, same budget
    batch_size = min(config.batch_size, len(fit_index))
    for route, initial, learning_rate in (("fine-tuning", weights, config.finetune_learning_rate),
                                          ("scratch", "none", config.scratch_learning_rate)):
        set_seed(config.seed)
        steps = config.epochs * (len(fit_index) // batch_size)
        with run.scope():
            model = compile_classifier(classifier(load_backbone(initial, data.x_train.shape[1:], stem=stem), classes),
                                       learning_rate, config.weight_decay, steps)
        train = labelled_batches(data.x_train, shuffled_order(fit_index, y_train[fit_index], config.seed), batch_size,
                                 config.epochs, config.seed, flip=True)
        history = run.fit(model, train, validation=fixed_batches(data.x_train[val_index], y_train[val_index], 256),
                          epochs=config.epochs, name=route, monitor="val_accuracy", mode="max")
        best = run.best_model(route)
        outcomes[route] = evaluate(best.predict(data.x_test, batch_size=256, verbose=0), y_test)
        rows.append({"route": f"{route} (backbone + head, end to end)", "initialisation": "random" if initial == "none" else Path(initial).name,
                     "trained_parameters": sum(int(np.prod(w.shape)) for w in best.trainable_weights), "epochs": config.epochs,
                     "test_accuracy": outcomes[route]["test_accuracy"], "best_val_accuracy": float(history["val_accuracy"].max())})
        training_curves(history, run.figure(f"curves_{route}.png", f"Training curves: {route}"), f"{route}, {config.epochs} epochs")

    for route, outcome in outcomes.items():
        confident_predictions(data.x_test, y_test, outcome["predicted"], outcome["confidence"], names,
                              run.figure(f"confident_{route}.png", f"Most confident predictions: {route}"),
                              title=f"{route}: per class, 5 most confident correct (green) | 5 most confident incorrect (red)")
    metrics = {f"{route}/test_accuracy": outcome["test_accuracy"] for route, outcome in outcomes.items()}
    best_route = max(outcomes, key=lambda route: outcomes[route]["test_accuracy"])
    run.summarise(f"Run: {'quick mode on the embedded sample' if config.data == 'sample' else 'data: ' + data.source}; "
                  f"{len(fit_index):,} training, {len(val_index):,} validation, {len(y_test):,} test images; "
                  f"{config.epochs} epoch(s) per end-to-end route, {config.head_epochs} for the logistic regression.")
    run.summarise("Test accuracy (chance 0.100): " + "; ".join(f"{route} {outcome['test_accuracy']:.3f}" for route, outcome in outcomes.items())
                  + f". Best here: {best_route}."
                  + (" With 2,000 images and one epoch these figures are noisy and the routes barely trained; judge the routes by a "
                     "run on the full CIFAR-10 (the README's command)." if config.data == "sample" else ""))
    run.table(f"Test accuracy ({len(y_test):,} test images)", pd.DataFrame(rows).set_index("route"))
    run.note(f"Data: {data.source}; {len(fit_index):,} training and {len(val_index):,} validation images (checkpoint by "
             f"validation accuracy), {len(y_test):,} test images, all 32 x 32. Backbone weights: {config.weights} ({weights}), "
             f"{stem} stem{STEM_NOTES[stem]}. "
             f"Features route: the backbone's 512 average-pooled features, standardised with the training mean and std, "
             f"one Dense softmax layer, Adam lr {config.head_learning_rate:g}, L2 {config.head_l2:g}, {config.head_epochs} epochs. "
             f"Fine-tuning: SGD momentum 0.9, lr {config.finetune_learning_rate:g} (scratch {config.scratch_learning_rate:g}) "
             f"cosine-decayed, weight decay {config.weight_decay:g}, batch {batch_size}, random horizontal flips, "
             f"{config.epochs} epochs each.")
    return run.finish(metrics)
