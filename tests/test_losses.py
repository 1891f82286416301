"""Each loss against a plain numpy loop written from its definition (float32 and float64)."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfml  # noqa: F401
from tfml.losses import (
    ContrastiveLoss,
    ContrastivePairLoss,
    TripletHardLoss,
    TripletMarginLoss,
    TripletSemiHardLoss,
    pairwise_distances,
)


def ref_distance(a, b, distance):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if distance == "cosine":
        return 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    squared = ((a - b) ** 2).sum()
    return squared if distance == "squared_l2" else np.sqrt(squared)


def ref_semihard(labels, x, margin, distance):
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


def ref_contrastive(labels, x, margin, pairs, distance):
    n = len(labels)
    d = lambda i, j: ref_distance(x[i], x[j], distance)  # noqa: E731

    def closest_negative(i):
        return min((d(i, k) for k in range(n) if labels[k] != labels[i]), default=np.inf)

    pos, neg = [], []
    for i, j in itertools.combinations(range(n), 2):
        if labels[i] == labels[j]:
            if pairs == "all" or d(i, j) > min(closest_negative(i), closest_negative(j)):
                pos.append(d(i, j) ** 2)
        elif pairs == "all" or d(i, j) < margin:
            neg.append(max(margin - d(i, j), 0.0) ** 2)
    return (np.mean(pos) if pos else 0.0) + (np.mean(neg) if neg else 0.0)


def batch(seed, n=12, dim=4, classes=3, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.integers(0, classes, n), rng.normal(size=(n, dim)).astype(dtype)


CASES = [
    (TripletSemiHardLoss, lambda l, x, m, dist: ref_semihard(l, x, m, dist), {}),
    (TripletHardLoss, lambda l, x, m, dist: ref_hard(l, x, m, False, dist), {}),
    (TripletHardLoss, lambda l, x, m, dist: ref_hard(l, x, m, True, dist), {"soft": True}),
    (ContrastiveLoss, lambda l, x, m, dist: ref_contrastive(l, x, m, "all", dist), {}),
    (ContrastiveLoss, lambda l, x, m, dist: ref_contrastive(l, x, m, "hard", dist), {"pairs": "hard"}),
]


@pytest.mark.parametrize("loss_class, reference, options", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("distance", ["l2", "squared_l2", "cosine"])
def test_random_batches_match_the_numpy_loops(loss_class, reference, options, dtype, distance):
    for seed in range(4):
        labels, x = batch(seed, dtype=dtype)
        margin = 0.5 if distance == "cosine" else 1.5
        loss = loss_class(margin=margin, distance=distance, dtype=np.dtype(dtype).name, **options)
        value = loss(labels, x)
        assert value.dtype == np.dtype(dtype).name
        expected = reference(labels, x, margin, distance)
        assert float(value) == pytest.approx(expected, rel=1e-4 if dtype == np.float32 else 1e-10, abs=1e-6 if dtype == np.float32 else 1e-12)


def test_hand_checked_values():
    # four points on a line: a=0, p=1 (class 0); n1=2.5, n2=4 (class 1); l2, margin 1
    labels = np.array([0, 0, 1, 1])
    x = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
    # semi-hard, positive pairs (0,1),(1,0),(2,3),(3,2):
    # (0,1): d_ap=1, negatives of 0 at 2.5, 4 -> closest farther = 2.5 -> max(0, 1 + 1 - 2.5) = 0
    # (1,0): d_ap=1, negatives of 1 at 1.5, 3 -> 1.5 -> 0.5;  (2,3): d=1.5, negs of 2 at 2.5, 1.5 -> 2.5 -> 0
    # (3,2): d=1.5, negs of 3 at 4, 3 -> farther than 1.5: 3 -> max(0, 1 + 1.5 - 3) = 0
    assert float(TripletSemiHardLoss()(labels, x)) == pytest.approx(0.5 / 4)
    # batch-hard: anchor 0: 1 - 2.5; anchor 1: 1 - 1.5 -> 0.5; anchor 2: 1.5 - 1.5 -> 1; anchor 3: 1.5 - 3 -> 0
    assert float(TripletHardLoss()(labels, x)) == pytest.approx((0 + 0.5 + 1.0 + 0) / 4)
    # contrastive all: positives d^2 = 1, 2.25 -> 1.625; negatives (0,2) 2.5,(0,3) 4,(1,2) 1.5,(1,3) 3 -> all >= margin -> 0
    assert float(ContrastiveLoss()(labels, x)) == pytest.approx(1.625)
    assert float(ContrastiveLoss(margin=2.0)(labels, x)) == pytest.approx(1.625 + 0.25 / 4)


def test_degenerate_batches_give_zero_not_nan():
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    for loss in (TripletSemiHardLoss(), TripletHardLoss(), TripletHardLoss(soft=True), ContrastiveLoss(pairs="hard")):
        assert float(loss(np.zeros(5), x)) == 0.0  # one class
    for loss in (TripletSemiHardLoss(), TripletHardLoss(), TripletHardLoss(soft=True)):
        assert float(loss(np.arange(5), x)) == 0.0  # no positive pair
    no_positive = ContrastiveLoss(margin=3.0)(np.arange(5), x)  # only the negative term
    assert float(no_positive) == pytest.approx(ref_contrastive(np.arange(5), x, 3.0, "all", "l2"), rel=1e-5)
    single = ContrastiveLoss()(np.zeros(5), x)  # one class: only the positive term
    assert float(single) == pytest.approx(ref_contrastive(np.zeros(5), x, 1.0, "all", "l2"), rel=1e-5)


@pytest.mark.parametrize("loss", [TripletSemiHardLoss(), TripletHardLoss(), TripletHardLoss(soft=True),
                                  ContrastiveLoss(), ContrastiveLoss(pairs="hard")], ids=lambda l: l.name)
def test_gradients_are_finite_with_duplicate_embeddings(loss):
    x = tf.Variable(np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0], [0.0, 1.0], [3.0, 0.0]], np.float32))
    labels = np.array([0, 0, 1, 1, 0])
    with tf.GradientTape() as tape:
        value = loss(labels, x)
    gradient = tape.gradient(value, x)
    assert np.isfinite(value.numpy()) and np.isfinite(gradient.numpy()).all()


def test_pairwise_distances_gradient_on_the_diagonal_is_finite():
    x = tf.Variable(np.ones((3, 4), np.float32))
    for distance in ("l2", "squared_l2", "cosine"):
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(pairwise_distances(x, distance=distance))
        assert np.isfinite(tape.gradient(total, x).numpy()).all()
    with pytest.raises(ValueError, match="unknown distance 'l3'"):
        pairwise_distances(x, distance="l3")


def test_explicit_triplets_and_pairs():
    rng = np.random.default_rng(1)
    triplets = rng.normal(size=(6, 3, 4)).astype(np.float32)
    expected = np.mean([max(0, 1 + ref_distance(t[0], t[1], "l2") - ref_distance(t[0], t[2], "l2")) for t in triplets])
    assert float(TripletMarginLoss()(np.zeros(6), triplets)) == pytest.approx(expected, rel=1e-5)
    pairs = rng.normal(size=(6, 2, 4)).astype(np.float32)
    similar = np.array([1, 0, 1, 0, 0, 1])
    expected = np.mean([s * ref_distance(p[0], p[1], "l2") ** 2 + (1 - s) * max(0, 2 - ref_distance(p[0], p[1], "l2")) ** 2
                        for s, p in zip(similar, pairs)])
    assert float(ContrastivePairLoss(margin=2.0)(similar, pairs)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("loss", [TripletSemiHardLoss(margin=0.3, distance="cosine"), TripletHardLoss(soft=True),
                                  TripletMarginLoss(margin=2.0), ContrastiveLoss(margin=0.7, pairs="hard"),
                                  ContrastivePairLoss(distance="squared_l2")], ids=lambda l: l.name)
def test_losses_serialise_and_reload_inside_an_h5_model(loss, tmp_path):
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is type(loss) and restored.get_config() == loss.get_config()
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("sgd", loss)
    model.save(tmp_path / "m.h5")
    assert keras.models.load_model(tmp_path / "m.h5").loss.get_config() == loss.get_config()


def test_bad_options_are_errors():
    with pytest.raises(ValueError, match="pairs must be one of"):
        ContrastiveLoss(pairs="semi")
    with pytest.raises(ValueError, match="distance .manhattan. is not available here"):
        TripletHardLoss(distance="manhattan")


def test_training_with_semihard_loss_brings_same_class_points_together():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 16)
    x = (rng.normal(size=(64, 8)) + labels[:, None] * 0.3).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.01), TripletSemiHardLoss(margin=0.5))
    before = model.evaluate(x, labels, batch_size=64, verbose=0)
    model.fit(x, labels, batch_size=64, epochs=60, verbose=0, shuffle=False)
    assert model.evaluate(x, labels, batch_size=64, verbose=0) < 0.5 * before


class MetricLossBaseTest(tf.test.TestCase):
    """The base's contract: per-anchor values, Keras reduction and sample weights, reducers, query/key."""

    def setUp(self):
        self.labels, self.x = batch(7, n=10, dtype=np.float64)

    def test_per_anchor_values_average_to_the_loss_over_anchors_with_a_term(self):
        for loss in (TripletSemiHardLoss(margin=1.5, dtype="float64"), ContrastiveLoss(margin=1.5, dtype="float64")):
            value = loss(self.labels, self.x)
            per_anchor = type(loss)(**{**loss.get_config(), "reduction": None})(self.labels, self.x)
            self.assertEqual(per_anchor.shape, (10,))
            has_term = np.array([(self.labels == label).sum() > 1 for label in self.labels])  # a positive (and negatives exist)
            if loss.name.startswith("contrastive"):
                has_term[:] = True  # every anchor has negative pairs
            self.assertAllClose(value, per_anchor.numpy().sum() / has_term.sum())
            total = type(loss)(**{**loss.get_config(), "reduction": "sum"})(self.labels, self.x)
            self.assertAllClose(total, tf.reduce_sum(per_anchor))

    def test_sample_weights_weight_anchors(self):
        loss = TripletHardLoss(margin=1.5, dtype="float64")
        per_anchor = ref_hard_per_anchor(self.labels, self.x, 1.5)
        weights = np.linspace(0.0, 2.0, 10)
        valid = ~np.isnan(per_anchor)
        expected = np.sum(np.where(valid, per_anchor, 0) * weights) / valid.sum()
        self.assertAllClose(loss(self.labels, self.x, sample_weight=weights), expected)
        self.assertAllClose(loss(self.labels, self.x, sample_weight=np.zeros(10)), 0.0)

    def test_mean_nonzero_reducer_divides_by_the_terms_above_zero(self):
        labels = np.array([0, 0, 1, 1])
        points = np.array([[0.0], [1.0], [2.5], [4.0]], np.float64)
        # contrastive plain form, margin 2: positives d = 1, 1.5 (each twice), negatives: only (1, 2) at 1.5 is inside
        mean = ContrastiveLoss(margin=2.0, squared=False, dtype="float64")(labels, points)
        nonzero = ContrastiveLoss(margin=2.0, squared=False, reducer="mean_nonzero", dtype="float64")(labels, points)
        self.assertAllClose(mean, (1 + 1.5) / 2 + 2 * 0.5 / 8)
        self.assertAllClose(nonzero, (1 + 1.5) / 2 + 0.5)

    def test_query_key_embeddings_compare_each_query_with_every_key(self):
        rng = np.random.default_rng(1)
        queries, keys = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
        labels = np.array([0, 0, 1, 1, 2, 2])
        value = ContrastiveLoss(margin=3.0, dtype="float64")(labels, np.stack([queries, keys], axis=1))
        d = np.sqrt(((queries[:, None] - keys[None]) ** 2).sum(-1))
        same = labels[:, None] == labels[None]
        expected = np.mean(d[same] ** 2) + np.mean(np.maximum(3.0 - d[~same], 0) ** 2)
        self.assertAllClose(value, expected)

    def test_unknown_reducer_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "reducer must be one of mean, mean_nonzero, sum"):
            TripletHardLoss(reducer="median")


def ref_hard_per_anchor(labels, x, margin):
    values = []
    for a in range(len(labels)):
        pos = [ref_distance(x[a], x[p], "l2") for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        neg = [ref_distance(x[a], x[k], "l2") for k in range(len(labels)) if labels[k] != labels[a]]
        values.append(max(0.0, margin + max(pos) - min(neg)) if pos and neg else np.nan)
    return np.array(values)
