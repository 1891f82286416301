"""The ``tfml`` command: train studies, encode images, retrieve neighbours, project embeddings, and more.

Every option comes from a field of a configuration dataclass (``tfml.config.option``): its flag,
type, default, range and help. The command is one error boundary: a user's mistake (a value out of
range, a missing or broken file, the wrong kind of model, a full disk) prints one line
``tfml: error: ...`` and exits with status 2; Ctrl-C prints one line saying where a training stopped
and how to resume it (status 130); output into a closed pipe ends quietly; an unexpected error is
one line with its type (status 1). ``--debug`` (or TFML_DEBUG=1) adds the traceback.

TensorFlow is imported only by the commands that need it: ``tfml --help``, every ``--help`` and
``tfml zoo list`` answer at once. The studies' options are read from their configuration classes
once per version of the source and kept in the user's cache folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import hashlib
import importlib
import json
import logging
import os
import shlex
import sys
import traceback
import typing
import warnings
from pathlib import Path

from tfml.config import ConfigError, base_type, check_value, field_types
from tfml.paths import PACKAGE_DIR, cache_dir, project_root, zoo_dir
from tfml.startup import quiet_tensorflow

DEBUG_VARIABLE = "TFML_DEBUG"
ELEMENT_TYPES = {"int": int, "float": float, "str": str}

# --- a quiet console -----------------------------------------------------------------------------


class _LibraryChatter(logging.Filter):
    """Drops Apache Beam's informational lines and its warnings about optional Google Cloud
    modules: they say nothing about the user's job (``--verbose`` shows them)."""

    def filter(self, record):
        return record.levelno >= logging.ERROR or "apache_beam" not in record.pathname


class _NoRetracingNotice(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" notice: studies predict on arrays of
    several lengths (train, test, figures), which retraces by design and costs nothing that matters."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def _quiet_console(verbose: bool) -> None:
    """One format for every log line; no third-party warnings that are not the user's business."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # a library's warning is a WARNING line like any other
    warnings.filterwarnings("ignore", category=UserWarning, module=r"tfml(\.|$)")  # tfml logs its warnings too
    warnings.filterwarnings("ignore", message=r"n_jobs value .* overridden", category=UserWarning)  # UMAP + seed
    if not verbose:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
    tensorflow_log = logging.getLogger("tensorflow")
    tensorflow_log.handlers.clear()  # through the root handler
    tensorflow_log.addFilter(_NoRetracingNotice())
    logging.getLogger("absl").setLevel(logging.INFO if verbose else logging.ERROR)
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_LibraryChatter())


# --- options from configuration fields ----------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse with tfml's one-line error format, and no abbreviated options (--epoch is a
    mistake, not --epochs)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message):
        raise SystemExit(_fail(f"{message} (see {self.prog} --help)"))


def _fail(message: str, status: int = 2) -> int:
    """Prints the one error line: control characters of the message (say, of a file name) escaped."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    print(f"tfml: error: {shown}", file=sys.stderr)
    return status


def _show(value) -> str:
    if isinstance(value, (tuple, list)):
        return " ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={','.join(f'{r:g}' for r in v)}" for k, v in value.items())
    return f"{value:g}" if isinstance(value, float) else str(value)


def _default_of(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return True, field.default
    if field.default_factory is not dataclasses.MISSING:
        return True, field.default_factory()
    return False, None


def option_specs(config_class, quick: dict | None = None) -> list[dict]:
    """The command-line arguments of ``config_class``'s ``option`` fields, as plain data (JSON):
    flags, kind ("switch", "mapping", "values" or "value"), element type, number of values,
    help with the default (and quick mode's value), and the field's checks."""
    types_of = field_types(config_class)
    specs = []
    for field in dataclasses.fields(config_class):
        metadata = field.metadata
        if not metadata or not metadata.get("cli", True):
            continue
        annotation, _ = base_type(types_of[field.name])
        has_default, default = _default_of(field)
        help_text = metadata["help"]
        if annotation is not bool:
            if not has_default:
                help_text += "" if metadata.get("positional") else " (required)"
            elif default is not None:
                quick_text = f"; --quick: {_show(quick[field.name])}" if quick and field.name in quick else ""
                help_text += f" (default: {_show(default)}{quick_text})"
            elif quick and field.name in quick:
                help_text += f" (--quick: {_show(quick[field.name])})"
        spec = {
            "dest": field.name,
            "help": help_text,
            "metavar": metadata.get("metavar"),
            "positional": bool(metadata.get("positional")),
            "flags": list(
                (metadata.get("flag"),) if isinstance(metadata.get("flag"), str) else metadata.get("flag") or ()
            ),
            "required": not has_default and annotation is not bool,
            "check": {key: metadata.get(key) for key in ("low", "high", "above", "choices", "empty")},
        }
        if not spec["flags"]:
            spec["flags"] = [f"--{field.name.replace('_', '-')}"]
        origin = typing.get_origin(annotation)
        if annotation is bool:
            spec.update(kind="switch", negatable=bool(default))
        elif annotation is dict or origin is dict:
            spec.update(kind="mapping")
        elif origin is tuple:
            args = typing.get_args(annotation)
            variable = len(args) == 2 and args[1] is Ellipsis
            nargs = ("*" if metadata.get("empty") else "+") if variable else len(args)
            spec.update(kind="values", element=args[0].__name__, nargs=nargs)
        else:
            spec.update(kind="value", element=annotation.__name__)
        if spec.get("element") not in (None, *ELEMENT_TYPES):
            raise TypeError(f"{config_class.__name__}.{field.name}: the command line has no {spec['element']} values")
        specs.append(json.loads(json.dumps(spec)))
    return specs


def _converter(name: str, element_type, check: dict):
    def convert(text: str):
        try:
            value = element_type(text)
        except ValueError:
            kind = "an integer" if element_type is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        try:
            return check_value(name, value, check)
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


def add_specs(parser: argparse.ArgumentParser, specs: list[dict]) -> None:
    """One argument per spec of ``option_specs``; values are checked as they are parsed and unset
    options stay absent from the namespace."""
    for spec in specs:
        kwargs = {"help": spec["help"].replace("%", "%%"), "default": argparse.SUPPRESS}
        metavar = spec["metavar"]
        if metavar:
            kwargs["metavar"] = tuple(metavar) if isinstance(metavar, list) else metavar
        if spec["kind"] == "switch":
            kwargs["action"] = argparse.BooleanOptionalAction if spec["negatable"] else "store_true"
        elif spec["kind"] == "mapping":
            kwargs.update(nargs="+", type=_mapping_item)
        else:
            element = ELEMENT_TYPES[spec["element"]]
            kwargs["type"] = _converter(spec["dest"], element, spec["check"])
            if spec["kind"] == "values":
                kwargs["nargs"] = spec["nargs"]
            elif spec["check"]["choices"]:
                kwargs.update(type=element, choices=spec["check"]["choices"])
        if spec["positional"]:
            kwargs.pop("default")
            parser.add_argument(spec["dest"], **kwargs)
            continue
        if spec["required"]:
            kwargs["required"] = True
        parser.add_argument(*spec["flags"], dest=spec["dest"], **kwargs)


def add_options(parser: argparse.ArgumentParser, config_class, quick: dict | None = None) -> None:
    """The options of ``config_class`` on ``parser`` (``option_specs`` then ``add_specs``)."""
    add_specs(parser, option_specs(config_class, quick))


def config_from(config_class, args: argparse.Namespace, quick: bool = False):
    """The configuration made of the options given (quick mode as the base with --quick)."""
    types_of = field_types(config_class)
    values = {
        field.name: getattr(args, field.name) for field in dataclasses.fields(config_class) if hasattr(args, field.name)
    }
    for name, value in values.items():
        annotation = base_type(types_of[name])[0]
        if (annotation is dict or typing.get_origin(annotation) is dict) and isinstance(value, list):
            values[name] = dict(value)  # NAME=NUMBER,... items
    values.pop("quick", None)
    return config_class.quick_mode(**values) if quick else config_class(**values)


# --- the studies' options, kept between calls ------------------------------------------------------


def _source_digest() -> str:
    """Changes with any of tfml's sources (study modules found elsewhere on ``tfml.workflows.__path__``
    included) and with the Python version."""
    import tfml.workflows

    digest = hashlib.sha256(sys.version.encode())
    sources = [*PACKAGE_DIR.rglob("*.py"), *(p for f in tfml.workflows.__path__ for p in Path(f).glob("*.py"))]
    for path in sorted(set(sources)):
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def _described_studies() -> dict[str, dict]:
    quiet_tensorflow("--verbose" in sys.argv)
    from tfml.workflows import studies

    return {
        name: {
            "module": module.__name__,
            "title": module.Config.TITLE,
            "description": module.__doc__.strip().split("\n\n")[0],
            "options": option_specs(module.Config, module.Config.QUICK),
        }
        for name, module in studies().items()
    }


def study_specs() -> dict[str, dict]:
    """{study name: {module, title, description, options}}, from the cache when it was written by
    this version of the sources; the cache is an optimisation: a folder that cannot be written
    costs only time."""
    folder = cache_dir()
    path = folder / f"studies-{_source_digest()}.json" if folder else None
    if path is not None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    described = _described_studies()
    if path is not None:
        from tfml.io import write_text

        try:
            for old in folder.glob("studies-*.json"):
                old.unlink()
            write_text(path, json.dumps(described))
        except OSError:
            pass
    return described


# --- commands -------------------------------------------------------------------------------------


def _resume_command(argv: list[str], run_dir: Path) -> str:
    """The command line that resumes the run: the same options, the run directory named, no --fresh."""
    words = [word for word in argv if word != "--fresh"]
    if "--run-dir" not in words and not any(word.startswith("--run-dir=") for word in words):
        words += ["--run-dir", str(run_dir)]
    return shlex.join(["tfml", *words])


def _train(study: dict, args: argparse.Namespace) -> None:
    quiet_tensorflow(args.verbose)
    from tfml.training import TrainingInterrupted, run_study

    module = importlib.import_module(study["module"])
    config = config_from(module.Config, args, quick=getattr(args, "quick", False))
    try:
        run_dir = run_study(module.STEPS, config)
    except TrainingInterrupted as stop:
        if not config.resolved_run_dir().exists():  # stopped before its first training: nothing was kept
            raise KeyboardInterrupt(f"{stop}, before any training; nothing was kept") from None
        raise KeyboardInterrupt(
            f"{stop}; resume with: {_resume_command(args.argv, config.resolved_run_dir())}"
        ) from None
    print(f"\nrun directory: {run_dir.resolve()}\nreport: {(run_dir / 'report.html').resolve()}")


def _run_command(command, args: argparse.Namespace) -> None:
    if command.tensorflow:
        quiet_tensorflow(args.verbose)
    command.run(config_from(command.config, args))


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(  # read from argv by main: a subcommand's default would hide the option given before it
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"show the traceback of an error (also {DEBUG_VARIABLE}=1)",
    )
    common.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show TensorFlow's start-up and device messages",
    )
    return common


def _add_command(subcommands, command, common) -> None:
    sub = subcommands.add_parser(
        command.name, help=command.help, description=command.description or command.help, parents=[common]
    )
    if command.children:
        children = sub.add_subparsers(
            dest=f"{command.name}_command", required=True, parser_class=Parser, metavar="ACTION"
        )
        for child in command.children:
            _add_command(children, child, common)
        return
    add_options(sub, command.config)
    sub.set_defaults(handler=lambda args, command=command: _run_command(command, args))


def build_parser(studies: dict[str, dict] | None = None) -> Parser:
    """The whole command line; ``studies`` as ``study_specs`` gives them (read from the cache by default)."""
    from tfml import __version__, commands

    common = _common_options()
    parser = Parser(prog="tfml", description=__doc__.split("\n\n")[0], parents=[common])
    parser.add_argument("--version", action="version", version=f"tfml {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    train = subcommands.add_parser("train", help="train a study and write its run directory", parents=[common])
    study_parsers = train.add_subparsers(dest="study", required=True, parser_class=Parser, metavar="STUDY")
    for name, study in (study_specs() if studies is None else studies).items():
        sub = study_parsers.add_parser(name, help=study["title"], description=study["description"], parents=[common])
        add_specs(sub, study["options"])
        sub.set_defaults(handler=lambda args, study=study: _train(study, args))
    for command in commands.COMMANDS:
        _add_command(subcommands, command, common)
    return parser


# --- the environment --------------------------------------------------------------------------------


def check_environment() -> None:
    """The environment variables every command reads, checked before any work (an error naming the
    variable); TF_CONFIG is checked when a training starts (``tfml.training.tf_config``)."""
    debug = os.environ.get(DEBUG_VARIABLE, "")
    if debug not in ("", "0", "1"):
        raise ValueError(f"the environment variable {DEBUG_VARIABLE}={debug!r} must be 0 or 1 (or unset)")
    project_root()
    zoo_dir()


# --- one error boundary -----------------------------------------------------------------------------

USER_ERRORS = (ValueError, KeyError, FileExistsError, RuntimeError, EOFError, LookupError)


def is_user_error(error: BaseException) -> bool:
    """An error tfml raised on purpose for bad input (its own checks, with a message that says what
    is wrong), or one from the machine (a missing file, a full disk, no permission); not an error
    from deep inside a library, which is a bug."""
    if isinstance(error, OSError):
        return True
    if not isinstance(error, USER_ERRORS):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE_DIR)


def message_of(error: BaseException) -> str:
    """The error's message on one line; a system error names its file and says what to do about a
    full disk."""
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        hint = "; free some space and run the command again" if error.errno == errno.ENOSPC else ""
        message = f"{where}{error.strerror}{hint}"
    elif isinstance(error, KeyError) and error.args:
        message = str(error.args[0])
    else:
        message = str(error)
    return " ".join(message.split()) or type(error).__name__


def _closed_pipe() -> int:
    """Output into a closed pipe (``tfml zoo list | head -1``): end quietly, as Unix tools do."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit's flush goes nowhere, quietly
    except (AttributeError, OSError, ValueError):  # a stdout that is not a file (tests, notebooks)
        pass
    return 141


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_VARIABLE) == "1"
    try:
        check_environment()
        args = build_parser().parse_args(argv)
        args.argv, args.verbose = argv, "--verbose" in argv
        _quiet_console(args.verbose)
        args.handler(args)
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 0
    except KeyboardInterrupt as stop:
        if debug:
            traceback.print_exc()
        where = f": {stop}" if str(stop) else "; nothing was written over (every output is written whole or not at all)"
        print(f"\ntfml: interrupted{where}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as error:
        if debug:
            traceback.print_exc()
        if is_user_error(error):
            return _fail(message_of(error))
        return _fail(
            f"internal error ({type(error).__name__}: {message_of(error)}); run the command again with --debug "
            "for the traceback and report it",
            status=1,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
