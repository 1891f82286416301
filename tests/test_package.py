"""`import tfml` registers every custom object (every zoo model loads with plain Keras), the layers
import only downwards, and every dotted tfml name in the README and the documentation exists."""

import importlib
import re
import subprocess
import sys

import pytest
from absl.testing import parameterized

from tests.helpers import PROJECT_ROOT, TestCase
from tfml import zoo

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").rglob("*.md"))]
README_NAMES = sorted({name for path in DOCUMENTS for name in re.findall(r"`(tfml(?:\.\w+)+)", path.read_text())})


class PackageTest(parameterized.TestCase, TestCase):
    def test_every_zoo_model_loads_with_plain_keras_after_import_tfml(self):
        code = (
            "import sys, keras, tfml\n"
            "for path in sys.argv[1:]:\n"
            "    print('LOADED', path, keras.models.load_model(path).name, flush=True)"
        )
        files = [str(zoo.folder() / item["file"]) for item in zoo.entries()]
        result = subprocess.run([sys.executable, "-c", code, *files], capture_output=True, text=True, timeout=600)
        loaded = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("LOADED ")]
        self.assertEqual(loaded, files, result.stderr[-3000:])

    @parameterized.named_parameters(*[(name, name) for name in README_NAMES])
    def test_every_tfml_name_in_the_documents_exists(self, name):
        parts = name.split(".")
        for split in range(len(parts), 0, -1):
            try:
                target = importlib.import_module(".".join(parts[:split]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[split:]:
                target = getattr(target, attribute)
            return
        pytest.fail(f"{name} is not importable")

    def test_the_package_root_imports_no_upper_layer(self):
        result = subprocess.run(
            [sys.executable, "-c", "import sys, tfml; print(sorted(m for m in sys.modules if m.startswith('tfml')))"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        loaded = eval(result.stdout.strip().splitlines()[-1])
        self.assertNotIn("tfml.cli", loaded)
        self.assertFalse([m for m in loaded if m.startswith(("tfml.workflows", "tfml.commands", "tfml.zoo"))], loaded)
        self.assertIn("tfml.models.aligner", loaded)  # every custom object is registered by the import
