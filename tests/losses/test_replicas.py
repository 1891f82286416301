"""Batch losses across replicas: under MirroredStrategy on two logical CPUs, two training steps
give the loss and the weights (so the gradients) of one device on the global batch."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from tests.helpers import PROJECT_ROOT, TestCase

LOSSES = {
    "triplet": "TripletLoss(margin=0.2, miner=TripletMarginMiner(0.2, 'semihard'))",
    "contrastive": "ContrastiveLoss(margin=1.0, squared=False)",
    "multi-similarity": "MultiSimilarityLoss(miner=MultiSimilarityMiner())",
    "supcon": "SupConLoss()",
    "ntxent": "NTXentLoss()",
    "infonce": "ClipLoss()",
    "siglip": "SigLipLoss()",
    "symmetric-supcon": "SymmetricLoss(SupConLoss(1.0, distance='dot'))",
    "cross-batch-memory": "CrossBatchMemory(ContrastiveLoss(margin=1.0, squared=False), 4, memory_size=40)",
}
TWO_TOWER = ("infonce", "siglip", "symmetric-supcon")  # (B, 2, D) matched pairs (with labels); the others (B, D)

STEP = """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tfml.losses import *
    losses, two_tower = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 4)[rng.permutation(16)].astype("int32")
    singles = rng.normal(size=(16, 5)).astype("float32")
    pairs = rng.normal(size=(16, 2, 5)).astype("float32")
    start = rng.normal(size=(5, 4)).astype("float32")

    def one_step(strategy, loss, x, y):
        with strategy.scope():
            model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Dense(4, use_bias=False)])
            model.layers[0].kernel.assign(start)
            model.compile(keras.optimizers.SGD(0.5), eval(loss))
        history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=2, verbose=0)
        return history.history["loss"], (start - model.get_weights()[0]).tolist()

    results = {}
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for name, loss in losses.items():
        x, y = (pairs if name in two_tower else singles), labels
        results[name] = {
            "one device": one_step(tf.distribute.get_strategy(), loss, x, y),
            "two replicas": one_step(strategy, loss, x, y),
        }
    print("RESULT " + json.dumps(results), flush=True)
"""


class ReplicaLossTest(TestCase):
    def test_replica_losses_and_gradients_equal_one_device_on_the_global_batch(self):
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(STEP), json.dumps(LOSSES), json.dumps(TWO_TOWER)],
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        line = next((text for text in result.stdout.splitlines() if text.startswith("RESULT ")), None)
        self.assertIsNotNone(line, result.stderr[-3000:])
        for name, runs in json.loads(line[len("RESULT ") :]).items():
            (loss, step), (replicated_loss, replicated_step) = runs["one device"], runs["two replicas"]
            self.assertGreater(np.abs(step).max(), 1e-4, name)  # the step moved the weights
            self.assertAllClose(replicated_loss, loss, rtol=1e-5, atol=1e-6, msg=name)
            self.assertAllClose(replicated_step, step, rtol=1e-5, atol=1e-6, msg=name)
