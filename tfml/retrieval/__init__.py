"""Exact k-NN search and retrieval metrics."""

from tfml.retrieval.index import METRICS, ExactIndex, check_embeddings
from tfml.retrieval.metrics import (
    count_relevant,
    hit_rate_at_k,
    knn_accuracy,
    knn_predict,
    map_at_r,
    precision_at_k,
    r_precision,
    recall_at_k,
    relevance,
)
