"""tfml: Keras 3 toolkit and model zoo for representation learning, metric learning and retrieval.

Importing tfml registers its custom Keras objects (layers, losses, metrics), so its models load with
plain ``keras.models.load_model(path)``.
"""

from tfml.startup import quiet_start

__version__ = "0.1.0"

quiet_start()  # before TensorFlow is imported below: the tfml command starts quietly

from tfml import losses, models, training  # noqa: E402,F401  (registers tfml's layers, losses and metrics)
