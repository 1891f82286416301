"""tfml: Keras 3 toolkit and model zoo for representation learning, metric learning and retrieval.

Importing tfml registers its custom Keras objects (layers, losses, metrics), so its models load with
plain ``keras.models.load_model(path)``. The ``tfml`` command is the exception: it starts without
TensorFlow (``tfml --help`` answers at once) and imports each part when a command needs it.
"""

from tfml.startup import quiet_start, started_as_command

__version__ = "0.1.0"

quiet_start()  # the tfml command: TensorFlow, when it comes, starts quietly

if not started_as_command():
    from tfml import losses, models, training  # noqa: E402,F401  (registers tfml's layers, losses and metrics)
