"""Run directories (never a user's folder), settings checked on resume, strategies, the run owner."""

import dataclasses
import json
import os

import pandas as pd
import pytest

from tests.helpers import TestCase
from tfml.training import Run, StudyConfig, flatten, get_strategy, prepare_run_dir


class RunDirectoryTest(TestCase):
    """prepare_run_dir and get_strategy."""

    def test_prepare_run_dir_refuses_to_resume_with_other_settings(self):
        tmp_path = self.tmp_path
        prepare_run_dir(tmp_path / "run", {"epochs": 3, "seed": 0, "fresh": False}, not_compared=("fresh",))
        config = json.loads((tmp_path / "run" / "config.json").read_text())
        assert config["args"]["epochs"] == 3 and "tensorflow" in config["versions"]
        prepare_run_dir(tmp_path / "run", {"epochs": 3, "seed": 0, "fresh": True}, not_compared=("fresh",))
        with pytest.raises(ValueError, match="other settings \\(epochs: 3 -> 5\\).*--fresh"):
            prepare_run_dir(tmp_path / "run", {"epochs": 5, "seed": 0}, not_compared=("fresh",))
        (tmp_path / "run" / "marker").write_text("x")
        prepare_run_dir(tmp_path / "run", {"epochs": 5, "seed": 0}, fresh=True)
        assert not (tmp_path / "run" / "marker").exists()

    def test_fresh_never_deletes_a_folder_that_tfml_did_not_make(self):
        tmp_path = self.tmp_path
        documents = tmp_path / "Documents"
        documents.mkdir()
        (documents / "thesis.tex").write_text("years of work")
        for fresh in (True, False):
            with pytest.raises(ValueError, match="tfml did not make.*nothing was changed"):
                prepare_run_dir(documents, {"epochs": 1}, fresh=fresh)
        assert (documents / "thesis.tex").read_text() == "years of work" and sorted(os.listdir(documents)) == [
            "thesis.tex"
        ]
        (documents / "config.json").write_text('{"args": {}}')  # a config.json that tfml did not write
        with pytest.raises(ValueError, match="tfml did not make"):
            prepare_run_dir(documents, {"epochs": 1}, fresh=True)
        assert (documents / "thesis.tex").exists()
        (tmp_path / "file").write_text("x")
        with pytest.raises(ValueError, match="is a file, not a directory"):
            prepare_run_dir(tmp_path / "file", {})
        (tmp_path / "empty").mkdir()
        assert prepare_run_dir(tmp_path / "empty", {}, fresh=True).is_dir()  # an empty folder is fine

    def test_settings_that_are_tuples_resume(self):
        tmp_path = self.tmp_path
        args = {"strengths": (0.1, 0.2), "sweep": {"adam": (1e-3, 1e-2)}}
        prepare_run_dir(tmp_path / "run", args)
        prepare_run_dir(tmp_path / "run", args)  # stored as JSON lists, still the same settings
        with pytest.raises(ValueError, match="strengths"):
            prepare_run_dir(tmp_path / "run", {**args, "strengths": (0.1, 0.3)})

    def test_unknown_strategy_is_an_error(self):
        with pytest.raises(ValueError, match="unknown strategy 'tpu'"):
            get_strategy("tpu")


@dataclasses.dataclass(kw_only=True)
class Demo(StudyConfig):
    NAME, TITLE = "demo", "A demonstration"


class RunTest(TestCase):
    """The run owner: where outputs go, tables into metrics, the report's opening."""

    def test_outputs_go_through_the_run_and_tables_become_metrics(self):
        run = Run(Demo(run_dir=str(self.tmp_path / "run")))
        run.record(data_source="somewhere/data")
        table = pd.DataFrame(
            {"map@r": [0.5, 0.25], "note": ["a", "b"]}, index=pd.MultiIndex.from_tuples([("x", 32), ("y", 8)])
        )
        run.table("Results", table, metrics="{level[0]}/d{level[1]}/{column}")
        run.add_metrics({"epochs": 3})
        saved = run.save("sub/values.json", lambda path, text: path.write_text(text), "{}")
        self.assertEqual(saved, run.dir / "sub" / "values.json")
        run.summarise("The **best** run is `x` & <y>.")
        self.assertEqual(run.finish(), run.dir)
        metrics = json.loads((run.dir / "metrics.json").read_text())
        self.assertEqual(metrics, {"x/d32/map@r": 0.5, "y/d8/map@r": 0.25, "epochs": 3})
        html = (run.dir / "report.html").read_text()
        self.assertIn("<b>Run</b>: Full run on somewhere/data, seed 0", html)
        self.assertIn("The <b>best</b> run is <code>x</code> &amp; &lt;y&gt;.", html)
        with self.assertRaisesRegex(TypeError, "metric 'name' must be a number"):
            run.add_metrics({"name": "x"})
        with self.assertRaisesRegex(KeyError, "no training named 'nope'"):
            run.best_model("nope")

    def test_flatten_formats_floats_and_leaves_empty_cells_out(self):
        frame = pd.DataFrame({"mse": [0.25, float("nan")], "count": [3, 4]}, index=pd.Index([0.1, 0.0], name="noise"))
        self.assertEqual(
            flatten(frame, "noise/{index}/{column}"), {"noise/0.1/mse": 0.25, "noise/0.1/count": 3, "noise/0/count": 4}
        )
