"""Training a softmax classifier through the fit helper: SGD set-up, seeded epoch-keyed batches, resumable."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tfml.pipelines.sampling import gather_dataset, shuffled_batches
from tfml.training.fit import completed_epochs, fit


def fit_classifier(model: keras.Model, images: np.ndarray, labels: np.ndarray, fit_index: np.ndarray, val_index: np.ndarray,
                   run_dir: str | Path, epochs: int, batch_size: int, seed: int, verbose: int | str = 2) -> pd.DataFrame:
    """Fits a compiled softmax ``model`` on images[fit_index] (uint8 or float) with integer labels,
    checkpointing the best validation accuracy to ``run_dir/model.h5``; each epoch is a seeded
    permutation keyed on (seed, epoch), so a resumed run sees the same batches."""
    labels = np.asarray(labels).reshape(-1)
    start = completed_epochs(run_dir)
    batches = [shuffled_batches(len(fit_index), batch_size, seed, epoch) for epoch in range(start, epochs)]
    steps = len(fit_index) // batch_size
    train_index = fit_index[np.concatenate(batches)] if batches else np.empty((0, batch_size), np.int64)
    train = gather_dataset(images, train_index, labels[train_index])
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    validation = (tf.data.Dataset.from_tensor_slices((images[val_index], labels[val_index])).batch(batch_size)
                  .map(lambda x, y: (tf.cast(x, tf.float32) / scale, y)).prefetch(tf.data.AUTOTUNE))
    return fit(model, train, validation=validation, run_dir=run_dir, epochs=epochs, steps_per_epoch=steps,
               checkpoint="model.h5", monitor="val_accuracy", mode="max", verbose=verbose)


def compile_classifier(model: keras.Model, learning_rate: float, weight_decay: float, steps: int) -> keras.Model:
    """SGD with momentum 0.9, cosine-decayed learning rate over ``steps``, decoupled weight decay."""
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))
    model.compile(keras.optimizers.SGD(schedule, momentum=0.9, weight_decay=weight_decay),
                  keras.losses.SparseCategoricalCrossentropy(), metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")])
    return model
