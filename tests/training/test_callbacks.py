"""Callbacks: stopping on divergence (and reading it from a history), the monitor, timing."""

import keras
import numpy as np
import scipy.sparse as sp

from tests.helpers import TestCase
from tfml.training import EpochTimer, Monitor, StopOnDivergence, first_divergence
from tfml.workflows import movie_embeddings


class CallbacksTest(TestCase):
    """StopOnDivergence, first_divergence, Monitor, EpochTimer."""

    def test_divergence_is_caught_not_raised(self):
        rng = np.random.default_rng(0)
        x = rng.integers(0, 50, (30, 30)).astype(np.float32)
        x = x + x.T
        results = {}
        for lr in (1e-4, 1.0):
            model = movie_embeddings.make_model(np.arange(30), movie_embeddings.Config(), "sgd", lr)
            stop = StopOnDivergence()
            history = model.fit(
                movie_embeddings.full_batch(sp.csr_matrix(x), 40)(),
                steps_per_epoch=1,
                epochs=40,
                verbose=0,
                callbacks=[stop],
                shuffle=False,
            )
            results[lr] = (stop.diverged_at, history.history["loss"])
        assert results[1e-4][0] is None and results[1e-4][1][-1] < results[1e-4][1][0]
        assert results[1.0][0] is not None and len(results[1.0][1]) < 40

    def test_first_divergence_reads_the_rule_from_a_history(self):
        self.assertIsNone(first_divergence([5.0, 4.0, 3.0]))
        self.assertEqual(first_divergence([5.0, 400.0, 600.0]), 2)  # above 100 x the first
        self.assertEqual(first_divergence([float("nan"), 1.0]), 0)
        self.assertEqual(first_divergence([1.0, float("inf")]), 1)

    def test_the_monitor_names_what_the_logs_lack_and_compares_by_mode(self):
        monitor = Monitor("val_map_at_r", "max")
        self.assertTrue(
            monitor.better(0.5, 0.4) and monitor.better(0.5, None) and not monitor.better(float("nan"), None)
        )
        with self.assertRaisesRegex(KeyError, "monitors 'val_map_at_r', which the logs lack: \\['loss'\\]"):
            monitor.value({"loss": 1.0})
        with self.assertRaisesRegex(ValueError, "mode must be 'min' or 'max'"):
            Monitor("loss", "best")

    def test_epoch_timer_logs_the_epochs_seconds(self):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        history = model.fit(np.zeros((4, 2)), np.zeros(4), epochs=2, verbose=0, callbacks=[EpochTimer()])
        self.assertEqual(len(history.history["epoch_seconds"]), 2)
        self.assertTrue(all(0 < s < 60 for s in history.history["epoch_seconds"]))
