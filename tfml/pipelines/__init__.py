"""tf.data builders: resumable batch streams of uint8 images, augmentation and distortions,
P x K and offline pair / triplet sampling, co-like counts."""

from tfml.pipelines.augmentation import augment, horizontal_flip, pad_and_crop
from tfml.pipelines.batches import BatchStream, FullBatch, fixed_batches, seeded_permutation
from tfml.pipelines.cooccurrence import Likes, colike_counts, hold_out_likes, like_matrix, ppmi
from tfml.pipelines.images import reconstruction_batches, reconstruction_pairs
from tfml.pipelines.jaccard import jaccard_triplets
from tfml.pipelines.pixels import UNIT_SCALE, unit_float, unit_float_array
from tfml.pipelines.sampling import (
    labelled_batches,
    offline_pairs,
    offline_triplets,
    pk_indices,
    random_in_batch_triplets,
    shuffled_order,
)
