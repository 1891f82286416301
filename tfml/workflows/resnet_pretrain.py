"""Study 5b, step 1: pretrain a ResNet-18 backbone on a labelled source disjoint from CIFAR-10.

No ImageNet weights can be downloaded on these machines, so the backbone learns on the TT100K
traffic-sign crops (71 classes with at least 20 images, re-split 80/20), resized to the 32 x 32 of
CIFAR-10. Real photographs, labelled, and no class in common with CIFAR-10. The backbone (image ->
512 pooled features) is saved as ``backbone.h5`` for the zoo and for ``tfml train resnet``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np

from tfml.data import stratified_split
from tfml.data.traffic_signs import load_traffic_signs
from tfml.models.resnet import build_resnet18, classifier
from tfml.training import prepare_run_dir, save_model, set_seed, write_text
from tfml.training.classifier import compile_classifier, fit_classifier
from tfml.viz import training_curves, write_report
from tfml.workflows.study import StudyConfig


@dataclasses.dataclass(kw_only=True)
class Config(StudyConfig):
    NAME = "resnet-pretrain"
    QUICK = {"epochs": 1, "max_images": 1500}
    data: str = "../shared/data/tt100k-crops.tar.gz"
    image_size: int = 32
    stem: str = "imagenet"
    min_images: int = 20
    epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 0.05
    weight_decay: float = 5e-4
    validation_fraction: float = 0.1
    max_images: int | None = None  # quick mode: a seeded subset of the training images


def run(config: Config) -> Path:
    run_dir = config.resolved_run_dir()
    set_seed(config.seed)
    data = load_traffic_signs(config.data, config.image_size, config.min_images, seed=config.seed, progress=True)
    prepare_run_dir(run_dir, dataclasses.asdict(config), fresh=config.fresh,
                    extra={"data_source": str(Path(config.data).resolve()), "classes": len(data.class_names),
                           "train_images": len(data.x_train), "test_images": len(data.x_test)})
    fit_index, val_index = stratified_split(data.y_train, config.validation_fraction, config.seed)
    if config.max_images:
        fit_index = np.sort(np.random.default_rng(config.seed).permutation(fit_index)[: config.max_images])
    backbone = build_resnet18((config.image_size, config.image_size, 3), stem=config.stem, include_top=False, name="backbone")
    model = compile_classifier(classifier(backbone, len(data.class_names)), config.learning_rate, config.weight_decay,
                               config.epochs * (len(fit_index) // config.batch_size))
    history = fit_classifier(model, data.x_train, data.y_train, fit_index, val_index, run_dir, config.epochs, config.batch_size, config.seed)
    training_curves(history, run_dir / "figures/training_curves.png", f"ResNet-18 ({config.stem} stem) on traffic signs")
    best = keras.models.load_model(run_dir / "model.h5")
    save_model(best.get_layer("backbone"), run_dir / "backbone.h5")
    predicted = best.predict(data.x_test.astype(np.float32) / 255.0, batch_size=256, verbose=0).argmax(axis=1)
    metrics = {"test_accuracy": float(np.mean(predicted == data.y_test)),
               "best_val_accuracy": float(history["val_accuracy"].max()), "epochs": int(len(history))}
    write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))
    write_report(run_dir, "ResNet-18 backbone pretrained on traffic signs", metrics,
                 figures={"Training curves": "figures/training_curves.png"},
                 notes=(f"{len(data.class_names)} classes, {len(fit_index):,} training / {len(val_index):,} validation / "
                        f"{len(data.x_test):,} test images at {config.image_size} x {config.image_size}; {config.stem} stem; "
                        f"SGD momentum 0.9, lr {config.learning_rate:g} cosine-decayed, weight decay {config.weight_decay:g}, "
                        f"batch {config.batch_size}, {config.epochs} epochs; best epoch by validation accuracy."))
    return run_dir
