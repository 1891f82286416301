"""Batch sampling for metric learning: class-balanced P x K batches, and offline pairs / triplets.

All index draws use ``numpy.random.default_rng([seed, epoch])``, so an epoch's batches are the same
in any run, resumed or not; ``labelled_batches`` turns them into a resumable ``BatchStream`` of
uint8 images.

- P x K: each batch takes P distinct classes (uniformly among the classes) and K images of each,
  without replacement inside a class that has at least K images, with replacement otherwise.
- offline pairs: half positive (two different images of one class), half negative (images of two
  different classes), in random order; 1 marks a positive pair.
- offline triplets: (anchor, positive, negative) with anchor != positive of one class and the
  negative of another.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfml.pipelines.augmentation import augment
from tfml.pipelines.batches import BatchStream
from tfml.pipelines.distortions import distortion_key


def _by_class(labels: np.ndarray) -> list[np.ndarray]:
    labels = np.asarray(labels).reshape(-1)
    return [np.flatnonzero(labels == c) for c in np.unique(labels)]


def pk_indices(
    labels, classes_per_batch: int, images_per_class: int, n_batches: int, seed: int, epoch: int = 0
) -> np.ndarray:
    """(n_batches, P * K) image indices; each row holds K images of each of P distinct classes."""
    groups = _by_class(labels)
    if classes_per_batch > len(groups):
        raise ValueError(f"P={classes_per_batch} classes per batch, but the labels hold only {len(groups)} classes")
    rng = np.random.default_rng([seed, epoch])
    batches = np.empty((n_batches, classes_per_batch * images_per_class), np.int64)
    for b in range(n_batches):
        chosen = rng.choice(len(groups), classes_per_batch, replace=False)
        batches[b] = np.concatenate(
            [rng.choice(groups[c], images_per_class, replace=len(groups[c]) < images_per_class) for c in chosen]
        )
    return batches


def random_in_batch_triplets(batch_labels, seed: int, epoch: int = 0) -> np.ndarray:
    """For batches of labels (n_batches, B): (n_batches, B, 2) positions inside each batch of one
    random positive (another item with the anchor's label) and one random negative per anchor,
    drawn from default_rng([seed, epoch, 1]); the "indexed" triplets of ``TripletLoss``. A batch
    where an anchor has no positive or no negative is an error."""
    batch_labels = np.asarray(batch_labels)
    rng = np.random.default_rng([seed, epoch, 1])
    same = batch_labels[:, :, None] == batch_labels[:, None, :]
    positive = same & ~np.eye(batch_labels.shape[1], dtype=bool)[None]
    if not positive.any(axis=2).all() or not (~same).any(axis=2).all():
        raise ValueError("random in-batch triplets need a positive and a negative for every anchor (K >= 2 and P >= 2)")
    draws = rng.random(batch_labels.shape + (2,))

    def pick(mask, u):  # the floor(u * count)-th True of each row
        counts = mask.sum(axis=2)
        wanted = np.minimum((u * counts).astype(np.int64), counts - 1)
        return (np.cumsum(mask, axis=2) > wanted[..., None]).argmax(axis=2)

    return np.stack([pick(positive, draws[..., 0]), pick(~same, draws[..., 1])], axis=2)


def _positive_pairs(groups, rng, count):
    usable = [g for g in groups if len(g) >= 2]
    if not usable:
        raise ValueError("no class has two images: positive pairs are impossible")
    classes = rng.integers(0, len(usable), count)
    first = np.empty(count, np.int64)
    second = np.empty(count, np.int64)
    for i, c in enumerate(classes):
        first[i], second[i] = rng.choice(usable[c], 2, replace=False)
    return first, second


def _negative_of(labels, groups, rng, anchors):
    if len(groups) < 2:
        raise ValueError("a single class: negatives are impossible")
    labels = np.asarray(labels).reshape(-1)
    negatives = rng.integers(0, len(labels), len(anchors))
    clash = labels[negatives] == labels[anchors]
    while clash.any():
        negatives[clash] = rng.integers(0, len(labels), int(clash.sum()))
        clash = labels[negatives] == labels[anchors]
    return negatives


def offline_pairs(labels, n_pairs: int, seed: int, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (n, 2) indices, similar (n,) 1/0), half positive and half negative."""
    rng = np.random.default_rng([seed, epoch])
    groups = _by_class(labels)
    n_positive = n_pairs // 2
    first, second = _positive_pairs(groups, rng, n_positive)
    anchors = rng.integers(0, len(np.asarray(labels).reshape(-1)), n_pairs - n_positive)
    negatives = _negative_of(labels, groups, rng, anchors)
    pairs = np.concatenate([np.stack([first, second], 1), np.stack([anchors, negatives], 1)])
    similar = np.concatenate([np.ones(n_positive, np.int64), np.zeros(n_pairs - n_positive, np.int64)])
    order = rng.permutation(n_pairs)
    return pairs[order], similar[order]


def offline_triplets(labels, n_triplets: int, seed: int, epoch: int = 0) -> np.ndarray:
    """(n, 3) indices (anchor, positive, negative)."""
    rng = np.random.default_rng([seed, epoch])
    groups = _by_class(labels)
    anchors, positives = _positive_pairs(groups, rng, n_triplets)
    return np.stack([anchors, positives, _negative_of(labels, groups, rng, anchors)], 1)


def shuffled_order(indices, targets, seed: int) -> Callable[[int], tuple[np.ndarray, np.ndarray]]:
    """order(epoch) = (indices, targets) in a permutation drawn from default_rng([seed, epoch])."""
    indices, targets = np.asarray(indices), np.asarray(targets)

    def order(epoch):
        permutation = np.random.default_rng([seed, epoch]).permutation(len(indices))
        return indices[permutation], targets[permutation]

    return order


def labelled_batches(
    images: np.ndarray,
    order: Callable[[int], tuple[np.ndarray, np.ndarray]],
    batch_size: int,
    epochs: int,
    seed: int,
    padding: int = 0,
    flip: bool = False,
) -> BatchStream:
    """A BatchStream of (images[indices] uint8, target) items, where ``order(epoch)`` gives
    (indices, targets) for the epoch: indices (n,) for single images or (n, 2|3) for pairs and
    triplets (inputs (2|3, H, W, C) per item). With ``padding`` or ``flip`` each image is augmented
    (``tfml.pipelines.augmentation``) with a key from (seed, epoch, its position in the epoch)."""
    pixels = tf.constant(images)
    augmented = padding > 0 or flip

    def positioned(epoch):
        indices, targets = order(epoch)
        return np.arange(len(indices)), np.asarray(indices), np.asarray(targets)

    def example(position, index, target, epoch):
        batch = tf.gather(pixels, index)
        if augmented:
            key = distortion_key(seed, epoch, position)
            if index.shape.rank == 0:
                batch = augment(batch, key, padding, flip)
            else:
                keys = tf.random.experimental.stateless_split(key, index.shape[0])
                batch = tf.stack([augment(batch[i], keys[i], padding, flip) for i in range(index.shape[0])])
        return batch, target

    return BatchStream(positioned, example, batch_size, epochs)
