"""Configurations as dataclasses whose fields carry their own help, range and choices.

Every option of the ``tfml`` command comes from a field declared with ``option``: the CLI derives
its flag, type, default, help text and checks from the field (``tfml.cli``), and the same checks
run when a configuration is made in Python, so a value out of range is refused either way with a
``ConfigError`` naming the field.

>>> import dataclasses
>>> @dataclasses.dataclass(kw_only=True)
... class Example(Checked):
...     share: float = option(0.5, "share of distorted inputs", low=0, high=1)
>>> Example(share=1.5)
Traceback (most recent call last):
...
tfml.config.ConfigError: share: 1.5 is not in [0, 1]
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any


class ConfigError(ValueError):
    """A configuration value that is not allowed; ``field`` names the option."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    choices: tuple | None = None,
    flag: str | None = None,
    positional: bool = False,
    metavar: str | None = None,
    cli: bool = True,
    empty: bool = False,
):
    """A dataclass field with CLI metadata: ``help`` (required), an inclusive range [low, high] or a
    strict lower bound ``above``, ``choices``, the ``flag`` (default: --field-name), a
    ``positional`` argument, ``cli=False`` for a field the command line does not set, ``empty``
    for a tuple that may hold no values (otherwise it needs at least one)."""
    if not help:
        raise ValueError("every option needs a help text")
    metadata = {
        "help": help,
        "low": low,
        "high": high,
        "above": above,
        "choices": choices,
        "flag": flag,
        "positional": positional,
        "metavar": metavar,
        "cli": cli,
        "empty": empty,
    }
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def base_type(annotation) -> tuple[Any, bool]:
    """(the element type, optional?) of an annotation: int | None -> (int, True); tuple[float, ...]
    -> (tuple[float, ...], False)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _shown(number: float) -> str:
    return str(number) if isinstance(number, int) else f"{number:g}"


def check_value(name: str, value: Any, metadata: dict) -> Any:
    """``value`` checked against the field's range and choices (each element of a tuple; a tuple
    needs one element at least unless ``empty``); lists become tuples. Raises ConfigError."""
    if value is None:
        return value
    if isinstance(value, list):
        value = tuple(value)
    if value == () and not metadata.get("empty"):
        raise ConfigError(name, "needs at least one value")
    elements = value if isinstance(value, tuple) else (value,)
    for element in elements:
        if metadata.get("choices") is not None and element not in metadata["choices"]:
            raise ConfigError(name, f"{element!r} is not one of {', '.join(map(str, metadata['choices']))}")
        if isinstance(element, bool) or not isinstance(element, (int, float)):
            continue
        low, high, above = metadata.get("low"), metadata.get("high"), metadata.get("above")
        if element != element:  # NaN
            raise ConfigError(name, "NaN is not a value")
        if low is not None and high is not None and not low <= element <= high:
            raise ConfigError(name, f"{_shown(element)} is not in [{_shown(low)}, {_shown(high)}]")
        if low is not None and high is None and element < low:
            raise ConfigError(name, f"{_shown(element)} is below the minimum {_shown(low)}")
        if high is not None and low is None and element > high:
            raise ConfigError(name, f"{_shown(element)} is above the maximum {_shown(high)}")
        if above is not None and not element > above:
            raise ConfigError(name, f"{_shown(element)} must be greater than {_shown(above)}")
    return value


@dataclasses.dataclass(kw_only=True)
class Checked:
    """Checks every field against its ``option`` metadata when the object is made."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if field.metadata:
                object.__setattr__(self, field.name, check_value(field.name, getattr(self, field.name), field.metadata))
