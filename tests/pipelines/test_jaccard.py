"""The Jaccard triplet builder against a plain loop."""

import warnings

import numpy as np

from tests.helpers import TestCase
from tfml.pipelines.jaccard import jaccard, jaccard_triplets


def loop_triplets(genres, m, b, n, seed):
    """The builder written as the study describes it, one anchor at a time, same draws."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(m):
        batch = rng.choice(len(genres), b, replace=False)
        anchors = rng.integers(0, b, n)
        ties = rng.random((n, b, 2))
        sets = [set(np.flatnonzero(genres[i])) for i in batch]
        if all(s == sets[0] for s in sets):
            continue
        for t, a in enumerate(anchors):
            scores = {j: len(sets[a] & sets[j]) / len(sets[a] | sets[j]) for j in range(b) if j != a}
            best, worst = max(scores.values()), min(scores.values())
            p = max((j for j in scores if scores[j] == best), key=lambda j: ties[t, j, 0])
            q = max((j for j in scores if scores[j] == worst), key=lambda j: ties[t, j, 1])
            out.append((batch[a], batch[p], batch[q], 1 - scores[p], 1 - scores[q]))
    return [np.array(column) for column in zip(*out)]


class JaccardTripletsTest(TestCase):
    def test_matches_the_loop_and_is_seeded(self):
        genres = (np.random.default_rng(0).random((60, 6)) < 0.3).astype(np.uint8)
        genres[genres.sum(1) == 0, 0] = 1
        built = jaccard_triplets(genres, m=15, b=7, n=5, seed=4)
        for got, expected in zip(built, loop_triplets(genres, 15, 7, 5, seed=4)):
            self.assertAllClose(got, expected)
        self.assertAllEqual(built[0], jaccard_triplets(genres, 15, 7, 5, seed=4)[0])
        self.assertTrue((built[3] <= built[4]).all())  # the positive is at least as similar as the negative

    def test_bad_arguments_and_identical_label_sets(self):
        genres = np.eye(4, dtype=np.uint8)
        with self.assertRaisesRegex(ValueError, "b \\(movies per batch\\) must be between 3"):
            jaccard_triplets(genres, 1, 2, 1, seed=0)
        with self.assertRaisesRegex(ValueError, "must be at least 1"):
            jaccard_triplets(genres, 1, 3, 0, seed=0)
        with self.assertRaisesRegex(ValueError, "have no genre"):
            jaccard_triplets(np.zeros((4, 2)), 1, 3, 1, seed=0)
        same = np.ones((5, 3), np.uint8)
        with self.assertRaisesRegex(ValueError, "every batch had identical label sets"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                jaccard_triplets(same, 3, 3, 2, seed=0)
        mixed = np.vstack([same, [[1, 0, 0]]])
        with self.assertWarnsRegex(UserWarning, "skipped \\d+ of 30 batches whose label sets were all identical"):
            anchor, *_ = jaccard_triplets(mixed, 30, 3, 2, seed=0)
        self.assertGreater(len(anchor), 0)

    def test_jaccard_hand_checked(self):
        self.assertAllClose(jaccard([[1, 1, 0]], [[1, 0, 0], [0, 1, 1], [0, 0, 0]]), [[0.5, 1 / 3, 0.0]])
