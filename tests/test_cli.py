"""The tfml command: studies found by Config.NAME, options derived from the configuration fields."""

import argparse
import dataclasses
import sys
import textwrap

import pytest
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml import cli, commands
from tfml.config import ConfigError
from tfml.training import StudyConfig
from tfml.workflows import studies


def study_configs():
    return [(name, module.Config) for name, module in studies().items()]


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


class OptionsTest(parameterized.TestCase, TestCase):
    """Every field is an option; values reach the configuration; help for every command."""

    @parameterized.named_parameters(
        *[
            (" ".join(path), path, config)
            for path, config in [(("train", name), config) for name, config in study_configs()] + command_configs()
        ]
    )
    def test_every_config_field_is_an_option_with_help_and_its_default(self, path, config):
        parser = parser_for(path)
        options = {action.dest: action for action in parser._actions}
        for field in dataclasses.fields(config):
            assert field.metadata.get("help"), f"{config.__name__}.{field.name} has no help text"
            assert field.name in options, f"{config.__name__}.{field.name} cannot be set from `tfml {' '.join(path)}`"
            action = options[field.name]
            has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
            if has_default and field.default not in (None, False) and not isinstance(field.default, bool):
                assert "(default:" in action.help, f"--{field.name} does not show its default"

    def test_options_reach_the_config_and_quick_mode_is_the_base(self):
        from tfml.workflows import robust_retrieval

        args = parser_for(("train", "robust")).parse_args(
            ["--quick", "--share", "0.1", "0.9", "--epochs", "2", "--eval-noise", "0.2"]
        )
        config = cli.config_from(robust_retrieval.Config, args, quick=True)
        assert config.share == (0.1, 0.9) and config.epochs == 2 and config.eval_noise == (0.2,)
        assert config.batch_size == robust_retrieval.Config.QUICK["batch_size"] and config.quick

    def test_sweep_option_parses_names_and_rates(self):
        from tfml.workflows import movie_embeddings

        args = parser_for(("train", "movies")).parse_args(["--sweep", "adam=0.001,0.01", "sgd=1e-5"])
        config = cli.config_from(movie_embeddings.Config, args)
        assert config.sweep == {"adam": [0.001, 0.01], "sgd": [1e-5]}
        with pytest.raises(ConfigError, match="unknown optimizer 'rmsprop'"):
            movie_embeddings.Config(sweep={"rmsprop": [0.1]})

    def test_study_configs_share_the_run_options(self):
        for _, config in study_configs():
            assert issubclass(config, StudyConfig) and config.TITLE != StudyConfig.TITLE
            assert {"seed", "quick", "run_dir", "fresh", "strategy", "backup_seconds"} <= {
                f.name for f in dataclasses.fields(config)
            }

    def test_cli_help_for_every_command(self):
        capsys = self.capsys
        studies_help = [["train", name, "--help"] for name in studies()]
        for argv in (
            ["--help"],
            *studies_help,
            ["encode", "--help"],
            ["retrieve", "--help"],
            ["project", "--help"],
            ["recommend", "--help"],
            ["distort", "--help"],
            ["zoo", "list", "--help"],
        ):
            assert cli.main(argv) == 0
            assert "usage: tfml" in capsys.readouterr().out


class StudyDiscoveryTest(TestCase):
    """A study is found by its Config.NAME: a new module in tfml.workflows is all a new study needs."""

    def test_the_eight_studies_are_found_by_name(self):
        self.assertEqual(
            sorted(studies()),
            ["align", "autoencoder", "movies", "posters", "resnet", "resnet-pretrain", "robust", "traffic-signs"],
        )

    def test_a_sixth_study_is_one_module(self):
        import tfml.workflows

        folder = self.tmp_path / "more"
        folder.mkdir()
        (folder / "counting.py").write_text(
            textwrap.dedent('''
            """Counting: a study of one step."""
            import dataclasses
            from tfml.config import option
            from tfml.training import StudyConfig

            @dataclasses.dataclass(kw_only=True)
            class Config(StudyConfig):
                NAME, TITLE = "counting", "Counting to n"
                n: int = option(3, "how far to count", low=1)

            def count(run):
                run.add_metrics({"total": sum(range(run.config.n + 1))})

            STEPS = (count,)
        ''')
        )
        self.monkeypatch.setattr(tfml.workflows, "__path__", [*tfml.workflows.__path__, str(folder)])
        self.monkeypatch.delitem(sys.modules, "tfml.workflows.counting", raising=False)
        self.assertIn("counting", studies())
        self.assertEqual(cli.main(["train", "counting", "--n", "4", "--run-dir", str(self.tmp_path / "run")]), 0)
        self.assertEqual((self.tmp_path / "run" / "metrics.json").read_text(), '{\n  "total": 10\n}\n')
