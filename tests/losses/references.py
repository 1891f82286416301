"""Independent numpy references for the losses, one pair or triplet at a time, and the check that
compares a loss with its reference on random batches (float32 and float64)."""

import itertools

import numpy as np

DTYPES = (np.float32, np.float64)


DISTANCES = ("euclidean", "sqeuclidean", "cosine")


def ref_jaccard(a, b):
    """|a & b| / |a | b| of two multi-hot rows; 0 for two empty sets."""
    a, b = a.astype(bool), b.astype(bool)
    union = (a | b).sum()
    return (a & b).sum() / union if union else 0.0


def ref_distance(a, b, distance):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if distance == "cosine":
        return 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    squared = ((a - b) ** 2).sum()
    return squared if distance in ("squared_l2", "sqeuclidean") else np.sqrt(squared)


def ref_semihard(labels, x, margin, distance):
    """tensorflow-addons' rule: per positive pair, the closest farther negative, else the farthest."""
    n = len(labels)
    d = [[ref_distance(x[i], x[j], distance) if i != j else 0.0 for j in range(n)] for i in range(n)]
    total, count = 0.0, 0
    if len(set(labels)) < 2:
        return 0.0
    for a, p in itertools.permutations(range(n), 2):
        if labels[a] != labels[p]:
            continue
        negatives = [k for k in range(n) if labels[k] != labels[a]]
        farther = [d[a][k] for k in negatives if d[a][k] > d[a][p]]
        negative = min(farther) if farther else max(d[a][k] for k in negatives)
        total += max(0.0, margin + d[a][p] - negative)
        count += 1
    return total / count if count else 0.0


def ref_hard(labels, x, margin, soft, distance):
    n, values = len(labels), []
    for a in range(n):
        pos = [ref_distance(x[a], x[p], distance) for p in range(n) if p != a and labels[p] == labels[a]]
        neg = [ref_distance(x[a], x[k], distance) for k in range(n) if labels[k] != labels[a]]
        if pos and neg:
            gap = max(pos) - min(neg)
            values.append(np.log1p(np.exp(gap)) if soft else max(0.0, margin + gap))
    return float(np.mean(values)) if values else 0.0


def ref_contrastive(
    labels, x, margin, pairs, distance, squared=True, positive_margin=0.0, miner=(0.2, 0.8), nonzero=False
):
    n = len(labels)
    d = lambda i, j: ref_distance(x[i], x[j], distance)  # noqa: E731
    power = 2 if squared else 1

    def closest_negative(i):
        return min((d(i, k) for k in range(n) if labels[k] != labels[i]), default=np.inf)

    pos, neg = [], []
    for i, j in itertools.permutations(range(n), 2):
        if labels[i] == labels[j]:
            keep = {
                "all": True,
                "hard": d(i, j) > min(closest_negative(i), closest_negative(j)),
                "margin": d(i, j) > miner[0],
            }[pairs]
            if keep:
                pos.append(max(d(i, j) - positive_margin, 0.0) ** power)
        else:
            keep = {"all": True, "hard": d(i, j) < margin, "margin": d(i, j) < miner[1]}[pairs]
            if keep:
                neg.append(max(margin - d(i, j), 0.0) ** power)
    if nonzero:
        pos, neg = [v for v in pos if v > 0], [v for v in neg if v > 0]
    return (np.mean(pos) if pos else 0.0) + (np.mean(neg) if neg else 0.0)


def ref_triplets(labels, x, margin, selection, distance, nonzero):
    """pytorch-metric-learning: every (a, p, n) the miner keeps, relu(d_ap - d_an + margin)."""
    values = []
    for a, p, k in itertools.permutations(range(len(labels)), 3):
        if labels[a] != labels[p] or labels[a] == labels[k]:
            continue
        d_ap, d_an = ref_distance(x[a], x[p], distance), ref_distance(x[a], x[k], distance)
        gap = d_an - d_ap
        keep = {"all": gap <= margin, "semihard": 0 < gap <= margin, "hard": gap <= 0, "easy": gap > margin}[selection]
        if keep:
            values.append(max(d_ap - d_an + margin, 0.0))
    if nonzero:
        values = [v for v in values if v > 0]
    return float(np.mean(values)) if values else 0.0


def batch(seed, n=12, dim=4, classes=3, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.integers(0, classes, n), rng.normal(size=(n, dim)).astype(dtype)


def ref_hard_per_anchor(labels, x, margin):
    values = []
    for a in range(len(labels)):
        pos = [ref_distance(x[a], x[p], "l2") for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        neg = [ref_distance(x[a], x[k], "l2") for k in range(len(labels)) if labels[k] != labels[a]]
        values.append(max(0.0, margin + max(pos) - min(neg)) if pos and neg else np.nan)
    return np.array(values)


def check_against_reference(test, make, reference, distance):
    """``make(margin, distance)`` equals ``reference(labels, x, margin, distance)`` on four random
    batches, in float32 (rtol 1e-4) and float64 (rtol 1e-10), after a round trip through its config."""
    for dtype in DTYPES:
        for seed in range(4):
            labels, x = batch(seed, dtype=dtype)
            margin = 0.5 if distance == "cosine" else 1.5
            loss = make(margin, distance)
            loss = type(loss).from_config({**loss.get_config(), "dtype": np.dtype(dtype).name})
            value = loss(labels, x)
            test.assertEqual(value.dtype, np.dtype(dtype).name)
            expected = reference(labels, x, margin, distance)
            if dtype == np.float32:
                test.assertAllClose(value, expected, rtol=1e-4, atol=1e-6)
            else:
                test.assertAllClose(value, expected, rtol=1e-10, atol=1e-12)
