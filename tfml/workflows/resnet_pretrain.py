"""Study 5b, step 1: pretrain a ResNet-18 backbone on a labelled source disjoint from CIFAR-10.

No ImageNet weights can be downloaded on these machines, so the backbone learns on the TT100K
traffic-sign crops (71 classes with at least 20 images, re-split 80/20), resized to the 32 x 32 of
CIFAR-10. Real photographs, labelled, and no class in common with CIFAR-10. The backbone (image ->
512 pooled features) is saved as ``backbone.h5`` for the zoo and for ``tfml train resnet``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from tfml.config import option
from tfml.data import stratified_split
from tfml.data.traffic_signs import TrafficSigns, load_traffic_signs
from tfml.models.resnet import build_resnet18, classifier
from tfml.pipelines import fixed_batches, labelled_batches, shuffled_order
from tfml.training import Run, StudyConfig
from tfml.training.classifier import compile_classifier


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "resnet-pretrain"
    TITLE = "ResNet-18 backbone pretrained on traffic signs"
    QUICK = {"epochs": 1, "max_images": 1500}
    data: str = option("../shared/data/tt100k-crops.tar.gz", "TT100K crops folder or .tar.gz", metavar="SRC")
    image_size: int = option(32, "crops are padded to a square and resized to this many pixels", low=8)
    stem: str = option(
        "imagenet",
        "first layers: 7x7/2 conv + max-pool (imagenet) or 3x3/1 conv (cifar)",
        choices=("imagenet", "cifar"),
    )
    min_images: int = option(20, "classes with fewer crops are dropped", low=2)
    epochs: int = option(8, "training epochs", low=1)
    batch_size: int = option(128, "images per batch", low=1)
    learning_rate: float = option(0.05, "initial SGD learning rate (cosine-decayed)", above=0)
    weight_decay: float = option(5e-4, "decoupled weight decay", low=0)
    validation_fraction: float = option(
        0.1, "share of the training images held out to pick the best epoch", above=0, high=0.5
    )
    max_images: int | None = option(None, "a seeded subset of the training images (quick mode)", low=1)


@dataclasses.dataclass
class Prepared:
    data: TrafficSigns
    fit_index: np.ndarray  # training images the network trains on
    val_index: np.ndarray  # held-out training images that pick the checkpoint


def prepare(run: Run) -> Prepared:
    """Load the crops, re-split; hold out a stratified validation share (and, in quick mode, subsample)."""
    config = run.config
    data = load_traffic_signs(config.data, config.image_size, config.min_images, seed=config.seed, progress=True)
    run.record(
        data_source=str(Path(config.data).resolve()),
        classes=len(data.class_names),
        train_images=len(data.x_train),
        test_images=len(data.x_test),
    )
    fit_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed, data.class_names)
    if config.max_images:
        fit_index = np.sort(np.random.default_rng(config.seed).permutation(fit_index)[: config.max_images])
    return Prepared(data, fit_index, val_index)


def train(run: Run, prepared: Prepared) -> keras.Model:
    """ResNet-18 + softmax head trained with SGD; checkpoint by validation accuracy; the backbone is saved."""
    config, data, fit_index = run.config, prepared.data, prepared.fit_index
    batch_size = min(config.batch_size, len(fit_index))
    with run.scope():
        backbone = build_resnet18(
            (config.image_size, config.image_size, 3), stem=config.stem, include_top=False, name="backbone"
        )
        model = compile_classifier(
            classifier(backbone, len(data.class_names)),
            config.learning_rate,
            config.weight_decay,
            config.epochs * (len(fit_index) // batch_size),
        )
    batches = labelled_batches(
        data.x_train,
        shuffled_order(fit_index, data.y_train[fit_index], config.seed),
        batch_size,
        config.epochs,
        config.seed,
    )
    validation = fixed_batches(data.x_train[prepared.val_index], data.y_train[prepared.val_index], 256)
    run.fit(
        model,
        batches,
        validation=validation,
        epochs=config.epochs,
        monitor="val_accuracy",
        mode="max",
        curves=f"ResNet-18 ({config.stem} stem) on traffic signs",
    )
    best = run.best_model()
    run.save_model(best.get_layer("backbone"), "backbone.h5")
    return best


def report(run: Run, prepared: Prepared, best: keras.Model) -> None:
    """Test accuracy and what it says."""
    config, data = run.config, prepared.data
    history = run.history()
    predicted = best.predict(data.x_test, batch_size=256, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == data.y_test))
    run.add_metrics(
        {"test_accuracy": accuracy, "best_val_accuracy": history["val_accuracy"].max(), "epochs": len(history)}
    )
    run.summarise(
        f"{len(prepared.fit_index):,} training images of {len(data.class_names)} traffic-sign classes, {len(history)} "
        f"epoch(s): test accuracy {accuracy:.3f} on {len(data.x_test):,} test images (chance "
        f"{1 / len(data.class_names):.3f}). The backbone (backbone.h5) is what `tfml train resnet` fine-tunes on "
        "CIFAR-10."
    )
    run.note(
        f"{len(data.class_names)} classes, {len(prepared.fit_index):,} training / {len(prepared.val_index):,} "
        f"validation / {len(data.x_test):,} test images at {config.image_size} x {config.image_size}; {config.stem} "
        f"stem; SGD momentum 0.9, lr {config.learning_rate:g} cosine-decayed, weight decay {config.weight_decay:g}, "
        f"batch {min(config.batch_size, len(prepared.fit_index))}, {config.epochs} epochs; best epoch by validation "
        "accuracy."
    )


STEPS = (prepare, train, report)
