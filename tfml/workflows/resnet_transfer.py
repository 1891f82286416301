"""Study 5b: ResNet-18 features vs fine-tuning on CIFAR-10 (and the same network from scratch).

By default the backbone is the zoo's ``resnet18-tt100k-backbone`` (pretrained on traffic-sign crops
by ``tfml train resnet-pretrain``, since ImageNet weights cannot be downloaded here); ``--weights``
also takes a local file or ``imagenet`` (keras-hub preset, needs the network).

- features route: the frozen backbone runs once over every image; a single Dense softmax layer on
  the standardised 512 features is trained with Adam and L2 weight regularisation.
- fine-tuning route: backbone + head trained end to end at 32 x 32 for ``epochs`` epochs (SGD,
  momentum 0.9, cosine-decayed learning rate, weight decay, random horizontal flips).
- scratch: the same network, randomly initialised, same epochs and optimiser.
A 5,000-image stratified validation split picks each route's checkpoint; the test set only scores.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from tfml.data import load_cifar10, stratified_split
from tfml.models.resnet import backbone_stem, load_backbone
from tfml.training import prepare_run_dir, set_seed, write_text
from tfml.training.classifier import compile_classifier, fit_classifier
from tfml.viz import confident_predictions, training_curves, write_report
from tfml.workflows.study import StudyConfig

DEFAULT_BACKBONE = "resnet18-tt100k-backbone"
STEM_NOTES = {
    "imagenet": (" (7 x 7 / 2 convolution and 3 x 3 / 2 max-pool, as pretrained ImageNet weights expect; at 32 x 32 the last "
                 "stage works on 1 x 1 maps; it trains about 16x faster here than the CIFAR stem, which is what fits this machine)"),
    "cifar": " (3 x 3 / 1 convolution, no max-pool; the last stage works on 4 x 4 maps)",
}


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "resnet"
    QUICK = {"data": "sample", "epochs": 1, "head_epochs": 10, "validation_size": 500}
    data: str = "sample"
    weights: str = DEFAULT_BACKBONE  # zoo name, .h5 file, "imagenet" or "none"
    epochs: int = 3  # budget of the fine-tuning and scratch routes
    batch_size: int = 128
    finetune_learning_rate: float = 0.02
    scratch_learning_rate: float = 0.05
    weight_decay: float = 5e-4
    head_epochs: int = 40
    head_learning_rate: float = 1e-3
    head_l2: float = 1e-4
    validation_size: int = 5000


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


def finetune_model(backbone: keras.Model, classes: int, seed: int) -> keras.Model:
    """Random horizontal flips (training only), the backbone, a Dense softmax head."""
    inputs = keras.Input(backbone.input_shape[1:], name="image")
    x = keras.layers.RandomFlip("horizontal", seed=seed, name="flip")(inputs)
    outputs = keras.layers.Dense(classes, activation="softmax", name="head")(backbone(x))
    return keras.Model(inputs, outputs, name="classifier")


def evaluate(probabilities: np.ndarray, y_test: np.ndarray) -> dict:
    predicted = probabilities.argmax(axis=1)
    return {"test_accuracy": float(np.mean(predicted == y_test)), "predicted": predicted, "confidence": probabilities.max(axis=1)}


def run(config: Config) -> Path:
    run_dir = config.resolved_run_dir()
    set_seed(config.seed)
    weights = resolve_weights(config.weights)
    data = load_cifar10(config.data, seed=config.seed, progress=True)
    prepare_run_dir(run_dir, dataclasses.asdict(config), fresh=config.fresh, extra={"data_source": data.source, "weights_file": weights})
    y_train, y_test = data.y_train.reshape(-1), data.y_test.reshape(-1)
    fit_index, val_index = stratified_split(y_train, config.validation_size, config.seed)
    classes, names = len(data.class_names), data.class_names
    rows, outcomes, figures = [], {}, {}

    # features route: frozen backbone once, then logistic regression on the features
    backbone = load_backbone(weights, data.x_train.shape[1:])
    stem = backbone_stem(backbone)
    features_train = backbone.predict(data.x_train, batch_size=256, verbose=0)
    features_test = backbone.predict(data.x_test, batch_size=256, verbose=0)
    mean, std = features_train[fit_index].mean(axis=0), features_train[fit_index].std(axis=0) + 1e-6
    head = feature_head(features_train.shape[1], classes, mean, std, config.head_l2)
    head.compile(keras.optimizers.Adam(config.head_learning_rate), keras.losses.SparseCategoricalCrossentropy(),
                 metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")])
    history = fit_classifier(head, features_train, y_train, fit_index, val_index, run_dir / "features", config.head_epochs,
                             min(256, len(fit_index)), config.seed, verbose=0)
    best = keras.models.load_model(run_dir / "features" / "model.h5")
    outcomes["features"] = evaluate(best.predict(features_test, verbose=0), y_test)
    rows.append({"route": "features (frozen backbone + logistic regression)", "initialisation": Path(weights).name,
                 "trained_parameters": best.count_params(), "epochs": config.head_epochs, **{"test_accuracy": outcomes["features"]["test_accuracy"]},
                 "best_val_accuracy": float(history["val_accuracy"].max())})
    training_curves(history, run_dir / "figures/curves_features.png", "logistic regression on frozen features")

    # fine-tuning from the pretrained backbone, and the same network from scratch, same budget
    for route, initial, learning_rate in (("fine-tuning", weights, config.finetune_learning_rate),
                                          ("scratch", "none", config.scratch_learning_rate)):
        set_seed(config.seed)
        backbone = load_backbone(initial, data.x_train.shape[1:], stem=stem)
        steps = config.epochs * (len(fit_index) // config.batch_size)
        model = compile_classifier(finetune_model(backbone, classes, config.seed), learning_rate, config.weight_decay, steps)
        history = fit_classifier(model, data.x_train, y_train, fit_index, val_index, run_dir / route, config.epochs,
                                 config.batch_size, config.seed)
        best = keras.models.load_model(run_dir / route / "model.h5")
        outcomes[route] = evaluate(best.predict(data.x_test, batch_size=256, verbose=0), y_test)
        rows.append({"route": f"{route} (backbone + head, end to end)", "initialisation": "random" if initial == "none" else Path(initial).name,
                     "trained_parameters": sum(int(np.prod(w.shape)) for w in best.trainable_weights), "epochs": config.epochs,
                     "test_accuracy": outcomes[route]["test_accuracy"], "best_val_accuracy": float(history["val_accuracy"].max())})
        training_curves(history, run_dir / f"figures/curves_{route}.png", f"{route}, {config.epochs} epochs")

    for route, outcome in outcomes.items():
        path = f"figures/confident_{route}.png"
        confident_predictions(data.x_test, y_test, outcome["predicted"], outcome["confidence"], names, run_dir / path,
                              title=f"{route}: per class, 5 most confident correct (green) | 5 most confident incorrect (red)")
        figures[f"Most confident predictions: {route}"] = path
        figures[f"Training curves: {route}"] = f"figures/curves_{route}.png"
    table = pd.DataFrame(rows)
    metrics = {f"{route}/test_accuracy": outcome["test_accuracy"] for route, outcome in outcomes.items()}
    write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    write_report(
        run_dir, "ResNet-18 on CIFAR-10: frozen features vs fine-tuning vs scratch", metrics,
        tables={"Test accuracy (10,000 test images unless --data sample)": table.set_index("route")},
        figures=figures,
        notes=(f"Data: {data.source}; {len(fit_index):,} training and {len(val_index):,} validation images (checkpoint by "
               f"validation accuracy), {len(y_test):,} test images, all 32 x 32. Backbone weights: {config.weights} ({weights}), "
               f"{stem} stem{STEM_NOTES[stem]}. "
               f"Features route: the backbone's 512 average-pooled features, standardised with the training mean and std, "
               f"one Dense softmax layer, Adam lr {config.head_learning_rate:g}, L2 {config.head_l2:g}, {config.head_epochs} epochs. "
               f"Fine-tuning: SGD momentum 0.9, lr {config.finetune_learning_rate:g} (scratch {config.scratch_learning_rate:g}) "
               f"cosine-decayed, weight decay {config.weight_decay:g}, batch {config.batch_size}, random horizontal flips, "
               f"{config.epochs} epochs each."),
    )
    return run_dir
