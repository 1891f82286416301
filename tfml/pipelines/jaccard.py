"""Graded similarity of label sets, and the triplet builder of the poster study.

Two movies are as similar as the Jaccard index of their genre sets, J(y, y') = |y & y'| / |y | y'|;
their label distance is 1 - J.

``jaccard_triplets(genres, m, b, n, seed)``: repeat m times: draw a batch of b movies (without
replacement); repeat n times: draw an anchor in the batch (with replacement), sort the other b - 1
by Jaccard index to the anchor, take the most similar as positive and the least similar as negative
(ties broken at random). All draws come from one ``numpy.random.default_rng(seed)``, per batch in
this order: the batch, its n anchors, uniform tie-breakers (n, b, 2). A batch whose label sets are
all identical gives no information and is skipped (counted in a warning).

>>> import numpy as np
>>> genres = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]])
>>> jaccard(genres[:1], genres).round(2).tolist()
[[1.0, 0.5, 0.0, 1.0]]
>>> anchor, positive, negative, d_ap, d_an = jaccard_triplets(genres, m=2, b=4, n=3, seed=0)
>>> bool(((d_ap <= d_an) & (anchor != positive) & (anchor != negative)).all())
True
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

log = logging.getLogger(__name__)


def jaccard(a, b) -> np.ndarray:
    """Jaccard index |a & b| / |a | b| between the rows of two multi-hot matrices (n, G) and (m, G),
    (n, m); two empty sets have index 0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    both = a @ b.T
    either = a.sum(1)[:, None] + b.sum(1)[None, :] - both
    return np.divide(both, either, out=np.zeros_like(both), where=either > 0)


def _pick(scores: np.ndarray, ties: np.ndarray, best) -> np.ndarray:
    """Per row, the column with the best score (``best`` = np.max or np.min), ties to the largest tie-breaker."""
    target = best(scores, axis=1, keepdims=True)
    return np.argmax(np.where(scores == target, ties, -1.0), axis=1)


def jaccard_triplets(genres, m: int, b: int, n: int, seed: int):
    """(anchor, positive, negative) row indices into ``genres`` and (1 - J(a, p), 1 - J(a, n)) label
    distances of the triplets built as the module docstring says; int64 and float64 arrays."""
    genres = np.asarray(genres)
    count = len(genres)
    if m < 1 or n < 1:
        raise ValueError(f"m (batches) and n (anchors per batch) must be at least 1, got m={m}, n={n}")
    if not 3 <= b <= count:
        raise ValueError(f"b (movies per batch) must be between 3 and the {count} movies, got {b}")
    if (genres.sum(axis=1) == 0).any():
        raise ValueError(f"{int((genres.sum(axis=1) == 0).sum())} movie(s) have no genre; drop them first")
    rng = np.random.default_rng(seed)
    parts, skipped = [], 0
    for _ in range(m):
        batch = rng.choice(count, b, replace=False)
        anchors = rng.integers(0, b, n)
        ties = rng.random((n, b, 2))
        similarity = jaccard(genres[batch], genres[batch])
        if (similarity == 1.0).all():
            skipped += 1
            continue
        rows = similarity[anchors]  # (n, b)
        self_column = np.arange(b)[None, :] == anchors[:, None]
        positive = _pick(np.where(self_column, -np.inf, rows), ties[..., 0], np.max)
        negative = _pick(np.where(self_column, np.inf, rows), ties[..., 1], np.min)
        picked = np.arange(n)
        parts.append(
            (
                batch[anchors],
                batch[positive],
                batch[negative],
                1.0 - rows[picked, positive],
                1.0 - rows[picked, negative],
            )
        )
    if skipped:
        message = f"jaccard_triplets: skipped {skipped} of {m} batches whose label sets were all identical"
        log.warning(message)
        warnings.warn(message, stacklevel=2)
    if not parts:
        raise ValueError("every batch had identical label sets: no triplet carries information")
    anchor, positive, negative, d_ap, d_an = (np.concatenate(column) for column in zip(*parts))
    return anchor.astype(np.int64), positive.astype(np.int64), negative.astype(np.int64), d_ap, d_an
