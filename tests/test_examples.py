"""Every example runs top to bottom as a notebook (jupytext + nbclient, examples/execute.py), on
small data; one that needs a data set outside the project skips when it is absent."""

import json
import sys

import pytest

from tests.helpers import PROJECT_ROOT, TestCase, extract_classes
from tfml.data.cifar10 import sample_path

sys.path.insert(0, str(PROJECT_ROOT / "examples"))
import execute  # noqa: E402

# the overrides that make each example small (its parameters cell says what they mean); SMALL_CIFAR
# stands for 20 training and 10 test images per class of the embedded sample
SMALL = {
    "metric_learning_in_20_lines": {"BATCHES": 8},
    "coming_from_elsewhere": {"BATCH": 16},
    "your_own_images": {"BATCHES": 4},
    "01_autoencoder_cifar10": {"OPTIONS": {"epochs": 1, "projection": "pca", "n_queries": 3, "data": "SMALL_CIFAR"}},
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
    "06_resnet_transfer": {"OPTIONS": {"head_epochs": 2, "data": "SMALL_CIFAR"}},
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
        overrides = SMALL[path.stem]
        if overrides.get("OPTIONS", {}).get("data") == "SMALL_CIFAR":
            small = extract_classes(sample_path(), self.tmp_path / "cifar", None, 20)
            overrides = {"OPTIONS": {**overrides["OPTIONS"], "data": str(small)}}
        notebook = execute.execute(path, {**overrides, **folders})  # a failing cell raises
        if "RUN_DIR" in folders:  # a study: its report was written and its figures shown
            run_dir = self.tmp_path / "run_dir"
            self.assertTrue((run_dir / "report.html").is_file())
            self.assertGreater(images_shown(notebook), 0)
            return run_dir
        return None

    def test_the_transfer_example_trains_every_route_from_the_zoo_backbone(self):
        run_dir = self.run_example(PROJECT_ROOT / "examples" / "06_resnet_transfer.py")
        metrics = json.loads((run_dir / "metrics.json").read_text())
        self.assertEqual(set(metrics), {"features/test_accuracy", "fine-tuning/test_accuracy", "scratch/test_accuracy"})
        for route in ("features", "fine-tuning", "scratch"):
            self.assertGreater((run_dir / f"figures/confident_{route}.png").stat().st_size, 20_000)
        self.assertIn("frozen features vs fine-tuning", (run_dir / "report.html").read_text())


for _path in execute.examples():
    if _path.stem == "06_resnet_transfer":  # its own test above
        continue
    setattr(
        ExamplesTest,
        f"test_example_{_path.stem}_runs_top_to_bottom",
        lambda self, path=_path: self.run_example(path),
    )
