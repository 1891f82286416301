"""tfml: Keras 3 toolkit and model zoo for representation learning, metric learning and retrieval.

Importing tfml registers its custom Keras objects, so its models load with
``keras.models.load_model(path)``.
"""

import os
import sys

__version__ = "0.1.0"

if os.path.basename(sys.argv[0]) == "tfml" and "--verbose" not in sys.argv:
    from tfml.cli import quiet_tensorflow  # the tfml command starts quietly: before anything imports TensorFlow

    quiet_tensorflow(verbose=False)

from tfml import losses, models, training  # noqa: E402,F401  (registers tfml layers, losses and metrics for model loading)
