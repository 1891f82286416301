"""tf.data builders: decoding, augmentation and distortions, batching."""

from tfml.pipelines.cooccurrence import Likes, colike_counts, hold_out_likes, like_matrix, ppmi
from tfml.pipelines.images import reconstruction_dataset
