"""Training curves: one panel per value a training logged, drawn after every training."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from tfml.io import save_figure  # noqa: E402

NOT_CURVES = ("epoch", "learning_rate", "epoch_seconds")


def training_curves(history: pd.DataFrame, path, title: str = "") -> Path:
    """One panel per value logged in ``history`` (a CSV log), train and validation together; a
    validation-only figure (e.g. val_map_at_r from a per-epoch evaluation) gets its own panel.
    The epoch's seconds and learning rate are not drawn."""
    names = [c for c in history.columns if c not in NOT_CURVES and not c.startswith("val_")]
    names += [c for c in history.columns if c.startswith("val_") and c[4:] not in history.columns]
    figure, axes = plt.subplots(1, max(len(names), 1), figsize=(4.5 * max(len(names), 1), 3.5), squeeze=False)
    epochs = history["epoch"] + 1 if "epoch" in history else []
    for axis, name in zip(axes[0], names):
        axis.plot(epochs, history[name], marker="o", ms=3, label="validation" if name.startswith("val_") else "train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker="o", ms=3, label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(name)
        axis.legend()
    figure.suptitle(title)
    return save_figure(figure, path)
