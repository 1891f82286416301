"""The ``tfml`` command: train studies, encode images, retrieve neighbours, project embeddings, and more.

Every option comes from a field of a configuration dataclass (``tfml.config.option``):
its flag, type, default, range and help. A user's mistake (a value out of range, a missing or
broken file, the wrong kind of model) prints one line ``tfml: error: ...`` and exits with status 2;
``--debug`` (or TFML_DEBUG=1) adds the traceback. Unexpected errors show their traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path

from tfml.paths import PACKAGE_DIR
from tfml.startup import quiet_tensorflow

# --- a quiet console -----------------------------------------------------------------------------


class _NoRetracingNotice(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" notice: studies predict on arrays of
    several lengths (train, test, figures), which retraces by design and costs nothing that matters."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


# --- options from configuration fields ----------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse with tfml's one-line error format, and no abbreviated options (--epoch is a
    mistake, not --epochs)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message):
        raise SystemExit(_fail(f"{message} (see {self.prog} --help)"))


def _fail(message: str) -> int:
    print(f"tfml: error: {message}", file=sys.stderr)
    return 2


def _converter(name: str, element_type, metadata: dict):
    from tfml.config import ConfigError, check_value

    def convert(text: str):
        try:
            value = element_type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if element_type is int else 'a number'}"
            ) from None
        try:
            return check_value(name, value, metadata)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(error.message) from None

    convert.__name__ = element_type.__name__
    return convert


def _mapping_item(text: str) -> tuple[str, list[float]]:
    """One NAME=NUMBER,NUMBER,... item of a dict-typed option."""
    name, _, numbers = text.partition("=")
    try:
        values = [float(number) for number in numbers.split(",") if number]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the values must be numbers, as NAME=NUMBER,NUMBER,...") from None
    if not name or not values:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=NUMBER,NUMBER,... (e.g. adam=0.001,0.01)")
    return name, values


def _show(value) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={','.join(f'{r:g}' for r in v)}" for k, v in value.items())
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_options(parser: argparse.ArgumentParser, config_class, quick: dict | None = None) -> None:
    """One argument per ``option`` field of ``config_class``: flag, type, help with the default (and
    quick mode's value), range checked as it is parsed. Unset options stay absent from the namespace."""
    from tfml.config import base_type, field_types

    types_of = field_types(config_class)
    for field in dataclasses.fields(config_class):
        metadata = field.metadata
        if not metadata or not metadata.get("cli", True):
            continue
        annotation, optional = base_type(types_of[field.name])
        has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
        default = (
            field.default
            if field.default is not dataclasses.MISSING
            else (field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
        )
        help_text = metadata["help"]
        if annotation is bool:
            pass
        elif not has_default:
            help_text += " (required)" if not metadata.get("positional") else ""
        elif default is not None:
            help_text += f" (default: {_show(default)}"
            help_text += f"; --quick: {_show(quick[field.name])})" if quick and field.name in quick else ")"
        elif quick and field.name in quick:
            help_text += f" (--quick: {_show(quick[field.name])})"
        kwargs = {"help": help_text.replace("%", "%%"), "default": argparse.SUPPRESS}
        if metadata.get("metavar"):
            kwargs["metavar"] = metadata["metavar"]
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction if default else "store_true"
        elif annotation is dict or typing_origin(annotation) is dict:
            kwargs.update(nargs="+", type=_mapping_item)
        elif typing_origin(annotation) is tuple:
            args = annotation.__args__
            element = args[0]
            kwargs["nargs"] = "*" if len(args) == 2 and args[1] is Ellipsis else len(args)  # "--other-dims" alone: none
            kwargs["type"] = _converter(field.name, element, metadata)
        else:
            kwargs["type"] = _converter(field.name, annotation, metadata)
            if metadata.get("choices"):
                kwargs["choices"] = metadata["choices"]
                kwargs["type"] = annotation
        if metadata.get("positional"):
            kwargs.pop("default")
            parser.add_argument(field.name, **kwargs)
            continue
        flags = metadata.get("flag") or f"--{field.name.replace('_', '-')}"
        flags = (flags,) if isinstance(flags, str) else tuple(flags)
        if not has_default and annotation is not bool:
            kwargs["required"] = True
        parser.add_argument(*flags, dest=field.name, **kwargs)


def typing_origin(annotation):
    import typing

    return typing.get_origin(annotation)


def config_from(config_class, args: argparse.Namespace, quick: bool = False):
    """The configuration made of the options given (quick mode as the base with --quick)."""
    from tfml.config import base_type, field_types

    types_of = field_types(config_class)
    values = {
        field.name: getattr(args, field.name) for field in dataclasses.fields(config_class) if hasattr(args, field.name)
    }
    for name, value in values.items():
        annotation = base_type(types_of[name])[0]
        if (annotation is dict or typing_origin(annotation) is dict) and isinstance(value, list):
            values[name] = dict(value)  # NAME=NUMBER,... items
    values.pop("quick", None)
    return config_class.quick_mode(**values) if quick else config_class(**values)


# --- commands -------------------------------------------------------------------------------------


def _train(study, args) -> None:
    from tfml.training import run_study

    run_dir = run_study(study.STEPS, config_from(study.Config, args, quick=getattr(args, "quick", False)))
    print(f"\nrun directory: {run_dir.resolve()}\nreport: {(run_dir / 'report.html').resolve()}")


def build_parser() -> Parser:
    from tfml import commands
    from tfml.workflows import studies

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error (also TFML_DEBUG=1)",
    )
    common.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show TensorFlow's start-up and device messages",
    )
    parser = Parser(prog="tfml", description=__doc__.split("\n\n")[0], parents=[common])
    from tfml import __version__

    parser.add_argument("--version", action="version", version=f"tfml {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    train = subcommands.add_parser("train", help="train a study and write its run directory", parents=[common])
    study_parsers = train.add_subparsers(dest="study", required=True, parser_class=Parser, metavar="STUDY")
    for name, study in studies().items():
        description = study.__doc__.strip().split("\n\n")[0]
        sub = study_parsers.add_parser(name, help=study.Config.TITLE, description=description, parents=[common])
        add_options(sub, study.Config, quick=study.Config.QUICK)
        sub.set_defaults(handler=lambda args, study=study: _train(study, args))

    for command in commands.COMMANDS:
        sub = subcommands.add_parser(
            command.name, help=command.help, description=command.description or command.help, parents=[common]
        )
        if command.children:
            children = sub.add_subparsers(
                dest=f"{command.name}_command", required=True, parser_class=Parser, metavar="ACTION"
            )
            for child in command.children:
                leaf = children.add_parser(
                    child.name, help=child.help, description=child.description or child.help, parents=[common]
                )
                add_options(leaf, child.config)
                leaf.set_defaults(handler=lambda args, child=child: child.run(config_from(child.config, args)))
        else:
            add_options(sub, command.config)
            sub.set_defaults(handler=lambda args, command=command: command.run(config_from(command.config, args)))
    return parser


# --- errors ---------------------------------------------------------------------------------------

USER_ERRORS = (
    ValueError,
    KeyError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    FileExistsError,
    PermissionError,
    RuntimeError,
    EOFError,
)


def is_user_error(error: BaseException) -> bool:
    """An error tfml raised on purpose for bad input (its own checks, with a message that says what
    is wrong), or a file-system error; not an error from deep inside a library, which is a bug."""
    if isinstance(error, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)):
        return True
    if not isinstance(error, USER_ERRORS):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE_DIR)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv
    debug = "--debug" in argv or os.environ.get("TFML_DEBUG", "") not in ("", "0")
    quiet_tensorflow(verbose)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings(
        "ignore", category=UserWarning, module=r"tfml(\.|$)"
    )  # tfml logs each of its warnings too: say it once
    tensorflow_log = logging.getLogger("tensorflow")
    tensorflow_log.handlers.clear()  # one format for every message: through the root handler
    tensorflow_log.addFilter(_NoRetracingNotice())
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 0
    try:
        args.handler(args)
    except Exception as error:
        if not is_user_error(error):
            raise
        if debug:
            traceback.print_exc()
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        return _fail(" ".join(message.split()) if message else type(error).__name__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
