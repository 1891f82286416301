"""TensorBoard projector exports: embeddings you can turn in 3-D, labelled, with thumbnails.

``write_projector(directory, vectors, metadata, images)`` writes, in ``directory``: a checkpoint of
the embedding matrix (``embedding.ckpt-1*``), ``metadata.tsv`` (one row per vector, a header when
there are several columns), ``sprite.png`` (the thumbnails in one grid, when images are given) and
``projector_config.pbtxt``. ``tensorboard --logdir`` on a parent folder lists it as a run in the
Projector tab.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

MAX_SPRITE_SIDE = 8192  # TensorBoard's limit


def _cell(value) -> str:
    return " ".join(str(value).split()) or "-"  # no tabs or newlines inside a TSV cell


def write_sprite(images: np.ndarray, path, thumbnail: tuple[int, int]) -> tuple[int, int]:
    """Writes the images (uint8 (N, H, W, 3)) as thumbnails of ``thumbnail`` (height, width) in a
    square grid, row by row; returns the thumbnail size (width, height) TensorBoard needs."""
    count = len(images)
    side = math.ceil(math.sqrt(count))
    height, width = thumbnail
    if side * max(height, width) > MAX_SPRITE_SIDE:
        raise ValueError(
            f"{count:,} thumbnails of {width} x {height} do not fit a {MAX_SPRITE_SIDE}-pixel sprite; use fewer or "
            "smaller"
        )
    sprite = Image.new("RGB", (side * width, side * height), "white")
    for i, image in enumerate(np.asarray(images)):
        thumb = Image.fromarray(np.asarray(image, np.uint8)).convert("RGB").resize((width, height), Image.BILINEAR)
        sprite.paste(thumb, ((i % side) * width, (i // side) * height))
    sprite.save(path)
    return width, height


def write_projector(
    directory,
    vectors: np.ndarray,
    metadata: pd.DataFrame,
    images: np.ndarray | None = None,
    thumbnail: tuple[int, int] = (32, 32),
) -> Path:
    """Writes one projector embedding in ``directory`` (see the module docstring); returns it."""
    import tensorflow as tf
    from tensorboard.plugins import projector

    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim != 2 or len(vectors) != len(metadata):
        raise ValueError(f"{len(metadata)} metadata rows for vectors of shape {vectors.shape}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    columns = list(metadata.columns)
    with open(directory / "metadata.tsv", "w", encoding="utf-8") as handle:
        if len(columns) > 1:
            handle.write("\t".join(map(_cell, columns)) + "\n")
        for row in metadata.itertuples(index=False):
            handle.write("\t".join(_cell(value) for value in row) + "\n")
    checkpoint = tf.train.Checkpoint(embedding=tf.Variable(vectors, name="embedding"))
    checkpoint.save(str(directory / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = "metadata.tsv"
    if images is not None:
        width, height = write_sprite(images, directory / "sprite.png", thumbnail)
        embedding.sprite.image_path = "sprite.png"
        embedding.sprite.single_image_dim.extend([width, height])
    projector.visualize_embeddings(str(directory), config)
    return directory
