"""The loss base: per-anchor values, Keras reduction and sample weights, reducers by name,
query/key embeddings, degenerate batches, finite gradients, serialisation into .h5 models."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.helpers import TestCase
from tests.losses.references import batch, ref_contrastive, ref_hard_per_anchor
from tfml.losses import (
    ContrastiveLoss,
    ContrastivePairLoss,
    HardPairMiner,
    PairMarginMiner,
    TripletHardLoss,
    TripletLoss,
    TripletMarginLoss,
    TripletMarginMiner,
    TripletSemiHardLoss,
)


class BatchEdgesTest(parameterized.TestCase, TestCase):
    """Degenerate batches, duplicate embeddings and unknown options."""

    def test_degenerate_batches_give_zero_not_nan(self):
        x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
        for loss in (
            TripletSemiHardLoss(),
            TripletHardLoss(),
            TripletHardLoss(soft=True),
            ContrastiveLoss(miner=HardPairMiner()),
            TripletLoss(miner=TripletMarginMiner(0.2, "semihard")),
            TripletLoss(reducer="mean_nonzero"),
        ):
            self.assertEqual(float(loss(np.zeros(5), x)), 0.0)  # one class
        for loss in (TripletSemiHardLoss(), TripletHardLoss(), TripletHardLoss(soft=True), TripletLoss()):
            self.assertEqual(float(loss(np.arange(5), x)), 0.0)  # no positive pair
        self.assertAllClose(
            ContrastiveLoss(margin=3.0)(np.arange(5), x), ref_contrastive(np.arange(5), x, 3.0, "all", "l2"), rtol=1e-5
        )
        self.assertAllClose(
            ContrastiveLoss()(np.zeros(5), x), ref_contrastive(np.zeros(5), x, 1.0, "all", "l2"), rtol=1e-5
        )

    @parameterized.named_parameters(
        ("semihard_tfa", TripletSemiHardLoss()),
        ("batch_hard", TripletHardLoss()),
        ("batch_hard_soft", TripletHardLoss(soft=True)),
        ("contrastive", ContrastiveLoss()),
        ("contrastive_hard", ContrastiveLoss(miner=HardPairMiner())),
        ("contrastive_pml", ContrastiveLoss(squared=False, miner=PairMarginMiner(), reducer="mean_nonzero")),
        ("triplet_all", TripletLoss(margin=0.5)),
        ("triplet_semihard", TripletLoss(margin=2.0, miner=TripletMarginMiner(2.0, "semihard"))),
    )
    def test_gradients_are_finite_with_duplicate_embeddings(self, loss):
        x = tf.Variable(np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0], [0.0, 1.0], [3.0, 0.0]], np.float32))
        labels = np.array([0, 0, 1, 1, 0])
        with tf.GradientTape() as tape:
            value = loss(labels, x)
        self.assertAllEqual(np.isfinite(value.numpy()), True)
        self.assertAllEqual(np.isfinite(tape.gradient(value, x).numpy()), np.ones((5, 2), bool))

    def test_bad_options_are_errors(self):
        with self.assertRaisesRegex(TypeError, "pairs"):
            ContrastiveLoss(pairs="semi")  # an unknown keyword is an error, never silently kept
        with self.assertRaisesRegex(ValueError, "distance 'manhattan' is not available here"):
            TripletHardLoss(distance="manhattan")
        with self.assertRaisesRegex(ValueError, "type_of_triplets must be one of"):
            TripletMarginMiner(type_of_triplets="medium")


class LossSerialisationTest(parameterized.TestCase, TestCase):
    @parameterized.named_parameters(
        ("semihard", TripletSemiHardLoss(margin=0.3, distance="cosine")),
        ("hard_soft", TripletHardLoss(soft=True)),
        ("margin", TripletMarginLoss(margin=2.0)),
        ("contrastive_hard", ContrastiveLoss(margin=0.7, miner=HardPairMiner(0.7))),
        ("contrastive_pml", ContrastiveLoss(squared=False, miner=PairMarginMiner(0.1, 0.9), reducer="mean_nonzero")),
        ("triplet", TripletLoss(0.2, miner=TripletMarginMiner(0.2, "semihard"), reducer="mean_nonzero")),
        ("pairs", ContrastivePairLoss(distance="squared_l2")),
    )
    def test_losses_serialise_and_reload_inside_an_h5_model(self, loss):
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        self.assertIs(type(restored), type(loss))
        self.assertEqual(restored.get_config(), loss.get_config())
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile("sgd", loss)
        path = self.get_temp_dir() + f"/{loss.name}.h5"
        model.save(path)
        self.assertEqual(keras.models.load_model(path).loss.get_config(), loss.get_config())


class MetricLossBaseTest(TestCase):
    """The base's contract: per-anchor values, Keras reduction and sample weights, reducers, query/key."""

    def setUp(self):
        super().setUp()
        self.labels, self.x = batch(7, n=10, dtype=np.float64)

    def test_per_anchor_values_average_to_the_loss_over_anchors_with_a_term(self):
        for loss in (TripletSemiHardLoss(margin=1.5, dtype="float64"), ContrastiveLoss(margin=1.5, dtype="float64")):
            value = loss(self.labels, self.x)
            per_anchor = type(loss)(**{**loss.get_config(), "reduction": None})(self.labels, self.x)
            self.assertEqual(per_anchor.shape, (10,))
            has_term = np.array(
                [(self.labels == label).sum() > 1 for label in self.labels]
            )  # a positive (and negatives exist)
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
