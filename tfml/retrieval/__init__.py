"""Exact k-NN search and retrieval metrics."""

from tfml.retrieval.index import METRICS, ExactIndex, check_embeddings
from tfml.retrieval.metrics import (
    count_relevant,
    held_out_recall_at_k,
    hit_rate_at_k,
    knn_accuracy,
    knn_predict,
    map_at_r,
    precision_at_k,
    r_precision,
    recall_at_k,
    relevance,
)
from tfml.retrieval.recommend import recommend_for_users, recommend_popular, similarity_matrix, top_k
