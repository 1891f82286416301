"""Keras functional model builders; every image model takes uint8 images (``image_input``)."""

from tfml.models.aligner import (
    LabelProfile,
    LogitBias,
    LogitScale,
    build_aligner,
    build_label_predictor,
    ensemble_aligner,
    label_profile_aligner,
    paired_label_crossentropy,
)
from tfml.models.autoencoder import build_autoencoder, build_decoder, build_encoder
from tfml.models.batch_norm import FusedBatchNormalization
from tfml.models.embedding import (
    NETWORKS,
    ColourHistogram,
    build_embedding_net,
    build_histogram_net,
    build_siamese,
    channel_statistics,
)
from tfml.models.embedding_matrix import EmbeddingMatrix, build_embedding_matrix, embedding_table
from tfml.models.inputs import describe_input, image_input
from tfml.models.proxies import ClassProxies, embedding_part, with_class_proxies
from tfml.models.resnet import build_resnet18, classifier, load_backbone
from tfml.models.text import TextVocabulary, build_text_tower, build_vocabulary
