"""The optimiser set-up of the softmax classifiers (ResNet-18 pretraining and fine-tuning)."""

from __future__ import annotations

import keras


def compile_classifier(model: keras.Model, learning_rate: float, weight_decay: float, steps: int) -> keras.Model:
    """SGD with momentum 0.9, cosine-decayed learning rate over ``steps``, decoupled weight decay,
    sparse categorical cross-entropy and accuracy."""
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))
    model.compile(
        keras.optimizers.SGD(schedule, momentum=0.9, weight_decay=weight_decay),
        keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")],
    )
    return model
