"""The fit helper: logs, best checkpoint, exact resume (mid-epoch, after SIGKILL), the tf.data service,
determinism, strategies."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.helpers import TestCase
from tfml.losses import ContrastiveLoss, CrossBatchMemory
from tfml.pipelines import BatchStream, fixed_batches, seeded_permutation
from tfml.training import (
    LossStateOutOfValidation,
    TrainingInterrupted,
    check_data_service,
    fit,
    read_history,
    set_seed,
)
from tfml.training.fit import HISTORY_FILE, trim_history

X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)


def tiny_model(seed=0):
    set_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])
    model.compile(
        keras.optimizers.Adam(0.01), keras.losses.MeanSquaredError(), metrics=[keras.metrics.MeanAbsoluteError("mae")]
    )
    return model


def tiny_stream(epochs, x=X, batch_size=16):
    data = tf.constant(x)
    return BatchStream(
        seeded_permutation(len(x), 0), lambda i, epoch: (tf.gather(data, i), tf.gather(data, i)), batch_size, epochs
    )


def _python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


RESUMABLE = """
    import sys, time, numpy as np, tensorflow as tf, keras
    from tfml.pipelines import BatchStream, fixed_batches, seeded_permutation
    from tfml.training import fit, set_seed
    set_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.MeanSquaredError())
    x = tf.constant(np.random.default_rng(0).normal(size=(256, 4)).astype("float32"))
    stream = BatchStream(seeded_permutation(256, 0), lambda i, e: (tf.gather(x, i), tf.gather(x, i)), 32, 8)
    slow = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: time.sleep(0.05))
    fit(model, stream, validation=fixed_batches(x, x, 64), log_dir=sys.argv[1], epochs=8, verbose=0, backup_seconds=0,
        callbacks=[slow])
    np.save(sys.argv[1] + "/final.npy", np.concatenate([w.ravel() for w in model.get_weights()]))
    print("DONE", flush=True)
"""


class FitTest(TestCase):
    """fit: logs, checkpoint, resume."""

    def test_fit_writes_logs_and_checkpoint_and_resumes_after_the_last_epoch(self):
        tmp_path = self.tmp_path
        validation = fixed_batches(X[:32], X[:32], 16)
        history = fit(tiny_model(), tiny_stream(2), validation=validation, log_dir=tmp_path, epochs=2, verbose=0)
        assert history["epoch"].tolist() == [0, 1]
        assert (tmp_path / "best.h5").exists() and list((tmp_path / "tensorboard").glob("*/events.out.tfevents*"))
        state = json.loads((tmp_path / "best.h5.json").read_text())
        assert state["best"] == pytest.approx(history["val_loss"].min())
        # a new process would rebuild the model: the backup restores weights, optimizer and epoch
        seen = []
        history = fit(
            tiny_model(seed=1),
            tiny_stream(4),
            validation=validation,
            log_dir=tmp_path,
            epochs=4,
            verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))],
        )
        assert seen == [2, 3]
        assert history["epoch"].tolist() == [0, 1, 2, 3]
        assert history["loss"].iloc[-1] < history["loss"].iloc[0]
        np.testing.assert_array_equal(history["epoch"], read_history(tmp_path)["epoch"])

    def test_resuming_mid_epoch_gives_the_weights_and_logs_of_an_uninterrupted_run(self):
        tmp_path = self.tmp_path
        validation = fixed_batches(X[:32], X[:32], 16)
        whole = tiny_model()
        fit(whole, tiny_stream(3), validation=validation, log_dir=tmp_path / "whole", epochs=3, verbose=0)

        class Interrupt(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if self.model.optimizer.iterations.numpy() == 6:  # epoch 1, after its second of four steps
                    raise KeyboardInterrupt

        with pytest.raises(
            TrainingInterrupted, match="stopped in epoch 2 of 3; its backup holds 1 finished epochs and 1"
        ):
            fit(
                tiny_model(),
                tiny_stream(3),
                validation=validation,
                log_dir=tmp_path / "cut",
                epochs=3,
                verbose=0,
                backup_seconds=0,
                callbacks=[Interrupt()],
            )
        state = json.loads((tmp_path / "cut" / "backup" / "state.json").read_text())
        assert (state["epoch"], state["step"]) == (1, 1)  # the interrupted step was never backed up: it runs again
        resumed = tiny_model(seed=5)  # a new process builds the model again
        self.caplog.set_level("INFO", "tfml.training.fit")
        fit(
            resumed,
            tiny_stream(3),
            validation=validation,
            log_dir=tmp_path / "cut",
            epochs=3,
            verbose=0,
            backup_seconds=0,
        )
        for a, b in zip(whole.get_weights(), resumed.get_weights()):
            np.testing.assert_array_equal(a, b)
        a, b = read_history(tmp_path / "whole"), read_history(tmp_path / "cut")
        columns = [
            "loss",
            "mae",
            "val_loss",
            "val_mae",
        ]  # the interrupted epoch's running means continue where they were
        np.testing.assert_array_equal(a[columns].to_numpy(), b[columns].to_numpy())
        self.assertIn("resuming training", self.caplog.text)
        self.assertIn("epoch 2 of 3, step 1 of 4", self.caplog.text)
        logged = pd.read_csv(tmp_path / "cut" / "training_log.csv")["epoch"].tolist()
        self.assertEqual(logged, [0, 1, 2])  # each epoch once in the file itself

    def test_a_cross_batch_memory_resumes_with_the_memory_it_had(self):
        labels = np.arange(len(X)) % 4

        def memory_model(seed=0):
            set_seed(seed)
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
            loss = CrossBatchMemory(ContrastiveLoss(margin=1.0, squared=False), embedding_size=3, memory_size=40)
            model.compile(keras.optimizers.Adam(0.01), loss)
            return model, loss

        def train(model, log_dir, callbacks=()):
            data, targets = tf.constant(X), tf.constant(labels)
            batches = BatchStream(
                seeded_permutation(len(X), 0), lambda i, epoch: (tf.gather(data, i), tf.gather(targets, i)), 16, 3
            )
            fit(
                model,
                batches,
                validation=None,
                log_dir=self.tmp_path / log_dir,
                epochs=3,
                monitor="loss",
                verbose=0,
                backup_seconds=0,
                callbacks=list(callbacks),
            )

        (whole, whole_memory), (cut, _) = memory_model(), memory_model()
        train(whole, "whole")

        class Interrupt(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if self.model.optimizer.iterations.numpy() == 7:
                    raise KeyboardInterrupt

        with pytest.raises(TrainingInterrupted):
            train(cut, "cut", [Interrupt()])
        resumed, resumed_memory = memory_model(seed=5)  # a new process: a new network and an empty memory
        train(resumed, "cut")
        for a, b in zip(whole.get_weights(), resumed.get_weights()):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(whole_memory.variables, resumed_memory.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        self.assertTrue(resumed_memory.filled.numpy().all())  # 40 slots, full after the first three batches

    def test_validation_batches_stay_out_of_a_cross_batch_memory(self):
        labels = np.arange(len(X)) % 4
        val_x, val_labels = X[:16] + 10.0, np.full(16, 7)  # label 7: validation only
        set_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        loss = CrossBatchMemory(ContrastiveLoss(margin=1.0, squared=False), embedding_size=3, memory_size=64)
        model.compile(keras.optimizers.Adam(0.01), loss)
        data, targets = tf.constant(X), tf.constant(labels)
        batches = BatchStream(
            seeded_permutation(len(X), 0), lambda i, epoch: (tf.gather(data, i), tf.gather(targets, i)), 16, 2
        )
        history = fit(
            model,
            batches,
            validation=fixed_batches(val_x, val_labels, 16),
            log_dir=self.tmp_path / "run",
            epochs=2,
            verbose=0,
        )
        self.assertTrue(np.isfinite(history["val_loss"]).all())
        self.assertTrue(loss.filled.numpy().all())
        self.assertNotIn(7, loss.memory_labels.numpy())  # the 64 training items, nothing of validation
        for callbacks, written in (([], True), ([LossStateOutOfValidation()], False)):  # Keras alone writes them
            loss.reset()
            model.fit(
                X,
                labels,
                validation_data=(val_x, val_labels),
                batch_size=16,
                verbose=0,
                shuffle=False,
                callbacks=callbacks,
            )
            self.assertEqual(7 in loss.memory_labels.numpy(), written)

    def test_same_seed_same_result(self):
        weights = []
        for _ in range(2):
            model = tiny_model(seed=3)
            model.fit(tiny_stream(2)(), epochs=2, verbose=0, shuffle=False)
            weights.append(model.get_weights())
        for a, b in zip(*weights):
            np.testing.assert_array_equal(a, b)

    def test_mirrored_strategy_on_two_logical_cpus(self):
        tmp_path = self.tmp_path
        code = """
            import sys, numpy as np, tensorflow as tf
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
            import keras
            from tfml.pipelines import BatchStream, fixed_batches, seeded_permutation
            from tfml.training import fit, get_strategy
            strategy = get_strategy("mirrored")
            with strategy.scope():
                model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
                model.compile(keras.optimizers.SGD(0.1), keras.losses.MeanSquaredError())
            x = tf.constant(np.random.default_rng(0).normal(size=(64, 4)).astype("float32"))
            stream = BatchStream(seeded_permutation(64, 0), lambda i, e: (tf.gather(x, i), tf.gather(x, i)), 16, 3)
            history = fit(model, stream, validation=fixed_batches(x, x, 16), log_dir=sys.argv[1], epochs=3, verbose=0)
            print("REPLICAS", strategy.num_replicas_in_sync, "LOSS", history["loss"].iloc[0], history["loss"].iloc[-1])
        """
        out, _ = _python(code, str(tmp_path)).communicate(timeout=300)
        line = next(text for text in out.splitlines() if text.startswith("REPLICAS"))
        _, replicas, _, first, last = line.split()
        assert replicas == "2"
        assert float(last) < float(first)

    def test_a_run_killed_with_sigkill_mid_epoch_ends_with_the_weights_of_an_uninterrupted_one(self):
        tmp_path = self.tmp_path
        whole, cut = tmp_path / "whole", tmp_path / "cut"
        assert "DONE" in _python(RESUMABLE, str(whole)).communicate(timeout=300)[0]
        process = _python(RESUMABLE, str(cut))
        state = cut / "backup" / "state.json"
        deadline = time.time() + 240
        while time.time() < deadline:  # kill inside epoch 3, between backups
            if (
                state.exists()
                and json.loads(state.read_text())["epoch"] >= 3
                and json.loads(state.read_text())["step"] >= 2
            ):
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
        position = json.loads(state.read_text())
        assert position["epoch"] < 8, "the run should have been killed part-way"
        out, _ = _python(RESUMABLE, str(cut)).communicate(timeout=300)
        assert "DONE" in out
        np.testing.assert_array_equal(np.load(whole / "final.npy"), np.load(cut / "final.npy"))
        assert read_history(cut)["epoch"].tolist() == list(range(8))
        np.testing.assert_allclose(read_history(cut)["loss"], read_history(whole)["loss"], rtol=1e-6)
        keras.models.load_model(cut / "best.h5")

    def test_the_data_service_serves_every_batch_once_per_epoch(self):
        tmp_path = self.tmp_path
        import tensorflow as tf

        from tfml.pipelines import BatchStream, seeded_permutation
        from tfml.training.fit import ServedBatches

        dispatcher = tf.data.experimental.service.DispatchServer(tf.data.experimental.service.DispatcherConfig(port=0))
        address = dispatcher.target.split("://")[1]
        workers = [
            tf.data.experimental.service.WorkerServer(
                tf.data.experimental.service.WorkerConfig(dispatcher_address=address, port=0)
            )
            for _ in range(2)
        ]
        try:
            items = tf.range(96, dtype=tf.int64)
            stream = BatchStream(
                seeded_permutation(96, 0), lambda i, epoch: (tf.gather(items, i) + 1000 * epoch, i), 8, 2
            )
            served = ServedBatches(stream, dispatcher.target, job_name=str(tmp_path))
            seen = np.concatenate([x.numpy() for x, _ in served(0, 0)])
            assert sorted(seen.tolist()) == list(range(96)) + list(range(1000, 1096))  # each element once per epoch
            assert served.steps_per_epoch == 12
        finally:
            for worker in workers:
                worker._stop()
            dispatcher._stop()

    def test_a_finished_or_stopped_training_trains_no_more_and_gives_back_its_last_weights(self):
        model = tiny_model()
        fit(
            model,
            tiny_stream(2),
            validation=None,
            log_dir=self.tmp_path / "done",
            epochs=2,
            checkpoint=None,
            monitor="loss",
            verbose=0,
        )
        again = tiny_model(seed=7)
        seen = []
        history = fit(
            again,
            tiny_stream(2),
            validation=None,
            log_dir=self.tmp_path / "done",
            epochs=2,
            checkpoint=None,
            monitor="loss",
            verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))],
        )
        self.assertEqual(seen, [])
        self.assertEqual(history["epoch"].tolist(), [0, 1])
        for a, b in zip(model.get_weights(), again.get_weights()):
            np.testing.assert_array_equal(a, b)

        def stop(epoch, logs):
            stopper.model.stop_training = epoch == 1

        stopper = keras.callbacks.LambdaCallback(on_epoch_end=stop)
        stopped = tiny_model()
        fit(
            stopped,
            tiny_stream(5),
            validation=None,
            log_dir=self.tmp_path / "stopped",
            epochs=5,
            checkpoint=None,
            verbose=0,
            callbacks=[stopper],
        )
        state = json.loads((self.tmp_path / "stopped" / "backup" / "state.json").read_text())
        self.assertEqual((state["epoch"], state["stopped"]), (2, True))
        history = fit(
            tiny_model(seed=3),
            tiny_stream(5),
            validation=None,
            log_dir=self.tmp_path / "stopped",
            epochs=5,
            checkpoint=None,
            verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))],
        )
        self.assertEqual(seen, [])  # stopped means finished: a rerun does not train on
        self.assertEqual(history["epoch"].tolist(), [0, 1])

    def test_epoch_end_backups_follow_the_interval_and_the_end_is_always_saved(self):
        generations = []
        watch = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda e, logs: generations.append(
                json.loads((self.tmp_path / "run" / "backup" / "state.json").read_text())["generation"]
                if (self.tmp_path / "run" / "backup" / "state.json").exists()
                else 0
            )
        )
        fit(
            tiny_model(),
            tiny_stream(4),
            validation=None,
            log_dir=self.tmp_path / "run",
            epochs=4,
            checkpoint=None,
            verbose=0,
            backup_seconds=3600,
            callbacks=[watch],
        )
        self.assertEqual(generations, [0, 0, 0, 0])  # an hour between backups: none during training
        state = json.loads((self.tmp_path / "run" / "backup" / "state.json").read_text())
        self.assertEqual((state["epoch"], state["step"], state["stopped"]), (4, 0, False))  # but the end is saved

    def test_epoch_only_backups_save_at_every_epoch_end_and_never_mid_epoch(self):
        states = []
        state_file = self.tmp_path / "run" / "backup" / "state.json"
        watch = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda b, logs: states.append(
                json.loads(state_file.read_text()) if state_file.exists() else None
            )
        )
        fit(
            tiny_model(),
            tiny_stream(3),
            validation=None,
            log_dir=self.tmp_path / "run",
            epochs=3,
            checkpoint=None,
            verbose=0,
            backup_seconds=None,
            callbacks=[watch],
        )
        positions = [(s["epoch"], s["step"]) if s else None for s in states]
        self.assertEqual(positions, [None] * 4 + [(1, 0)] * 4 + [(2, 0)] * 4)  # 4 steps per epoch
        self.assertEqual(json.loads(state_file.read_text())["epoch"], 3)


class HistoryTest(TestCase):
    def test_trim_history_drops_the_epochs_a_resumed_training_logs_again(self):
        path = self.tmp_path / HISTORY_FILE
        path.write_text("epoch,loss\n0,1.5\n1,1.25\n2,1.0\n")
        trim_history(self.tmp_path, 1)
        self.assertEqual(path.read_text(), "epoch,loss\n0,1.5\n")
        trim_history(self.tmp_path, 0)
        self.assertEqual(path.read_text(), "epoch,loss\n")
        trim_history(self.tmp_path / "nowhere", 0)  # no log yet: nothing to do


class DataServiceCheckTest(TestCase):
    """--data-service is checked before any work: a dispatcher must answer."""

    def test_a_dispatcher_answers(self):
        dispatcher = tf.data.experimental.service.DispatchServer()
        check_data_service(dispatcher.target)
        check_data_service(dispatcher.target.removeprefix("grpc://"))

    def test_a_closed_port_a_silent_server_and_a_bad_address_are_one_clear_error(self):
        import socket

        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        with pytest.raises(ValueError, match="no tf.data service dispatcher there \\(nothing listens there\\)"):
            check_data_service(f"grpc://127.0.0.1:{port}", timeout_seconds=2)
        with socket.socket() as silent:  # accepts connections (the kernel does) and never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            with pytest.raises(ValueError, match="no answer within 1 s"):
                check_data_service(f"grpc://127.0.0.1:{silent.getsockname()[1]}", timeout_seconds=1)
        with pytest.raises(ValueError, match="'localhost' is not an address: give grpc://HOST:PORT"):
            check_data_service("localhost")
