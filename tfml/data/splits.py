"""Seeded, class-stratified splits of labelled data."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split


def stratified_split(
    labels: np.ndarray, holdout: float | int, seed: int, class_names: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out), each sorted; held_out has ``holdout`` items (a count, or a fraction
    of len(labels)) with the class proportions of ``labels``, chosen by ``seed``.

    A split that cannot be made is a ValueError saying why, before any work: a class with one item
    (named from ``class_names`` when given), or a held-out part (or the rest) smaller than the
    number of classes, which then cannot hold one item of each.

    >>> stratified_split(np.array([0, 0, 1, 1]), 0.5, seed=0)
    (array([1, 2]), array([0, 3]))
    >>> stratified_split(np.array([0, 0, 1]), 0.5, seed=0, class_names=["cat", "dog"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: class dog has only 1 item: a stratified split needs at least 2 per class ...
    """
    labels = np.asarray(labels).reshape(-1)
    classes, counts = np.unique(labels, return_counts=True)
    if counts.size and counts.min() < 2:
        single = classes[counts.argmin()]
        name = class_names[single] if class_names is not None else single
        raise ValueError(
            f"class {name} has only 1 item: a stratified split needs at least 2 per class "
            "(add items or leave the class out)"
        )
    held = holdout if isinstance(holdout, (int, np.integer)) else math.ceil(holdout * len(labels))
    if not len(classes) <= held <= len(labels) - len(classes):
        raise ValueError(
            f"a held-out part of {held} of {len(labels)} items cannot hold every one of the {len(classes)} classes "
            f"and leave each in the rest: hold out between {len(classes)} and {len(labels) - len(classes)} items"
        )
    indices = np.arange(len(labels))
    kept, held_out = train_test_split(indices, test_size=holdout, stratify=labels, random_state=seed)
    return np.sort(kept), np.sort(held_out)
