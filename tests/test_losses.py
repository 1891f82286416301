"""Each loss against a plain numpy loop written from its definition, float32 and float64."""

import itertools

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

import tfml  # noqa: F401
from tfml.losses import (
    ContrastiveLoss,
    ContrastivePairLoss,
    TripletHardLoss,
    TripletLoss,
    TripletMarginLoss,
    TripletSemiHardLoss,
    pairwise_distances,
)
from tfml.models import FusedBatchNormalization
from tfml.pipelines import random_in_batch_triplets

DTYPES = (np.float32, np.float64)
DISTANCES = ("euclidean", "sqeuclidean", "cosine")


# --- numpy references, one pair or triplet at a time ---------------------------------------------

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


def ref_contrastive(labels, x, margin, pairs, distance, squared=True, positive_margin=0.0, miner=(0.2, 0.8), nonzero=False):
    n = len(labels)
    d = lambda i, j: ref_distance(x[i], x[j], distance)  # noqa: E731
    power = 2 if squared else 1

    def closest_negative(i):
        return min((d(i, k) for k in range(n) if labels[k] != labels[i]), default=np.inf)

    pos, neg = [], []
    for i, j in itertools.permutations(range(n), 2):
        if labels[i] == labels[j]:
            keep = {"all": True, "hard": d(i, j) > min(closest_negative(i), closest_negative(j)), "margin": d(i, j) > miner[0]}[pairs]
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


CASES = [
    ("semihard_tfa", lambda m, dist: TripletSemiHardLoss(margin=m, distance=dist), lambda l, x, m, dist: ref_semihard(l, x, m, dist)),
    ("batch_hard", lambda m, dist: TripletHardLoss(margin=m, distance=dist), lambda l, x, m, dist: ref_hard(l, x, m, False, dist)),
    ("batch_hard_soft", lambda m, dist: TripletHardLoss(margin=m, soft=True, distance=dist),
     lambda l, x, m, dist: ref_hard(l, x, m, True, dist)),
    ("contrastive_all", lambda m, dist: ContrastiveLoss(margin=m, distance=dist), lambda l, x, m, dist: ref_contrastive(l, x, m, "all", dist)),
    ("contrastive_hard", lambda m, dist: ContrastiveLoss(margin=m, pairs="hard", distance=dist),
     lambda l, x, m, dist: ref_contrastive(l, x, m, "hard", dist)),
    ("contrastive_pml_margin_mined", lambda m, dist: ContrastiveLoss(margin=m, pairs="margin", squared=False, positive_margin=0.1,
                                                                     miner_margins=(0.3, 1.2), reducer="mean_nonzero", distance=dist),
     lambda l, x, m, dist: ref_contrastive(l, x, m, "margin", dist, squared=False, positive_margin=0.1, miner=(0.3, 1.2), nonzero=True)),
    ("contrastive_pml_all", lambda m, dist: ContrastiveLoss(margin=m, squared=False, reducer="mean_nonzero", distance=dist),
     lambda l, x, m, dist: ref_contrastive(l, x, m, "all", dist, squared=False, nonzero=True)),
] + [
    (f"triplet_{selection}_{'nonzero' if nonzero else 'mean'}",
     lambda m, dist, s=selection, z=nonzero: TripletLoss(margin=m, triplets=s, reducer="mean_nonzero" if z else "mean", distance=dist),
     lambda l, x, m, dist, s=selection, z=nonzero: ref_triplets(l, x, m, s, dist, z))
    for selection in ("all", "semihard", "hard", "easy") for nonzero in (False, True)
]


class LossOracleTest(parameterized.TestCase, tf.test.TestCase):
    @parameterized.named_parameters(*[(f"{name}_{distance}", make, reference, distance)
                                      for name, make, reference in CASES for distance in DISTANCES])
    def test_random_batches_match_the_numpy_loops(self, make, reference, distance):
        for dtype in DTYPES:
            for seed in range(4):
                labels, x = batch(seed, dtype=dtype)
                margin = 0.5 if distance == "cosine" else 1.5
                loss = make(margin, distance)
                loss = type(loss).from_config({**loss.get_config(), "dtype": np.dtype(dtype).name})
                value = loss(labels, x)
                self.assertEqual(value.dtype, np.dtype(dtype).name)
                expected = reference(labels, x, margin, distance)
                if dtype == np.float32:
                    self.assertAllClose(value, expected, rtol=1e-4, atol=1e-6)
                else:
                    self.assertAllClose(value, expected, rtol=1e-10, atol=1e-12)

    def test_hand_checked_values(self):
        # four points on a line: a=0, p=1 (class 0); n1=2.5, n2=4 (class 1); euclidean, margin 1
        labels = np.array([0, 0, 1, 1])
        x = np.array([[0.0], [1.0], [2.5], [4.0]], np.float32)
        # tfa semi-hard, positive pairs (0,1),(1,0),(2,3),(3,2):
        # (0,1): d_ap=1, negatives of 0 at 2.5, 4 -> closest farther = 2.5 -> max(0, 1 + 1 - 2.5) = 0
        # (1,0): d_ap=1, negatives of 1 at 1.5, 3 -> 1.5 -> 0.5;  (2,3): d=1.5, negs of 2 at 2.5, 1.5 -> 2.5 -> 0
        # (3,2): d=1.5, negs of 3 at 4, 3 -> farther than 1.5: 3 -> max(0, 1 + 1.5 - 3) = 0
        self.assertAllClose(TripletSemiHardLoss()(labels, x), 0.5 / 4)
        # batch-hard: anchor 0: 1 - 2.5; anchor 1: 1 - 1.5 -> 0.5; anchor 2: 1.5 - 1.5 -> 1; anchor 3: 1.5 - 3 -> 0
        self.assertAllClose(TripletHardLoss()(labels, x), (0 + 0.5 + 1.0 + 0) / 4)
        # contrastive all: positives d^2 = 1, 2.25 -> 1.625; negatives (0,2) 2.5,(0,3) 4,(1,2) 1.5,(1,3) 3 -> all >= margin -> 0
        self.assertAllClose(ContrastiveLoss()(labels, x), 1.625)
        self.assertAllClose(ContrastiveLoss(margin=2.0)(labels, x), 1.625 + 0.25 / 4)
        # PML semi-hard (0 < d_an - d_ap <= 1): (1, 0, 2) with term 0.5 and (2, 3, 0) with term 0
        self.assertAllClose(TripletLoss(1.0, triplets="semihard")(labels, x), 0.25)
        self.assertAllClose(TripletLoss(1.0, triplets="semihard", reducer="mean_nonzero")(labels, x), 0.5)
        # PML contrastive with the pair-margin miner (1.2, 2): positives 1.5 (twice) kept; negatives 1.5 (twice) kept
        self.assertAllClose(ContrastiveLoss(2.0, squared=False, pairs="margin", miner_margins=(1.2, 2.0), reducer="mean_nonzero")(labels, x),
                            1.5 + 0.5)

    def test_indexed_triplets_take_the_given_positive_and_negative(self):
        labels, x = batch(3, n=8, classes=2, dtype=np.float64)
        picks = random_in_batch_triplets(labels[None], seed=1)[0]
        y_true = np.column_stack([labels, picks])
        expected = [max(ref_distance(x[a], x[p], "euclidean") - ref_distance(x[a], x[n], "euclidean") + 0.2, 0)
                    for a, (p, n) in enumerate(picks)]
        self.assertAllClose(TripletLoss(0.2, triplets="indexed", dtype="float64")(y_true, x), np.mean(expected))
        nonzero = [v for v in expected if v > 0]
        self.assertAllClose(TripletLoss(0.2, triplets="indexed", reducer="mean_nonzero", dtype="float64")(y_true, x),
                            np.mean(nonzero) if nonzero else 0.0)

    def test_degenerate_batches_give_zero_not_nan(self):
        x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
        for loss in (TripletSemiHardLoss(), TripletHardLoss(), TripletHardLoss(soft=True), ContrastiveLoss(pairs="hard"),
                     TripletLoss(triplets="semihard"), TripletLoss(reducer="mean_nonzero")):
            self.assertEqual(float(loss(np.zeros(5), x)), 0.0)  # one class
        for loss in (TripletSemiHardLoss(), TripletHardLoss(), TripletHardLoss(soft=True), TripletLoss()):
            self.assertEqual(float(loss(np.arange(5), x)), 0.0)  # no positive pair
        self.assertAllClose(ContrastiveLoss(margin=3.0)(np.arange(5), x), ref_contrastive(np.arange(5), x, 3.0, "all", "l2"), rtol=1e-5)
        self.assertAllClose(ContrastiveLoss()(np.zeros(5), x), ref_contrastive(np.zeros(5), x, 1.0, "all", "l2"), rtol=1e-5)

    @parameterized.named_parameters(
        ("semihard_tfa", TripletSemiHardLoss()), ("batch_hard", TripletHardLoss()), ("batch_hard_soft", TripletHardLoss(soft=True)),
        ("contrastive", ContrastiveLoss()), ("contrastive_hard", ContrastiveLoss(pairs="hard")),
        ("contrastive_pml", ContrastiveLoss(squared=False, pairs="margin", reducer="mean_nonzero")),
        ("triplet_all", TripletLoss(margin=0.5)), ("triplet_semihard", TripletLoss(margin=2.0, triplets="semihard")))
    def test_gradients_are_finite_with_duplicate_embeddings(self, loss):
        x = tf.Variable(np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0], [0.0, 1.0], [3.0, 0.0]], np.float32))
        labels = np.array([0, 0, 1, 1, 0])
        with tf.GradientTape() as tape:
            value = loss(labels, x)
        self.assertAllEqual(np.isfinite(value.numpy()), True)
        self.assertAllEqual(np.isfinite(tape.gradient(value, x).numpy()), np.ones((5, 2), bool))

    def test_pairwise_distances_gradient_on_the_diagonal_is_finite(self):
        x = tf.Variable(np.ones((3, 4), np.float32))
        for distance in ("l2", "squared_l2", "cosine"):
            with tf.GradientTape() as tape:
                total = tf.reduce_sum(pairwise_distances(x, distance=distance))
            self.assertTrue(np.isfinite(tape.gradient(total, x).numpy()).all())
        with self.assertRaisesRegex(ValueError, "unknown distance 'l3'"):
            pairwise_distances(x, distance="l3")

    def test_explicit_triplets_and_pairs(self):
        rng = np.random.default_rng(1)
        triplets = rng.normal(size=(6, 3, 4)).astype(np.float32)
        expected = np.mean([max(0, 1 + ref_distance(t[0], t[1], "l2") - ref_distance(t[0], t[2], "l2")) for t in triplets])
        self.assertAllClose(TripletMarginLoss()(np.zeros(6), triplets), expected, rtol=1e-5)
        pairs = rng.normal(size=(6, 2, 4)).astype(np.float32)
        similar = np.array([1, 0, 1, 0, 0, 1])
        expected = np.mean([s * ref_distance(p[0], p[1], "l2") ** 2 + (1 - s) * max(0, 2 - ref_distance(p[0], p[1], "l2")) ** 2
                            for s, p in zip(similar, pairs)])
        self.assertAllClose(ContrastivePairLoss(margin=2.0)(similar, pairs), expected, rtol=1e-5)

    def test_bad_options_are_errors(self):
        with self.assertRaisesRegex(ValueError, "pairs must be one of"):
            ContrastiveLoss(pairs="semi")
        with self.assertRaisesRegex(ValueError, "distance 'manhattan' is not available here"):
            TripletHardLoss(distance="manhattan")
        with self.assertRaisesRegex(ValueError, "triplets must be one of"):
            TripletLoss(triplets="medium")


class LossSerialisationTest(parameterized.TestCase, tf.test.TestCase):
    @parameterized.named_parameters(
        ("semihard", TripletSemiHardLoss(margin=0.3, distance="cosine")), ("hard_soft", TripletHardLoss(soft=True)),
        ("margin", TripletMarginLoss(margin=2.0)), ("contrastive_hard", ContrastiveLoss(margin=0.7, pairs="hard")),
        ("contrastive_pml", ContrastiveLoss(squared=False, pairs="margin", miner_margins=(0.1, 0.9), reducer="mean_nonzero")),
        ("triplet", TripletLoss(0.2, triplets="semihard", reducer="mean_nonzero")), ("pairs", ContrastivePairLoss(distance="squared_l2")))
    def test_losses_serialise_and_reload_inside_an_h5_model(self, loss):
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        self.assertIs(type(restored), type(loss))
        self.assertEqual(restored.get_config(), loss.get_config())
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile("sgd", loss)
        path = self.get_temp_dir() + f"/{loss.name}.h5"
        model.save(path)
        self.assertEqual(keras.models.load_model(path).loss.get_config(), loss.get_config())


class TrainingEffectTest(tf.test.TestCase):
    def test_training_with_semihard_mining_makes_neighbours_same_class(self):
        from tfml.retrieval import ExactIndex, LabelRelevance, evaluate_retrieval

        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(4), 16)
        x = (rng.normal(size=(64, 8)) + labels[:, None] * 0.3).astype(np.float32)

        def precision(model):
            vectors = model.predict(x, verbose=0)
            return evaluate_retrieval(ExactIndex(vectors), vectors, LabelRelevance(labels, labels), ["precision@5"],
                                      exclude=np.arange(64)).metrics["precision@5"]

        for loss in (TripletSemiHardLoss(margin=0.5), TripletLoss(0.5, triplets="semihard", reducer="mean_nonzero")):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4),
                                      keras.layers.UnitNormalization()])
            model.compile(keras.optimizers.Adam(0.01), loss)
            before = precision(model)
            model.fit(x, labels, batch_size=64, epochs=60, verbose=0, shuffle=False)
            self.assertGreater(precision(model), before + 0.2)


class MetricLossBaseTest(tf.test.TestCase):
    """The base's contract: per-anchor values, Keras reduction and sample weights, reducers, query/key."""

    def setUp(self):
        super().setUp()
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


class RandomInBatchTripletsTest(tf.test.TestCase):
    def test_picks_are_a_positive_and_a_negative_of_each_anchor_and_seeded(self):
        labels = np.repeat(np.arange(8), 4).reshape(2, 16)
        picks = random_in_batch_triplets(labels, seed=5, epoch=2)
        self.assertEqual(picks.shape, (2, 16, 2))
        for b in range(2):
            for a in range(16):
                p, n = picks[b, a]
                self.assertNotEqual(p, a)
                self.assertEqual(labels[b, p], labels[b, a])
                self.assertNotEqual(labels[b, n], labels[b, a])
        self.assertAllEqual(picks, random_in_batch_triplets(labels, seed=5, epoch=2))
        self.assertNotAllEqual(picks, random_in_batch_triplets(labels, seed=5, epoch=3))
        # every positive of a class of four is drawn, over many epochs
        drawn = {int(random_in_batch_triplets(labels, seed=5, epoch=e)[0, 0, 0]) for e in range(40)}
        self.assertEqual(drawn, {1, 2, 3})
        with self.assertRaisesRegex(ValueError, "need a positive and a negative"):
            random_in_batch_triplets(np.array([[0, 1, 2, 3]]), seed=0)


class FusedBatchNormalizationTest(tf.test.TestCase):
    def test_matches_keras_in_training_and_inference_and_updates_like_pytorch(self):
        x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 5, 5, 4)).astype(np.float32)
        fused = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
        plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
        for layer in (fused, plain):
            layer.build(x.shape)
            layer.gamma.assign(np.linspace(0.5, 2.0, 4))
            layer.beta.assign(np.linspace(-1.0, 1.0, 4))
        mean, variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
        expected = (x - mean) / np.sqrt(variance + 1e-5) * np.linspace(0.5, 2.0, 4) + np.linspace(-1.0, 1.0, 4)
        self.assertAllClose(fused(x, training=True), expected, atol=1e-4)
        self.assertAllClose(plain(x, training=True), expected, atol=1e-4)
        count = x.size // 4
        self.assertAllClose(fused.moving_mean, 0.1 * mean, rtol=1e-5)
        self.assertAllClose(fused.moving_variance, 0.9 + 0.1 * variance * count / (count - 1), rtol=1e-5)  # unbiased, as PyTorch
        moving = (np.asarray(fused.moving_mean), np.asarray(fused.moving_variance))
        inference = (x - moving[0]) / np.sqrt(moving[1] + 1e-5) * np.linspace(0.5, 2.0, 4) + np.linspace(-1.0, 1.0, 4)
        self.assertAllClose(fused(x, training=False), inference, atol=1e-4)

    def test_saves_and_reloads_in_an_h5_model(self):
        model = keras.Sequential([keras.Input((4, 4, 3)), FusedBatchNormalization()])
        model.layers[-1].moving_mean.assign([1.0, 2.0, 3.0])
        path = self.get_temp_dir() + "/bn.h5"
        model.save(path)
        loaded = keras.models.load_model(path)
        x = np.ones((2, 4, 4, 3), np.float32)
        self.assertAllClose(loaded(x), model(x))
