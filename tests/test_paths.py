"""Project paths in one place, moved by environment variables; a bad variable is a clear error."""

from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT, TestCase
from tfml import cli, paths, zoo
from tfml.data import load_movielens


class PathsTest(TestCase):
    def test_the_default_root_is_the_project(self):
        self.assertEqual(paths.project_root(), PROJECT_ROOT)
        self.assertEqual(paths.zoo_dir(), PROJECT_ROOT / "saved_models")
        self.assertTrue((paths.embedded_dir() / "cifar10-sample.tar.gz").is_file())

    def test_environment_variables_move_the_root_and_the_zoo_but_not_the_embedded_data(self):
        root = self.tmp_path / "elsewhere"
        root.mkdir()
        self.monkeypatch.setenv(paths.ROOT_VARIABLE, str(root))
        self.assertEqual(len(load_movielens("small").ratings), 100_836)
        self.assertEqual(paths.zoo_dir(), root / "saved_models")
        zoo_folder = self.tmp_path / "my-zoo"
        zoo_folder.mkdir()
        self.monkeypatch.setenv(paths.ZOO_VARIABLE, str(zoo_folder))
        self.assertEqual(zoo.entries(), [])
        self.assertEqual(zoo.folder(), zoo_folder)

    def test_a_variable_that_names_no_folder_is_an_error(self):
        self.monkeypatch.setenv(paths.ZOO_VARIABLE, str(self.tmp_path / "missing"))
        with pytest.raises(NotADirectoryError, match="TFML_ZOO=.*missing' names no folder"):
            zoo.entries()

    def test_a_missing_zoo_says_where_the_models_are(self):
        self.monkeypatch.setenv(paths.ZOO_VARIABLE, str(self.tmp_path))
        with pytest.raises(KeyError, match="no model zoo at .*saved_models/ folder of tfml's repository.*TFML_ZOO"):
            zoo.entry("cifar10-encoder")
        with pytest.raises(FileNotFoundError, match="neither a model file nor a zoo model: .*TFML_ZOO"):
            zoo.resolve("cifar10-encoder")
        cli.main(["zoo", "list"])
        self.assertIn("no model zoo at", self.capsys.readouterr().out)

    def test_downloads_go_to_the_user_cache(self):
        self.monkeypatch.setenv("XDG_CACHE_HOME", str(self.tmp_path))
        self.assertEqual(paths.cache_dir(), self.tmp_path / "tfml")
        self.monkeypatch.setenv("XDG_CACHE_HOME", "relative")
        self.assertEqual(paths.cache_dir(), Path.home() / ".cache" / "tfml")
