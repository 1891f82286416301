"""tfml: Keras 3 toolkit and model zoo for representation learning, metric learning and retrieval.

Importing tfml registers its custom Keras objects, so its models load with
``keras.models.load_model(path)``.
"""

__version__ = "0.1.0"

from tfml import losses, models, training  # noqa: E402,F401  (registers tfml layers, losses and metrics for model loading)
