"""The metric-learning kit: distances, miners, reducers and losses composed of them, each a
serialisable Keras object with its formula in its docstring (``Loss(distance=..., miner=...,
reducer=...)``)."""

from tfml.losses.base import REDUCERS, BatchMetricLoss, MetricLoss, masked_logsumexp, reduce_terms
from tfml.losses.batch import Batch, JaccardLabels, SameLabel, get_label_comparison, label_masks, split_embeddings
from tfml.losses.clip import ClipLoss, SigLipLoss, SymmetricLoss
from tfml.losses.contrastive import ContrastiveLoss, ContrastivePairLoss
from tfml.losses.cooccurrence import CoOccurrenceLoss, cooccurrence_loss
from tfml.losses.distances import (
    ALIASES,
    DISTANCES,
    LOSS_DISTANCES,
    CosineDistance,
    CosineSimilarity,
    Distance,
    DotProductSimilarity,
    LpDistance,
    canonical_distance,
    get_distance,
    paired_distances,
    pairwise_distances,
)
from tfml.losses.log_ratio import LogRatioLoss
from tfml.losses.memory import CrossBatchMemory
from tfml.losses.miners import (
    BatchEasyHardMiner,
    BatchHardMiner,
    DistanceWeightedMiner,
    HardPairMiner,
    IndexedTripletMiner,
    Miner,
    MultiSimilarityMiner,
    PairMarginMiner,
    Pairs,
    SemiHardNegativeMiner,
    TripletMarginMiner,
    Triplets,
    get_miner,
    pairs_of,
    triplets_of,
)
from tfml.losses.pair_weighting import CircleLoss, GeneralizedLiftedStructureLoss, MultiSimilarityLoss, TupletMarginLoss
from tfml.losses.proxies import (
    ArcFaceLoss,
    CosFaceLoss,
    NormalizedSoftmaxLoss,
    ProxyAnchorLoss,
    ProxyNCALoss,
    SubCenterArcFaceLoss,
)
from tfml.losses.reducers import (
    AvgNonZeroReducer,
    ClassWeightedReducer,
    MeanReducer,
    PerAnchorReducer,
    Reducer,
    SumReducer,
    Terms,
    ThresholdReducer,
    get_reducer,
)
from tfml.losses.softmax_pairs import NPairsLoss, NTXentLoss, SupConLoss
from tfml.losses.triplet import TripletHardLoss, TripletLoss, TripletMarginLoss, TripletSemiHardLoss
