"""One module per study: its configuration (``Config``, a ``tfml.training.StudyConfig``) and its
named steps (``STEPS``), run by ``tfml.training.run_study``. ``studies()`` finds them by
``Config.NAME``, so a new study is one new module here and nothing else."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def studies() -> dict[str, ModuleType]:
    """{Config.NAME: module} of every study module of this package, by name."""
    from tfml.training import StudyConfig

    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        config = getattr(module, "Config", None)
        if isinstance(config, type) and issubclass(config, StudyConfig) and hasattr(module, "STEPS"):
            if config.NAME in found:
                raise RuntimeError(
                    f"two studies are named {config.NAME!r}: {found[config.NAME].__name__} and {module.__name__}"
                )
            found[config.NAME] = module
    return dict(sorted(found.items()))
