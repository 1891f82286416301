"""Serialisable Keras losses for metric learning on one base (``MetricLoss``), and the distance
vocabulary."""

from tfml.losses.base import REDUCERS, MetricLoss, label_masks, reduce_terms
from tfml.losses.clip import ClipLoss
from tfml.losses.contrastive import ContrastiveLoss, ContrastivePairLoss
from tfml.losses.cooccurrence import CoOccurrenceLoss, cooccurrence_loss
from tfml.losses.distances import ALIASES, DISTANCES, LOSS_DISTANCES, canonical_distance, paired_distances, pairwise_distances
from tfml.losses.log_ratio import LogRatioLoss
from tfml.losses.triplet import TRIPLETS, TripletHardLoss, TripletLoss, TripletMarginLoss, TripletSemiHardLoss
