"""Input pipeline cost: one autoencoder epoch through tfml's tf.data pipeline vs the same model fed
from tensors already in memory, in one run.

Contenders (same model, same images, batch 128, one epoch each, after a short warm-up):
- in-memory: ``model.fit(images, images / 255)`` on arrays (uint8 inputs, float targets; no distortion): the floor.
- tfml pipeline: images decoded once and cached as uint8 (the model scales them), every image distorted
  per epoch (``mix_distortions`` at share 1.0: noise or projective), epoch-keyed shuffle, prefetch.
- tfml pipeline, no cache: the same, but JPEG bytes are decoded (``tf.io.decode_jpeg``) every epoch.

    python benchmarks/pipeline.py --data ../shared/data/cifar10-jpg.tar.gz
    python benchmarks/pipeline.py --data sample          # the embedded sample (quick check)
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import tarfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfml.data.cifar10 import sample_path  # noqa: E402
from tfml.data.images import load_image_folder  # noqa: E402
from tfml.models import build_autoencoder  # noqa: E402
from tfml.pipelines import reconstruction_batches, unit_float, unit_float_array  # noqa: E402
from tfml.pipelines.distortions import DistortionSchedule, distortion_key, mix_distortions  # noqa: E402


def jpeg_bytes(path) -> list[bytes]:
    with tarfile.open(path) as archive:
        return [
            archive.extractfile(m).read() for m in archive if m.isfile() and m.name.lstrip("./").startswith("train/")
        ]


def decoding_dataset(encoded: list[bytes], batch_size: int, seed: int, epochs: int, schedule) -> tf.data.Dataset:
    """As reconstruction_batches with mix_distortions, but decoding the JPEGs every epoch."""
    encoded = tf.constant(encoded)
    count = len(encoded)

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), distortion_key(seed, epoch, -1)
        )

        def example(index):
            clean = tf.ensure_shape(tf.io.decode_jpeg(tf.gather(encoded, index), channels=3), [32, 32, 3])
            return mix_distortions(clean, distortion_key(seed, epoch, index), epoch, schedule), unit_float(clean)

        return (
            tf.data.Dataset.from_tensor_slices(order)
            .map(example, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size)
        )

    batches = epochs * math.ceil(count / batch_size)
    dataset = tf.data.Dataset.range(epochs).flat_map(one_epoch)
    return dataset.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)


def new_model():
    keras.utils.set_random_seed(0)
    _, _, model = build_autoencoder()
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError())
    return model


def timed_epoch(model, fit_kwargs) -> float:
    start = time.perf_counter()
    model.fit(epochs=1, verbose=0, **fit_kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", default="../shared/data/cifar10-jpg.tar.gz", help="a CIFAR-10 .tar.gz with train/, or 'sample'"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--warmup-steps", type=int, default=20)
    args = parser.parse_args()
    path = sample_path() if args.data == "sample" else args.data
    images = load_image_folder(path, (32, 32), subdir="train").images  # uint8, decoded once
    encoded = jpeg_bytes(path)
    n, batch = len(images), args.batch_size
    steps = math.ceil(n / batch)
    schedule = DistortionSchedule(share=(1.0, 1.0), noise=(0.2, 0.2), projective=(0.2, 0.2), ramp_epochs=1)
    targets = unit_float_array(images)
    print(
        f"one autoencoder epoch: {n:,} images, batch {batch}, {steps} steps; {platform.platform()}, {os.cpu_count()} "
        "cores"
    )

    contenders = {
        "in-memory arrays": lambda epochs: {"x": images, "y": targets, "batch_size": batch, "shuffle": True},
        "tfml pipeline (uint8 cache, distortions)": lambda epochs: {
            "x": reconstruction_batches(
                images, batch, 0, epochs, input_map=lambda im, key, e: mix_distortions(im, key, e, schedule)
            )(),
            "steps_per_epoch": steps,
            "shuffle": False,
        },
        "tfml pipeline, no cache (decode every epoch)": lambda epochs: {
            "x": decoding_dataset(encoded, batch, 0, epochs, schedule),
            "steps_per_epoch": steps,
            "shuffle": False,
        },
    }
    results = {}
    for name, make in contenders.items():
        model = new_model()
        warm = make(2)
        if "steps_per_epoch" in warm:
            warm["steps_per_epoch"] = args.warmup_steps
        else:
            warm = {**warm, "x": images[: args.warmup_steps * batch], "y": targets[: args.warmup_steps * batch]}
        timed_epoch(model, warm)
        results[name] = timed_epoch(model, make(1))
        print(f"{name:>46}: {results[name]:7.2f} s per epoch", flush=True)
    floor = results["in-memory arrays"]
    for name in list(results)[1:]:
        print(f"ratio {name} / in-memory: {results[name] / floor:.3f}")


if __name__ == "__main__":
    main()
