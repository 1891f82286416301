import numpy as np
import pytest

from tfml.retrieval import (
    count_relevant,
    hit_rate_at_k,
    knn_accuracy,
    knn_predict,
    map_at_r,
    precision_at_k,
    r_precision,
    recall_at_k,
)


# numpy oracles written from the definitions, one query at a time
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


def test_hand_checked_values():
    nl = np.array([[1, 0, 1, 1], [2, 2, 0, 0]])
    ql = np.array([1, 0])
    assert precision_at_k(nl, ql, 1) == pytest.approx(0.5)
    assert precision_at_k(nl, ql, 4) == pytest.approx((3 / 4 + 2 / 4) / 2)
    assert recall_at_k(nl, ql, 2, [3, 4]) == pytest.approx((1 / 3 + 0) / 2)
    assert hit_rate_at_k(nl, ql, 2) == pytest.approx(0.5)
    # R = 3 and 2: query 0 -> rel [1,0,1]: R-precision 2/3, MAP@R (1/1 + 2/3) / 3
    assert r_precision(nl, ql, [3, 2]) == pytest.approx((2 / 3 + 0) / 2)
    assert map_at_r(nl, ql, [3, 2]) == pytest.approx(((1 + 2 / 3) / 3 + 0) / 2)
    # MAP@R of Musgrave et al.'s example: R = 10, relevant at ranks 1, 3 -> (1 + 2/3) / 10
    assert map_at_r(np.array([[1, 0, 1] + [0] * 7]), [1], [10]) == pytest.approx((1 + 2 / 3) / 10)


def test_knn_majority_vote_and_tie_rule():
    nl = np.array([
        [3, 1, 1, 3, 2],  # k=5: 3 and 1 tie with 2 votes, 3 is nearest
        [1, 2, 2, 9, 9],  # k=5: 2 and 9 tie, 2 comes first
        [4, 5, 5, 5, 4],  # k=5: 5 wins 3 to 2
    ])
    assert knn_predict(nl, 5).tolist() == [3, 2, 5]
    assert knn_predict(nl, 1).tolist() == [3, 1, 4]
    assert knn_predict(nl, 2).tolist() == [3, 1, 4]  # two different labels: the nearest
    assert knn_accuracy(nl, [3, 9, 5], 5) == pytest.approx(2 / 3)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_random_cases_match_the_oracles(dtype, seed):
    rng = np.random.default_rng(seed)
    nl = rng.integers(0, 4, size=(50, 30)).astype(dtype)
    ql = rng.integers(0, 4, size=50).astype(dtype)
    n_rel = rng.integers(1, 31, size=50)
    for k in (1, 5, 30):
        assert precision_at_k(nl, ql, k) == pytest.approx(ref_precision(nl, ql, k))
        assert recall_at_k(nl, ql, k, n_rel) == pytest.approx(ref_recall(nl, ql, k, n_rel))
        assert knn_predict(nl, k).tolist() == [ref_knn(row, k) for row in nl]
    assert r_precision(nl, ql, n_rel) == pytest.approx(ref_r_precision(nl, ql, n_rel))
    assert map_at_r(nl, ql, n_rel) == pytest.approx(ref_map_at_r(nl, ql, n_rel))


def test_count_relevant():
    assert count_relevant([0, 1, 2], [0, 0, 1, 0], query_in_base=False).tolist() == [3, 1, 0]
    assert count_relevant([0, 1], [0, 0, 1, 0]).tolist() == [2, 0]


def test_bad_input_is_a_clear_error():
    nl, ql = np.zeros((2, 3)), np.zeros(2)
    with pytest.raises(ValueError, match="k=4 must be between 1 and the 3"):
        precision_at_k(nl, ql, 4)
    with pytest.raises(ValueError, match="n_queries = 3"):
        precision_at_k(nl, np.zeros(3), 1)
    with pytest.raises(ValueError, match="need R = 5 neighbours"):
        map_at_r(nl, ql, [5, 1])
    with pytest.raises(ValueError, match="1 queries have no relevant item"):
        r_precision(nl, ql, [0, 1])
    with pytest.raises(ValueError, match="no query has a relevant item"):
        recall_at_k(nl, ql, 1, [0, 0])
    with pytest.raises(ValueError, match="no queries"):
        precision_at_k(np.zeros((0, 3)), np.zeros(0), 1)
