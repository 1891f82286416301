"""ClassProxies: proxies trained by ``model.fit``, saved in the .h5 and reloaded, the learning-rate
multiplier, sub-centres, the embedding part; and ``tfml evaluate`` on a proxy-trained network."""

import subprocess
import sys

import keras
import numpy as np

from tests.helpers import TestCase, extract_crops
from tfml import cli, zoo
from tfml.losses import ArcFaceLoss, ProxyAnchorLoss
from tfml.models import ClassProxies, embedding_part, with_class_proxies
from tfml.training import set_seed

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 6)).astype(np.float32)
Y = RNG.integers(0, 4, size=96)


def proxy_model(sub_centers=1, multiplier=1.0):
    set_seed(0)
    net = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)], name="net"
    )
    return with_class_proxies(net, 4, sub_centers=sub_centers, learning_rate_multiplier=multiplier)


class ClassProxiesTest(TestCase):
    def test_fit_trains_the_proxies_with_the_network_and_the_loss_falls(self):
        model = proxy_model()
        model.compile(keras.optimizers.Adam(0.01), ProxyAnchorLoss())
        before = model.get_layer("class_proxies").class_proxies().numpy().copy()
        first = model.evaluate(X, Y, batch_size=96, verbose=0)
        model.fit(X, Y, batch_size=32, epochs=20, verbose=0)
        after = model.get_layer("class_proxies").class_proxies().numpy()
        self.assertGreater(np.abs(after - before).max(), 0.05)
        self.assertLess(model.evaluate(X, Y, batch_size=96, verbose=0), 0.8 * first)

    def test_proxies_are_saved_in_the_h5_and_reload_to_the_same_loss(self):
        model = proxy_model(sub_centers=2)
        loss = ArcFaceLoss()
        model.compile(keras.optimizers.Adam(0.01), loss)
        model.fit(X, Y, batch_size=32, epochs=2, verbose=0)
        path = self.tmp_path / "proxies.h5"
        model.save(path)
        code = (
            "import sys, keras, numpy as np, tfml\n"
            "model = keras.models.load_model(sys.argv[1], compile=False)\n"
            "np.save(sys.argv[2], model.get_layer('class_proxies').class_proxies().numpy())\n"
        )
        stored = self.tmp_path / "proxies.npy"
        result = subprocess.run([sys.executable, "-c", code, str(path), str(stored)], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        np.testing.assert_array_equal(np.load(stored), model.get_layer("class_proxies").class_proxies().numpy())
        reloaded = keras.models.load_model(path)
        self.assertEqual(reloaded.get_layer("class_proxies").sub_centers, 2)
        self.assertAllClose(loss(Y, reloaded.predict(X, verbose=0)), loss(Y, model.predict(X, verbose=0)))
        self.assertEqual(embedding_part(reloaded).name, "net")
        np.testing.assert_array_equal(
            embedding_part(reloaded).predict(X, verbose=0), model.layers[1].predict(X, verbose=0)
        )

    def test_the_multiplier_makes_adam_move_the_proxies_that_many_times_faster(self):
        steps = {}
        for multiplier in (1.0, 100.0):
            model = proxy_model(multiplier=multiplier)
            model.compile(keras.optimizers.Adam(1e-4), ProxyAnchorLoss())
            layer = model.get_layer("class_proxies")
            layer.set_class_proxies(np.eye(4, 3, dtype=np.float32) + 0.5)
            before = layer.class_proxies().numpy().copy()
            model.train_on_batch(X[:32], Y[:32])
            steps[multiplier] = np.abs(layer.class_proxies().numpy() - before).max()
        # Adam's first step moves each weight by about its learning rate; the stored proxies are w / 100
        self.assertAllClose(steps[1.0], 1e-4, rtol=0.05)
        self.assertAllClose(steps[100.0], 1e-2, rtol=0.05)

    def test_a_class_similarity_is_the_largest_of_its_sub_centres(self):
        layer = ClassProxies(2, sub_centers=2)
        layer(np.zeros((1, 2), np.float32))
        layer.set_class_proxies(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))
        self.assertAllClose(layer(np.array([[0.0, -2.0], [3.0, 0.0]], np.float32)), [[0.0, 1.0], [1.0, 0.0]])

    def test_bad_options_are_refused(self):
        for options in (
            {"num_classes": 0},
            {"num_classes": 3, "sub_centers": 0},
            {"num_classes": 3, "learning_rate_multiplier": 0},
        ):
            with self.assertRaisesRegex(ValueError, "ClassProxies needs"):
                ClassProxies(**options)
        with self.assertRaisesRegex(ValueError, "Unrecognized keyword arguments.*sub_centres"):
            ClassProxies(3, sub_centres=2)

    def test_tfml_evaluate_scores_the_embedding_network_of_a_proxy_trained_model(self):
        root = extract_crops(self.tmp_path / "crops", ("pl50", "pn", "w57", "i5"), 12)
        net, _ = zoo.load_model("tt100k-embedding")
        model = with_class_proxies(net, 4, learning_rate_multiplier=100.0)
        model.compile(keras.optimizers.Adam(1e-4), ProxyAnchorLoss())
        images = np.zeros((8,) + net.input_shape[1:], net.inputs[0].dtype)
        model.fit(images, np.arange(8) % 4, batch_size=8, epochs=1, verbose=0)
        path = self.tmp_path / "proxy-anchor.h5"
        model.save(path)
        assert cli.main(["evaluate", "--model", str(path), "--data", str(root), "--min-images", "5"]) == 0
        out = self.capsys.readouterr().out
        self.assertIn("4 classes, ", out)
        figures = {line.split(":")[0].strip(): float(line.split(":")[1]) for line in out.splitlines()[1:]}
        self.assertGreaterEqual(figures["kNN@1"], 0.5)  # chance: 0.25
