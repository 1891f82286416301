"""Figures written as PNG files; each function saves to ``path`` and returns it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from tfml.io import atomic_write, save_figure  # noqa: E402


def _show(axis, image, title=None, colour=None):
    axis.imshow(np.clip(image, 0, 1) if image.dtype.kind == "f" else image, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])
    if title is not None:
        axis.set_title(title, fontsize=7, color=colour or "black")
    if colour is not None:
        for spine in axis.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(2)


def image_rows(
    rows: Sequence[np.ndarray],
    path,
    row_names: Sequence[str] = (),
    titles: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Rows of images (each (n, H, W, 3), same n), e.g. originals over reconstructions."""
    n = len(rows[0])
    figure, axes = plt.subplots(len(rows), n, figsize=(1.1 * n, 1.2 * len(rows)), squeeze=False)
    for r, images in enumerate(rows):
        for c in range(n):
            _show(axes[r, c], images[c], titles[c] if titles is not None and r == 0 else None)
        if r < len(row_names):
            axes[r, 0].set_ylabel(row_names[r], fontsize=8)
    figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)


_FRAME_COLOURS = {
    "green": (0.0, 0.6, 0.0),
    "red": (0.85, 0.0, 0.0),
    "blue": (0.0, 0.0, 0.85),
    "grey": (0.55, 0.55, 0.55),
}
_FRAME_MEANING = {
    "blue": "query",
    "green": "same label as the query",
    "red": "another label",
    "grey": "query without a label",
}


def neighbour_grid(
    query_images: np.ndarray,
    neighbour_images: np.ndarray,
    path,
    query_labels: Sequence[str] | None = None,
    neighbour_labels: Sequence[Sequence[str]] | None = None,
    distances: np.ndarray | None = None,
    title: str = "",
    query_titles: Sequence[str] | None = None,
) -> Path:
    """One row per query: the query, then its neighbours in rank order (neighbour_images (Q, k, H, W, 3)).
    With labels, a neighbour's frame is green when its label matches the query's, red otherwise; a
    query without a label (query_labels None, or None for that query) gets grey frames, never the
    red of a wrong answer. A legend says what each frame colour means. query_titles replace the
    default "query: <label>" captions. Drawn as one composed image with
    captions (one axes, not one per image: 20 x 11 images render in about a second)."""
    n_queries, k = neighbour_images.shape[:2]
    height, width = query_images.shape[1:3]
    scale = max(1, 96 // max(height, width))
    border, caption, gap = 3, 26, 8
    cell_h, cell_w = caption + height * scale + 2 * border + gap, width * scale + 2 * border + gap
    canvas = np.ones((n_queries * cell_h, (k + 1) * cell_w, 3), np.float32)
    texts = []
    for q in range(n_queries):
        known = query_labels is not None and query_labels[q] is not None
        query_caption = (
            query_titles[q]
            if query_titles is not None
            else f"query: {query_labels[q]}"
            if known
            else "query (no label)"
        )
        cells = [(query_images[q], query_caption, "blue")]
        for j in range(k):
            words, colour = [], None
            if neighbour_labels is not None:
                words.append(str(neighbour_labels[q][j]))
                if query_labels is None or query_labels[q] is None:
                    colour = "grey"
                else:
                    colour = "green" if neighbour_labels[q][j] == query_labels[q] else "red"
            if distances is not None:
                words.append(f"{distances[q, j]:.3g}")
            cells.append((neighbour_images[q, j], " ".join(words), colour))
        for c, (image, text, colour) in enumerate(cells):
            top, left = q * cell_h + caption, c * cell_w
            image = np.asarray(image, np.float32) / (255.0 if np.asarray(image).dtype == np.uint8 else 1.0)
            if colour is not None:
                canvas[top : top + height * scale + 2 * border, left : left + width * scale + 2 * border] = (
                    _FRAME_COLOURS[colour]
                )
            canvas[top + border : top + border + height * scale, left + border : left + border + width * scale] = (
                np.clip(image, 0, 1).repeat(scale, axis=0).repeat(scale, axis=1)
            )
            texts.append((left + cell_w / 2 - gap / 2, top - 3, text, colour or "black"))
    dpi = 110
    used = [c for c in ("blue", "green", "red", "grey") if any(t[3] == c for t in texts)]
    header = (0.35 if title else 0.0) + (0.3 if used else 0.0)  # inches above the grid
    height_in = canvas.shape[0] / dpi + header
    figure = plt.figure(figsize=(canvas.shape[1] / dpi, height_in), dpi=dpi)
    axis = figure.add_axes((0, 0, 1, 1 - header / height_in))
    axis.imshow(canvas, interpolation="nearest")
    axis.axis("off")
    for x, y, text, colour in texts:
        axis.text(x, y, text, ha="center", va="bottom", fontsize=7, color=colour)
    if title:
        figure.suptitle(title, fontsize=10, y=1 - 0.05 / height_in, va="top")
    if used:
        from matplotlib.patches import Patch

        handles = [
            Patch(facecolor="white", edgecolor=_FRAME_COLOURS[c], linewidth=2, label=f"{_FRAME_MEANING[c]}")
            for c in used
        ]
        figure.legend(
            handles=handles,
            loc="upper center",
            ncol=len(handles),
            fontsize=8,
            frameon=False,
            title="frame:",
            title_fontsize=8,
            alignment="left",
            bbox_to_anchor=(0.5, 1 - (0.33 if title else 0.0) / height_in),
        )
    return save_figure(figure, path)


def pairplot(codes: np.ndarray, labels: Sequence[str], path, title: str = "") -> Path:
    """Seaborn pairplot of every pair of code dimensions, coloured by label."""
    import seaborn as sns

    frame = pd.DataFrame(codes, columns=[f"z{i}" for i in range(codes.shape[1])])
    frame["class"] = list(labels)
    grid = sns.pairplot(frame, hue="class", hue_order=sorted(set(labels)), corner=True, height=1.2, plot_kws={"s": 12})
    for axis in grid.axes.flat:
        if axis is not None:  # three ticks per axis in small print: long labels like -2.5 no longer run into each other
            axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3))
            axis.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3))
            axis.tick_params(labelsize=7)
    grid.figure.suptitle(title, fontsize=12)
    return save_figure(grid.figure, path)


def scatter_2d(
    points: np.ndarray,
    labels: Sequence[str],
    path,
    title: str = "",
    class_order: Sequence[str] | None = None,
    annotate: bool = False,
) -> Path:
    """2-D scatter of a projection, one colour per label; with ``annotate`` each class name is written
    at the median of its points (and the legend, unreadable for many classes, is left out)."""
    labels = np.asarray(labels)
    classes = list(class_order) if class_order is not None else sorted(set(labels.tolist()))
    colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20" if len(classes) <= 20 else "gist_ncar")
    figure, axis = plt.subplots(figsize=(9, 8) if annotate else (7, 6))
    for i, name in enumerate(classes):
        mask = labels == name
        if not mask.any():
            continue
        colour = colours(i / max(len(classes) - 1, 1) if len(classes) > 20 else i)
        axis.scatter(
            points[mask, 0], points[mask, 1], s=3 if len(points) > 2000 else 10, alpha=0.7, color=colour, label=name
        )
        if annotate:
            x, y = np.median(points[mask], axis=0)
            axis.text(
                x,
                y,
                name,
                fontsize=7,
                weight="bold",
                ha="center",
                va="center",
                bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.6, "linewidth": 0},
            )
    if not annotate:
        axis.legend(markerscale=3, fontsize=7, loc="best", ncol=1 + len(classes) // 15)
    axis.set_title(title)
    return save_figure(figure, path)


def distance_heatmap(distances: np.ndarray, names: Sequence[str], groups: Sequence[str], path, title: str = "") -> Path:
    """Heat map of a square distance matrix whose rows are ordered by group; lines separate the
    groups, whose names label the right-hand side."""
    import seaborn as sns

    size = max(6.0, 0.14 * len(names) + 2)
    figure, axis = plt.subplots(figsize=(size + 1.5, size))
    sns.heatmap(
        distances,
        xticklabels=names,
        yticklabels=names,
        cmap="viridis_r",
        square=True,
        ax=axis,
        cbar_kws={"label": "distance", "shrink": 0.6},
    )
    axis.tick_params(labelsize=6)
    boundaries = [i for i in range(1, len(groups)) if groups[i] != groups[i - 1]]
    for b in boundaries:
        axis.axhline(b, color="white", linewidth=1.2)
        axis.axvline(b, color="white", linewidth=1.2)
    starts = [0] + boundaries
    ends = boundaries + [len(groups)]
    for start, end in zip(starts, ends):
        axis.text(len(names) + 0.5, (start + end) / 2, groups[start], fontsize=8, va="center", ha="left")
    axis.set_title(title)
    return save_figure(figure, path)


def model_diagram(model, path) -> Path:
    """``keras.utils.plot_model`` when pydot and graphviz are installed, else a matplotlib drawing of
    the layers (name, type, output shape) from input to output."""
    import keras

    try:
        return atomic_write(
            path,
            lambda partial: keras.utils.plot_model(
                model, to_file=str(partial), show_shapes=True, expand_nested=True, dpi=80
            ),
        )
    except (ImportError, OSError, FileNotFoundError):
        pass
    boxes = []
    for sub in model.layers:
        if isinstance(sub, keras.Model):
            boxes += [(f"{sub.name}/{layer.name}", type(layer).__name__, layer.output.shape) for layer in sub.layers]
        else:
            boxes.append((sub.name, type(sub).__name__, sub.output.shape))
    figure, axis = plt.subplots(figsize=(5.5, 0.55 * len(boxes) + 0.5))
    for i, (name, kind, shape) in enumerate(boxes):
        y = len(boxes) - 1 - i
        axis.add_patch(plt.Rectangle((0.05, y + 0.1), 0.9, 0.7, facecolor="#dde8f5", edgecolor="#2a4d7a"))
        axis.text(0.5, y + 0.45, f"{name} ({kind})  {tuple(shape)}", ha="center", va="center", fontsize=8)
        if i:
            axis.annotate("", xy=(0.5, y + 0.8), xytext=(0.5, y + 1.1), arrowprops={"arrowstyle": "->"})
    axis.set_xlim(0, 1)
    axis.set_ylim(0, len(boxes))
    axis.axis("off")
    axis.set_title(f"{model.name}: {model.count_params():,} parameters", fontsize=9)
    return save_figure(figure, path)


def loss_curves(
    curves: dict[str, Sequence[float]],
    diverged: dict[str, int | None],
    path,
    title: str = "",
    xlabel: str = "iteration",
    headroom: float = 100.0,
) -> Path:
    """One line per entry of ``curves`` (log scale, drawn up to ``headroom`` times the largest first
    value); a run that diverged ends in a cross at its last finite value (at the top edge when that
    is off the scale) and says "diverged at <iteration>" in the legend."""
    figure, axis = plt.subplots(figsize=(6.5, 4))
    firsts = [v[0] for v in curves.values() if len(v) and np.isfinite(v[0])]
    top = headroom * max(firsts) if firsts else None
    for label, values in curves.items():
        values = np.asarray(values, np.float64)
        finite = np.isfinite(values)
        steps = np.arange(1, len(values) + 1)
        at = diverged.get(label)
        shown = np.minimum(values, top) if top else values
        (line,) = axis.plot(
            steps[finite], shown[finite], label=label if at is None else f"{label} (diverged at {at + 1})"
        )
        if at is not None and finite.any():
            last = np.flatnonzero(finite)[-1]
            axis.plot(steps[last], shown[last], "x", color=line.get_color(), ms=10, mew=2, clip_on=False)
    axis.set_yscale("log")
    if top:
        axis.set_ylim(top=top)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.legend(fontsize=8)
    return save_figure(figure, path)


def confident_predictions(
    images: np.ndarray,
    y_true,
    y_pred,
    confidence,
    class_names: Sequence[str],
    path,
    per_class: int = 5,
    title: str = "",
) -> Path:
    """A row per true class: its ``per_class`` most confident correct predictions (green), then its
    ``per_class`` most confident incorrect ones (red), each titled "true / -> predicted p"; empty
    cells where a class has fewer."""
    y_true, y_pred, confidence = (np.asarray(a).reshape(-1) for a in (y_true, y_pred, confidence))
    classes = len(class_names)
    figure, axes = plt.subplots(classes, 2 * per_class, figsize=(1.05 * 2 * per_class, 1.2 * classes), squeeze=False)
    for c in range(classes):
        for offset, correct in ((0, True), (per_class, False)):
            picked = np.flatnonzero((y_true == c) & ((y_pred == c) == correct))
            picked = picked[np.argsort(-confidence[picked], kind="stable")][:per_class]
            for slot in range(per_class):
                axis = axes[c, offset + slot]
                if slot < len(picked):
                    i = picked[slot]
                    _show(
                        axis,
                        images[i],
                        f"{class_names[y_true[i]]}\n-> {class_names[y_pred[i]]} {confidence[i]:.2f}",
                        "green" if correct else "red",
                    )
                else:
                    axis.axis("off")
        axes[c, 0].set_ylabel(class_names[c], fontsize=8)
    figure.suptitle(
        title or f"per class: {per_class} most confident correct | {per_class} most confident incorrect", fontsize=10
    )
    figure.tight_layout()
    return save_figure(figure, path)


def image_table(
    rows: Sequence[Sequence[tuple]],
    path,
    title: str = "",
    cell: tuple[float, float] = (1.3, 1.9),
    row_titles: Sequence[str] | None = None,
) -> Path:
    """A grid of images with captions: rows of (image, caption[, colour]) cells (colour frames the
    image); captions may have several lines. For triplets with their distances, or a query with
    its neighbours and their genres."""
    n_rows, n_cols = len(rows), max(len(row) for row in rows)
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(cell[0] * n_cols, cell[1] * n_rows), squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            axis = axes[r, c]
            if c >= len(row):
                axis.axis("off")
                continue
            image, caption, *colour = row[c]
            _show(axis, np.asarray(image), None, colour[0] if colour else None)
            axis.set_title(caption, fontsize=6.5, color=colour[0] if colour else "black")
        if row_titles is not None:
            axes[r, 0].set_ylabel(row_titles[r], fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)


def scatter_xy(x, y, path, title: str = "", xlabel: str = "", ylabel: str = "", diagonal: bool = False) -> Path:
    """A scatter of y against x with Pearson's r in the title; ``diagonal`` draws y = x."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    figure, axis = plt.subplots(figsize=(5.5, 5))
    axis.scatter(x, y, s=6, alpha=0.4)
    if diagonal:
        low, high = min(x.min(), y.min()), max(x.max(), y.max())
        axis.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--", label="y = x")
        axis.legend(fontsize=8)
    r = np.corrcoef(x, y)[0, 1] if len(x) > 1 and x.std() > 0 and y.std() > 0 else np.nan
    axis.set_title(f"{title}\nPearson r = {r:.3f} over {len(x):,} points", fontsize=10)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    return save_figure(figure, path)


def highlight_grid(points: np.ndarray, groups: dict[str, np.ndarray], path, title: str = "", columns: int = 6) -> Path:
    """Small multiples of a 2-D projection: one panel per group, its points in colour over all the
    others in grey (e.g. where each genre's movies fall)."""
    points = np.asarray(points)
    rows = math.ceil(len(groups) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.3 * columns, 2.3 * rows), squeeze=False)
    for axis, (name, mask) in zip(axes.flat, groups.items()):
        axis.scatter(points[:, 0], points[:, 1], s=2, color="#cccccc")
        axis.scatter(points[mask, 0], points[mask, 1], s=4, color="#c0392b")
        axis.set_title(f"{name} ({int(np.sum(mask))})", fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    for axis in list(axes.flat)[len(groups) :]:
        axis.axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)


def grouped_bars(frame: pd.DataFrame, path, title: str = "", ylabel: str = "") -> Path:
    """One group of bars per row of ``frame``, one bar per column (e.g. genre share per split)."""
    figure, axis = plt.subplots(figsize=(max(6.0, 0.45 * len(frame) * len(frame.columns) / 2 + 2), 4))
    frame.plot.bar(ax=axis, width=0.8)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.tick_params(axis="x", labelsize=8, labelrotation=60)
    figure.tight_layout()
    return save_figure(figure, path)


def matrix_heatmap(
    matrix: np.ndarray, names: Sequence[str], path, title: str = "", fmt: str = "d", label: str = ""
) -> Path:
    """An annotated heat map of a square matrix with named rows and columns (e.g. genre co-occurrence)."""
    import seaborn as sns

    size = max(6.0, 0.45 * len(names) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    sns.heatmap(
        matrix,
        xticklabels=names,
        yticklabels=names,
        annot=True,
        fmt=fmt,
        annot_kws={"fontsize": 6},
        cmap="Blues",
        square=True,
        ax=axis,
        cbar_kws={"label": label, "shrink": 0.6},
    )
    axis.tick_params(labelsize=7)
    axis.set_title(title)
    return save_figure(figure, path)


def line_plot(x, lines: dict[str, Sequence[float]], path, title: str = "", xlabel: str = "", ylabel: str = "") -> Path:
    """One line per entry of ``lines`` against ``x``."""
    figure, axis = plt.subplots(figsize=(6.5, 4))
    for label, values in lines.items():
        axis.plot(x, values, marker="o", ms=3, label=label)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend(fontsize=8)
    return save_figure(figure, path)


def texts_beside_images(rows: Sequence[tuple], path, title: str = "", width: int = 110) -> Path:
    """One row per (image, heading, [(text, is_true), ...]): the image, then its ranked texts, each cut
    to ``width`` characters; the true one in green and bold, the others grey."""
    import textwrap

    heights = [0.32 * len(texts) + 0.5 for _, _, texts in rows]
    figure = plt.figure(figsize=(12, sum(heights) + 0.4))
    grid = figure.add_gridspec(len(rows), 2, width_ratios=(1, 9), height_ratios=heights)
    for r, (image, heading, texts) in enumerate(rows):
        axis = figure.add_subplot(grid[r, 0])
        _show(axis, np.asarray(image))
        axis = figure.add_subplot(grid[r, 1])
        axis.axis("off")
        axis.text(0, 1, heading, fontsize=8, weight="bold", va="top", transform=axis.transAxes)
        for i, (text, is_true) in enumerate(texts):
            line = textwrap.shorten(f"{i + 1}. {text}", width=width, placeholder=" ...")
            axis.text(
                0,
                1 - (i + 1) / (len(texts) + 1),
                line,
                fontsize=7.5,
                va="top",
                transform=axis.transAxes,
                color="green" if is_true else "#444444",
                weight="bold" if is_true else "normal",
            )
    figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)


def rank_histograms(ranks: dict[str, np.ndarray], path, title: str = "", bins: int = 30) -> Path:
    """Histograms (log-spaced bins) of the rank of each item's true match, one per group of items."""
    figure, axis = plt.subplots(figsize=(6.5, 4))
    largest = max(int(np.max(values)) for values in ranks.values())
    edges = np.unique(np.geomspace(1, largest + 1, bins).astype(int))
    for label, values in ranks.items():
        axis.hist(
            values,
            bins=edges,
            alpha=0.55,
            label=f"{label} (median {int(np.median(values))})",
            weights=np.full(len(values), 1 / len(values)),
        )  # a share per bin: density would shrink the wide bins
    axis.set_xscale("log")
    axis.set_xlabel("rank of the true match (1 = first)")
    axis.set_ylabel("share of items in the bin")
    axis.set_title(title)
    axis.legend(fontsize=8)
    return save_figure(figure, path)
