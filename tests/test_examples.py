"""Every example runs top to bottom as a notebook (jupytext + nbclient, examples/execute.py), on
small data; one that needs a data set outside the project skips when it is absent."""

import sys

import pytest

from tests.helpers import PROJECT_ROOT, TestCase

sys.path.insert(0, str(PROJECT_ROOT / "examples"))
import execute  # noqa: E402

# the overrides that make each example small (its parameters cell says what they mean)
SMALL = {
    "metric_learning_in_20_lines": {"BATCHES": 8},
    "coming_from_elsewhere": {"BATCH": 16},
    "your_own_images": {"BATCHES": 4},
    "01_autoencoder_cifar10": {"OPTIONS": {"epochs": 1, "projection": "pca", "n_queries": 3}},
    "02_traffic_signs": {
        "OPTIONS": {
            "epochs": 1,
            "max_classes": 4,
            "max_images_per_class": 24,
            "classes_per_batch": 4,
            "runs": ["triplet-semihard"],
            "other_dims": [],
        }
    },
    "03_poster_genres": {"OPTIONS": {"epochs": 1, "triplet_batches": 2, "backbone": "none", "bootstrap": 100}},
    "04_poster_synopsis_aligner": {"OPTIONS": {"epochs": 1, "objectives": ["clip"]}},
    "05_movielens_embeddings": {"OPTIONS": {"iterations": 10, "sweep_iterations": 3, "sweep": {"adam": [0.05]}}},
    "06_resnet_transfer": {"OPTIONS": {"head_epochs": 2}},
}


def images_shown(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells for output in cell.get("outputs", []))


class ExamplesTest(TestCase):
    def test_every_example_has_small_settings(self):
        self.assertEqual(sorted(SMALL), sorted(path.stem for path in execute.examples()))

    def run_example(self, path):
        reason = execute.missing_data(path)
        if reason:
            pytest.skip(f"{path.name} {reason}")
        _, parameters = execute.parameters(execute.jupytext.read(path))
        folders = {name: str(self.tmp_path / name.lower()) for name in ("RUN_DIR", "WORK_DIR") if name in parameters}
        notebook = execute.execute(path, {**SMALL[path.stem], **folders})  # a failing cell raises
        if "RUN_DIR" in folders:  # a study: its report was written and its figures shown
            self.assertTrue((self.tmp_path / "run_dir" / "report.html").is_file())
            self.assertGreater(images_shown(notebook), 0)


for _path in execute.examples():
    setattr(
        ExamplesTest,
        f"test_example_{_path.stem}_runs_top_to_bottom",
        lambda self, path=_path: self.run_example(path),
    )
