"""The movie study in quick mode on the embedded ml-latest-small."""

import json

import pandas as pd
import pytest

from tests.helpers import TestCase
from tfml import cli
from tfml.training import run_study
from tfml.workflows import movie_embeddings


@pytest.fixture(scope="class")
def quick_run(request, tmp_path_factory):
    request.cls.quick_run = run_study(
        movie_embeddings.STEPS,
        movie_embeddings.Config.quick_mode(run_dir=str(tmp_path_factory.mktemp("movies") / "run")),
    )


@pytest.mark.usefixtures("quick_run")
class MovieStudyTest(TestCase):
    """One quick run, then its recommendations, sweep, held-out recall and the recommend command."""

    def test_quick_study(self):
        quick_run = self.quick_run
        import json

        metrics = json.loads((quick_run / "metrics.json").read_text())
        lists = json.loads((quick_run / "recommendations.json").read_text())
        assert set(lists) == {"Apollo 13", "Toy Story", "Home Alone"} and all(len(v) == 10 for v in lists.values())
        assert "Toy Story (1995)" not in lists["Toy Story"]
        for name in ("sgd", "momentum", "adam", "adagrad"):
            assert (quick_run / f"figures/sweep_{name}.png").stat().st_size > 10_000
        recall = {key.split("/")[1]: value for key, value in metrics.items() if key.startswith("heldout/")}
        assert len(recall) == 8 and all(0 < value < 1 for value in recall.values())
        assert recall["item-item cosine on X"] > 0.05
        history = pd.read_csv(quick_run / "runs/counts/training_log.csv")
        assert history["loss"].iloc[-1] < 0.5 * history["loss"].iloc[0]
        report = (quick_run / "report.html").read_text()
        assert "Held-out likes" in report and "Optimizers and learning rates" in report

    def test_cli_recommend(self):
        quick_run = self.quick_run
        capsys = self.capsys
        assert cli.main(["recommend", "toy story", "--model", str(quick_run / "movie_embedding.h5"), "-k", "5"]) == 0
        out = capsys.readouterr().out
        assert "5 movies closest to Toy Story (1995)" in out and out.count("\n") >= 7
        assert cli.main(["recommend", "Toy Stroy", "--model", str(quick_run / "movie_embedding.h5")]) == 2
        assert "closest: Toy Story (1995)" in capsys.readouterr().err

    def test_a_mistyped_title_is_refused_before_any_training(self):
        with pytest.raises(KeyError, match="no movie titled 'Toy Stroy'"):
            run_study(
                movie_embeddings.STEPS,
                movie_embeddings.Config.quick_mode(titles=("Toy Stroy",), run_dir=str(self.tmp_path / "r")),
            )
        assert not (self.tmp_path / "r" / "runs").exists()

    def test_a_rerun_trains_nothing_and_reads_the_sweep_from_its_trainings(self):
        before = json.loads((self.quick_run / "metrics.json").read_text())
        sweep_logs = sorted(p.parent.name for p in (self.quick_run / "runs" / "sweep").glob("*/training_log.csv"))
        assert len(sweep_logs) == 12 and "adam-lr0.01" in sweep_logs
        run_study(movie_embeddings.STEPS, movie_embeddings.Config.quick_mode(run_dir=str(self.quick_run)))
        assert json.loads((self.quick_run / "metrics.json").read_text()) == before
