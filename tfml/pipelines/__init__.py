"""tf.data builders: decoding, augmentation and distortions, batching."""

from tfml.pipelines.images import reconstruction_dataset
