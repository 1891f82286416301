"""The tfml command: options derived from the configuration fields, one error line for bad input."""

import argparse
import dataclasses
import importlib

import pytest

from tfml import cli, commands
from tfml.workflows.config import ConfigError, StudyConfig


def study_configs():
    return [(name, importlib.import_module(f"tfml.workflows.{module}").Config) for name, module in cli.STUDIES.items()]


def command_configs():
    found = []
    for command in commands.COMMANDS:
        for leaf in command.children or (command,):
            found.append(((command.name, leaf.name) if command.children else (command.name,), leaf.config))
    return found


def parser_for(path):
    parser = cli.build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("path, config", [(("train", name), config) for name, config in study_configs()] + command_configs(),
                         ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_every_config_field_is_an_option_with_help_and_its_default(path, config):
    parser = parser_for(path)
    options = {action.dest: action for action in parser._actions}
    for field in dataclasses.fields(config):
        assert field.metadata.get("help"), f"{config.__name__}.{field.name} has no help text"
        assert field.name in options, f"{config.__name__}.{field.name} cannot be set from `tfml {' '.join(path)}`"
        action = options[field.name]
        has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
        if has_default and field.default not in (None, False) and not isinstance(field.default, bool):
            assert "(default:" in action.help, f"--{field.name} does not show its default"


def test_options_reach_the_config_and_quick_mode_is_the_base():
    from tfml.workflows import robust_retrieval

    args = parser_for(("train", "robust")).parse_args(["--quick", "--share", "0.1", "0.9", "--epochs", "2", "--eval-noise", "0.2"])
    config = cli.config_from(robust_retrieval.Config, args, quick=True)
    assert config.share == (0.1, 0.9) and config.epochs == 2 and config.eval_noise == (0.2,)
    assert config.batch_size == robust_retrieval.Config.QUICK["batch_size"] and config.quick


def test_sweep_option_parses_names_and_rates():
    from tfml.workflows import movie_embeddings

    args = parser_for(("train", "movies")).parse_args(["--sweep", "adam=0.001,0.01", "sgd=1e-5"])
    config = cli.config_from(movie_embeddings.Config, args)
    assert config.sweep == {"adam": [0.001, 0.01], "sgd": [1e-5]}
    with pytest.raises(ConfigError, match="unknown optimizer 'rmsprop'"):
        movie_embeddings.Config(sweep={"rmsprop": [0.1]})


@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "epochs: 0 is below the minimum 1"),
    ({"batch_size": -3}, "batch_size: -3 is below the minimum 1"),
    ({"learning_rate": 0.0}, "learning_rate: 0 must be greater than 0"),
    ({"projection": "mds"}, "projection: 'mds' is not one of umap, tsne, pca"),
])
def test_configs_check_their_values_in_python_too(values, message):
    from tfml.workflows import autoencoder_retrieval

    with pytest.raises(ConfigError, match=message):
        autoencoder_retrieval.Config(**values)


def test_study_configs_share_the_run_options():
    for _, config in study_configs():
        assert issubclass(config, StudyConfig) and config.TITLE != StudyConfig.TITLE
        assert {"seed", "quick", "run_dir", "fresh", "strategy", "backup_seconds"} <= {f.name for f in dataclasses.fields(config)}
