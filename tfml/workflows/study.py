"""What every study's configuration has: a seed, a quick mode and a run directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar


@dataclasses.dataclass(kw_only=True)
class StudyConfig:
    """Subclasses set NAME (the default run directory is logs/NAME[-quick]) and QUICK (the overrides
    of quick mode)."""

    NAME: ClassVar[str] = "study"
    QUICK: ClassVar[dict] = {}
    seed: int = 0
    quick: bool = False
    run_dir: str | None = None
    fresh: bool = False

    @classmethod
    def quick_mode(cls, **overrides):
        return cls(**{**cls.QUICK, "quick": True, **overrides})

    def resolved_run_dir(self) -> Path:
        return Path(self.run_dir or f"logs/{self.NAME}{'-quick' if self.quick else ''}")
