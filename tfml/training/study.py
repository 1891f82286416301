"""The study runner: a study is a configuration and a few named steps; the runner does the rest.

A study module (``tfml.workflows.<study>``) declares ``Config`` (a ``StudyConfig``: its NAME is the
study's name on the command line) and ``STEPS``, a tuple of functions. The runner opens the run
(``Run``: run directory, seeds, config.json, strategy), calls each step as
``step(run, *results)`` with the results of the steps before it, in order, and finishes the run
(metrics.json, report.html). Everything a step makes goes through ``run``. A run that fails before
its first training, in a run directory it made, removes that directory again.

>>> import dataclasses, tempfile
>>> @dataclasses.dataclass(kw_only=True)
... class Count(StudyConfig):
...     NAME, TITLE = "count", "Counting"
>>> def prepare(run):
...     return [1, 2, 3]
>>> def report(run, numbers):
...     run.add_metrics({"total": sum(numbers)})
>>> run_dir = run_study((prepare, report), Count(run_dir=tempfile.mkdtemp() + "/run"))
>>> (run_dir / "metrics.json").read_text()
'{\\n  "total": 6\\n}\\n'
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tfml.training.fit import TrainingInterrupted
from tfml.training.run import Run, StudyConfig

log = logging.getLogger(__name__)


def run_study(steps: Sequence[Callable], config: StudyConfig) -> Path:
    """Runs the steps of a study on one run (see the module docstring); returns the run directory."""
    run = Run(config)
    results = []
    try:
        for number, step in enumerate(steps, start=1):
            start = time.perf_counter()
            log.info("%s, step %d of %d: %s", config.NAME, number, len(steps), step.__name__)
            try:
                results.append(step(run, *results))
            except KeyboardInterrupt as stop:
                if isinstance(stop, TrainingInterrupted):
                    raise
                raise TrainingInterrupted(
                    f"{config.NAME} stopped in step {number} of {len(steps)} ({step.__name__})"
                ) from None
            log.info("%s: %s took %.1f s", config.NAME, step.__name__, time.perf_counter() - start)
        run.finish()
    except BaseException:
        run.close(failed=True)
        raise
    run.close()
    return run.dir
