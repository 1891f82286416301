"""Serialisable Keras losses for metric learning, and pairwise distances."""

from tfml.losses.contrastive import ContrastiveLoss, ContrastivePairLoss, contrastive_loss, contrastive_pair_loss
from tfml.losses.cooccurrence import CoOccurrenceLoss, cooccurrence_loss
from tfml.losses.distances import DISTANCES, paired_distances, pairwise_distances
from tfml.losses.triplet import (
    TripletHardLoss,
    TripletMarginLoss,
    TripletSemiHardLoss,
    triplet_hard_loss,
    triplet_margin_loss,
    triplet_semihard_loss,
)
