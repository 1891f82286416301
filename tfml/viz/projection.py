"""2-D projections of embeddings: UMAP, t-SNE or PCA, seeded."""

from __future__ import annotations

import numpy as np

METHODS = ("umap", "tsne", "pca")


def project_2d(embeddings: np.ndarray, method: str = "umap", seed: int = 0) -> np.ndarray:
    """(n, d) -> (n, 2) with UMAP (n_neighbors 15), t-SNE (perplexity min(30, (n - 1) / 3)) or PCA."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) < 3:
        raise ValueError(f"need at least 3 embeddings of shape (n, d) to project, got {embeddings.shape}")
    if not np.isfinite(embeddings).all():
        raise ValueError("embeddings contain NaN or inf")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(embeddings)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(embeddings) - 1) / 3)
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(embeddings)
    if method == "umap":
        import umap

        return umap.UMAP(  # one job: a seeded UMAP runs on one thread (it warns unless told so)
            n_components=2, n_neighbors=min(15, len(embeddings) - 1), random_state=seed, n_jobs=1
        ).fit_transform(embeddings)
    raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
