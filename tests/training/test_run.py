"""Run directories (never a user's folder), settings checked on resume, strategies, the run owner."""

import dataclasses
import json
import os

import pandas as pd
import pytest

from tests.helpers import TestCase
from tfml.config import ConfigError, option
from tfml.training import Run, StudyConfig, flatten, get_strategy, prepare_run_dir, tf_config
from tfml.training.run import check_free_space


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


class StudyRunnerTest(TestCase):
    """run_study: the run directory is locked while it runs and removed if it fails before training."""

    def test_a_study_that_fails_before_training_leaves_no_run_directory(self):
        from tfml.training import run_study

        def broken(run):
            raise ValueError("class dog has only 1 item")

        with pytest.raises(ValueError, match="only 1 item"):
            run_study((broken,), Demo(run_dir=str(self.tmp_path / "run")))
        self.assertFalse((self.tmp_path / "run").exists())
        existing = self.tmp_path / "existing"
        run_study((lambda run: None,), Demo(run_dir=str(existing)))
        with pytest.raises(ValueError):
            run_study((broken,), Demo(run_dir=str(existing)))
        self.assertTrue((existing / "config.json").exists())  # a run directory that was there stays

    def test_report_only_options_may_change_on_resume(self):
        @dataclasses.dataclass(kw_only=True)
        class Titled(StudyConfig):
            NAME, TITLE, REPORT_ONLY = "titled", "Titles", ("titles",)
            titles: tuple[str, ...] = option(("a",), "titles shown")

        run = Run(Titled(run_dir=str(self.tmp_path / "run")))
        run.close()
        Run(Titled(run_dir=str(self.tmp_path / "run"), titles=("b",))).close()  # no "other settings" error


class RunChecksTest(TestCase):
    """What a run checks before its first step."""

    def test_seed_and_backup_interval_ranges(self):
        with pytest.raises(ConfigError, match="seed: -1 is not in"):
            Demo(seed=-1)
        with pytest.raises(ConfigError, match="seed: 4294967296 is not in \\[0, 4294967295\\]"):
            Demo(seed=2**32)
        with pytest.raises(ConfigError, match="backup_seconds: 0 is below the minimum 1"):
            Demo(backup_seconds=0)

    def test_tf_config_is_checked(self):
        for value, message in (
            ("{not json", "TF_CONFIG is not JSON"),
            ('{"task": {"type": "worker", "index": 0}}', 'has no "cluster"'),
            ('{"cluster": {"worker": ["localhost"]}}', 'has no "cluster"'),
            ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', 'has a "task" that is not'),
            ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', 'has a "task" that is not'),
        ):
            self.monkeypatch.setenv("TF_CONFIG", value)
            with pytest.raises(ValueError, match=message):
                tf_config()
        self.monkeypatch.setenv(
            "TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}'
        )
        self.assertEqual(tf_config()["task"]["index"], 1)
        self.monkeypatch.setenv("TF_CONFIG", "{not json")
        with pytest.raises(ValueError, match="TF_CONFIG is not JSON"):
            Run(Demo(run_dir=str(self.tmp_path / "run")))
        self.assertFalse((self.tmp_path / "run").exists())  # checked before the run directory is made

    def test_too_little_free_disk_for_the_first_checkpoint_is_an_error_before_training(self):
        import errno
        import shutil

        import keras

        model = keras.Sequential([keras.Input((100,)), keras.layers.Dense(1000)])
        usage = shutil.disk_usage(self.tmp_path)
        self.monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=2**20))
        with pytest.raises(OSError) as raised:
            check_free_space(self.tmp_path, model)
        self.assertEqual(raised.value.errno, errno.ENOSPC)
        self.assertIn("only 1 MB free; the model's checkpoint and backup need about 18 MB", str(raised.value))

    def test_a_quick_run_answers_no_question(self):
        for quick in (False, True):
            run = Run(Demo(run_dir=str(self.tmp_path / f"run-{quick}"), quick=quick))
            run.finding("A is ahead of B.")
            run.finding("C and D cannot be told apart.")
            html = (run.finish() / "report.html").read_text()
            run.close()
            self.assertEqual("A is ahead of B." in html, not quick)
            self.assertEqual(html.count("Too small to answer"), int(quick))
