"""Training speed: seconds per step of the traffic-sign reference network with semi-hard mining, tfml
against PyTorch + pytorch-metric-learning, each in its own subprocess, in one run.

Both sides train the same network (4 x [conv 3x3 without bias, batch norm, ReLU, max-pool 2] with
32/64/128/256 channels, global average pooling, Dense 32, L2-normalised) with Adam 1e-3 on P x K =
32 x 4 batches of 64 x 64 uint8 images with a random 4-pixel pad-and-crop, triplet margin 0.2 and a
semi-hard miner, the input pipeline included:

- tfml: ``labelled_batches`` (P x K order, stateless pad-and-crop in tf.data) into ``model.fit``,
  ``TripletLoss(miner=TripletMarginMiner(0.2, "semihard"), reducer="mean_nonzero")``; also with Keras's own
  BatchNormalization instead of tfml's fused layer, to show what that layer is worth;
- PyTorch 2.13 + pytorch-metric-learning: the batch gathered and cropped on the fly in the loop,
  ``TripletMarginLoss(0.2)`` with ``TripletMarginMiner(0.2, "semihard")``.

Random images and labels (speed does not depend on them); median seconds per step after a warm-up.

    python benchmarks/train_speed.py            # needs torch and pytorch-metric-learning for the peer:
    pip install torch==2.13.0 pytorch-metric-learning   # (the CPU build this machine installs from disk)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CONTENDERS = ("tfml", "tfml-keras-batchnorm", "pytorch-pml")


def images_and_labels(n: int, classes: int):
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 64, 64, 3)).astype(np.uint8), np.repeat(np.arange(classes), n // classes)


def run_tfml(steps: int, warmup: int, keras_batchnorm: bool) -> list[float]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    import tfml.models.embedding as embedding
    from tfml.losses import TripletLoss, TripletMarginMiner
    from tfml.pipelines import labelled_batches, pk_indices

    if keras_batchnorm:
        embedding.FusedBatchNormalization = keras.layers.BatchNormalization
    images, labels = images_and_labels(4096, 128)
    keras.utils.set_random_seed(0)
    model = embedding.build_embedding_net((64, 64, 3), 32, standardize=embedding.channel_statistics(images[:512]))
    model.compile(
        keras.optimizers.Adam(1e-3),
        TripletLoss(margin=0.2, miner=TripletMarginMiner(0.2, "semihard"), reducer="mean_nonzero"),
    )

    def order(epoch):
        batches = pk_indices(labels, 32, 4, warmup + steps, seed=0, epoch=epoch).reshape(-1)
        return batches, labels[batches]

    stream = labelled_batches(images, order, 128, 1, seed=0, padding=4)
    times = []
    model.fit(
        stream(),
        steps_per_epoch=stream.steps_per_epoch,
        epochs=1,
        verbose=0,
        callbacks=[
            keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: times.append(time.perf_counter()))
        ],
    )
    return list(np.diff(times[warmup:]))


def run_pytorch(steps: int, warmup: int) -> list[float]:
    import numpy as np
    import torch
    from pytorch_metric_learning import losses, miners
    from torch import nn

    from tfml.pipelines import pk_indices

    torch.manual_seed(0)
    images, labels = images_and_labels(4096, 128)
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # uint8 NCHW
    mean = pixels[:512].float().div(255).mean((0, 2, 3), keepdim=True)
    std = pixels[:512].float().div(255).std((0, 2, 3), keepdim=True)

    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*block(3, 32), *block(32, 64), *block(64, 128), *block(128, 256))
            self.head = nn.Linear(256, 32)

        def forward(self, x):
            return nn.functional.normalize(self.head(self.features(x).mean((2, 3))), dim=1)

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    loss_fn = losses.TripletMarginLoss(margin=0.2)
    miner = miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
    batches = pk_indices(labels, 32, 4, warmup + steps, seed=0)
    rng = np.random.default_rng(0)
    times = []
    for rows in batches:
        padded = nn.functional.pad(pixels[torch.from_numpy(rows)], (4, 4, 4, 4))
        offsets = rng.integers(0, 9, (len(rows), 2))
        crops = torch.stack([padded[i, :, y : y + 64, x : x + 64] for i, (y, x) in enumerate(offsets)])
        x = (crops.float().div(255) - mean) / std
        y = torch.from_numpy(labels[rows])
        embeddings = net(x)
        loss = loss_fn(embeddings, y, miner(embeddings, y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter())
    return list(np.diff(times[warmup:]))


def child(name: str, steps: int, warmup: int) -> None:
    if name == "pytorch-pml":
        times = run_pytorch(steps, warmup)
        import torch

        versions = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    else:
        times = run_tfml(steps, warmup, keras_batchnorm=name == "tfml-keras-batchnorm")
        import keras
        import tensorflow as tf

        versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    print("RESULT " + json.dumps({"name": name, "times": times, **versions}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per contender")
    parser.add_argument("--warmup", type=int, default=6, help="steps before timing")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.steps, args.warmup)
    import numpy as np

    print(f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    results = {}
    for name in CONTENDERS:
        if name == "pytorch-pml":
            try:
                import pytorch_metric_learning  # noqa: F401
                import torch  # noqa: F401
            except ImportError:
                print(
                    "pytorch-pml: skipped, torch or pytorch-metric-learning is not installed: "
                    "pip install torch==2.13.0 pytorch-metric-learning (or pip install -e '.[bench]')"
                )
                continue
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, "--steps", str(args.steps), "--warmup", str(args.warmup)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
        results[name] = float(np.median(result["times"]))
        extra = ", ".join(f"{k} {v}" for k, v in result.items() if k not in ("name", "times"))
        print(f"{name:>22}: {results[name]:.3f} s per step (median of {len(result['times'])}; {extra})", flush=True)
    if "pytorch-pml" in results:
        for name in ("tfml", "tfml-keras-batchnorm"):
            print(f"{name} / pytorch-pml step time: {results[name] / results['pytorch-pml']:.2f}x")


if __name__ == "__main__":
    main()
