"""Numpy references for the retrieval metrics, one query at a time, written from the definitions."""

import numpy as np


def same(nl, ql):
    return np.asarray(nl) == np.asarray(ql).reshape(-1)[:, None]


def ref_precision(nl, ql, k):
    return np.mean([np.sum(row[:k] == q) / k for row, q in zip(nl, ql)])


def ref_recall(nl, ql, k, n_rel):
    return np.mean([np.sum(row[:k] == q) / r for row, q, r in zip(nl, ql, n_rel) if r > 0])


def ref_r_precision(nl, ql, n_rel):
    return np.mean([np.sum(row[:r] == q) / r for row, q, r in zip(nl, ql, n_rel)])


def ref_map_at_r(nl, ql, n_rel):
    scores = []
    for row, q, r in zip(nl, ql, n_rel):
        total, hits = 0.0, 0
        for j in range(r):
            if row[j] == q:
                hits += 1
                total += hits / (j + 1)
        scores.append(total / r)
    return np.mean(scores)


def ref_knn(row, k):
    top = list(row[:k])
    counts = {c: top.count(c) for c in top}
    best = max(counts.values())
    return next(c for c in top if counts[c] == best)


def ref_ndcg(gains, gallery_gains, k):
    """One query: DCG of the retrieved gains over the DCG of the gallery sorted by gain."""
    discount = [1 / np.log2(rank + 1) for rank in range(1, k + 1)]
    dcg = sum(g * w for g, w in zip(gains[:k], discount))
    ideal = sum(g * w for g, w in zip(sorted(gallery_gains, reverse=True)[:k], discount))
    return dcg / ideal if ideal > 0 else None


def ref_top_ratio(d, ratio, dim):
    """A plain loop: for each row (dim=1) or column (dim=0), is the own index among the k smallest,
    ties counted against the match."""
    n = len(d)
    k = int(ratio * n)
    hits = 0
    for i in range(n):
        line = [d[i][j] for j in range(n)] if dim == 1 else [d[j][i] for j in range(n)]
        rank = sum(1 for j in range(n) if line[j] < line[i]) + sum(1 for j in range(n) if line[j] == line[i])
        hits += rank <= k
    return hits / n
