"""Project paths in one place, moved by environment variables; a bad variable is a clear error."""

import pytest

from tests.helpers import PROJECT_ROOT, TestCase
from tfml import paths, zoo
from tfml.data import load_movielens


class PathsTest(TestCase):
    def test_the_default_root_is_the_project(self):
        self.assertEqual(paths.project_root(), PROJECT_ROOT)
        self.assertEqual(paths.zoo_dir(), PROJECT_ROOT / "saved_models")
        self.assertTrue((paths.data_dir() / "cifar10-sample.tar.gz").is_file())

    def test_environment_variables_move_the_root_and_the_zoo(self):
        root = self.tmp_path / "elsewhere"
        (root / "data" / "ml-latest-small").mkdir(parents=True)
        (root / "data" / "ml-latest-small" / "movies.csv").write_text(
            "movieId,title,genres\n1,Toy Story (1995),Animation\n"
        )
        (root / "data" / "ml-latest-small" / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,0\n")
        self.monkeypatch.setenv(paths.ROOT_VARIABLE, str(root))
        self.assertEqual(len(load_movielens("small").ratings), 1)
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
