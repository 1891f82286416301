"""Exact k-NN search, relevance definitions, retrieval metrics and the helper that joins them."""

from tfml.retrieval.accuracy import accuracy
from tfml.retrieval.codes import Codes, load_codes, save_codes
from tfml.retrieval.evaluate import (
    LABEL_METRICS,
    Difference,
    Retrieval,
    bootstrap_interval,
    chance_precision,
    evaluate_retrieval,
    paired_difference,
    parse_metric,
)
from tfml.retrieval.graph import HNSWIndex
from tfml.retrieval.index import ExactIndex, check_embeddings
from tfml.retrieval.metrics import (
    average_precision,
    dcg,
    held_out_recall_at_k,
    hit_rate_at_k,
    knn_accuracy,
    knn_predict,
    map_at_r,
    match_ranks,
    ndcg_at_k,
    neighbour_recall,
    precision_at_k,
    r_precision,
    recall_at_k,
    reciprocal_rank,
    top_ratio_accuracy,
)
from tfml.retrieval.recommend import (
    check_movie_ids,
    closest_movies,
    movie_row,
    recommend_for_users,
    recommend_popular,
    similar_items,
    similarity_matrix,
    top_k,
)
from tfml.retrieval.relevance import GradedRelevance, LabelRelevance, jaccard, jaccard_relevance, match_relevance  # noqa: F401
