"""TensorFlow's start-up, quiet for the ``tfml`` command.

TensorFlow's C++ runtime prints its start-up lines (oneDNN, CUDA, CPU features) on file descriptor
2 when it is imported, before its logging can be configured and whatever TF_CPP_MIN_LOG_LEVEL says.
The ``tfml`` command hides them unless ``--verbose`` is given (it imports TensorFlow only when a
command needs it, through ``quiet_tensorflow``); a program that imports tfml as a library sees them
as usual.
"""

from __future__ import annotations

import contextlib
import os
import sys

COMMAND = "tfml"


@contextlib.contextmanager
def _silenced_stderr():
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def quiet_tensorflow(verbose: bool = False) -> None:
    """Imports TensorFlow without its start-up lines, unless ``verbose`` or it is imported already."""
    if verbose or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # also hides the CUDA cuInit line of the first device query
    with _silenced_stderr():
        import tensorflow  # noqa: F401


def started_as_command(argv: list[str] | None = None) -> bool:
    """Whether this process is the ``tfml`` console command."""
    argv = sys.argv if argv is None else argv
    return bool(argv) and os.path.basename(argv[0]) == COMMAND


def quiet_start() -> None:
    """Called first by the package: in the ``tfml`` command, TensorFlow's C++ logging is turned down
    before anything imports TensorFlow (unless ``--verbose``)."""
    if started_as_command() and "--verbose" not in sys.argv:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
