"""Seeded, class-stratified splits of labelled data."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def stratified_split(labels: np.ndarray, holdout: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out), each sorted; held_out has ``holdout`` items (a count, or a fraction
    of len(labels)) with the class proportions of ``labels``, chosen by ``seed``."""
    labels = np.asarray(labels).reshape(-1)
    indices = np.arange(len(labels))
    kept, held_out = train_test_split(indices, test_size=holdout, stratify=labels, random_state=seed)
    return np.sort(kept), np.sort(held_out)
