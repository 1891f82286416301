"""The poster study end to end on a small budget; needs ../shared/data/ml100k-posters."""

import json

from tests.helpers import TestCase, shared_file
from tfml.training import run_study


class PosterStudyTest(TestCase):
    def test_quick_poster_study(self):
        tmp_path = self.tmp_path
        from tfml.workflows import poster_embeddings as study

        data = shared_file("ml100k-posters")
        config = study.Config.quick_mode(
            data=str(data), run_dir=str(tmp_path / "run"), epochs=1, triplet_batches=12, bootstrap=200, backbone="none"
        )
        run_dir = run_study(study.STEPS, config)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        trained = ("log-ratio", "binary triplet", "multi-label SupCon", "MultiSimilarity, Jaccard positives")
        for name in trained + ("untrained network", "colour histogram", "random ranking"):
            assert (
                0 < metrics[f"{name}/nDCG@10"] < 1
                and metrics[f"{name}/95% low"] <= metrics[f"{name}/nDCG@10"] <= metrics[f"{name}/95% high"]
            )
        for name in (
            "genre_frequency",
            "genre_cooccurrence",
            "triplet_examples",
            "log_ratio_scatter",
            "validation_triplets",
            "label_distance_at_k",
            "neighbours_log-ratio",
            "tsne_by_genre",
        ):
            assert (run_dir / "figures" / f"{name}.png").stat().st_size > 5000, name
        projector = run_dir / "tensorboard" / "projector" / "test_posters"
        lines = (projector / "metadata.tsv").read_text().splitlines()
        test_movies = json.loads((run_dir / "config.json").read_text())["test"]
        assert lines[0] == "title\tgenres" and len(lines) == 1 + test_movies
        assert "sprite.png" in (projector / "projector_config.pbtxt").read_text()
        for name in trained:  # did training help: paired differences over the same test queries
            low, mean, high = (
                metrics[f"{name} - untrained network/nDCG@10 {part}"] for part in ("low", "mean", "high")
            )
            assert (
                low <= mean <= high
                and abs(mean - (metrics[f"{name}/nDCG@10"] - metrics["untrained network/nDCG@10"])) < 1e-9
            )
        log = (run_dir / "runs" / "log-ratio" / "training_log.csv").read_text()
        assert "val_ndcg_at_10" in log.splitlines()[0]
        supcon_log = (run_dir / "runs" / "supcon-jaccard" / "training_log.csv").read_text()
        assert "val_ndcg_at_10" in supcon_log.splitlines()[0]
