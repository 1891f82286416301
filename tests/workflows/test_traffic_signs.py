"""The traffic-sign study in quick mode on real crops; needs ../shared/data/tt100k-crops.tar.gz."""

import json

import pandas as pd
import pytest

from tests.helpers import TestCase, shared_file
from tfml.training import run_study
from tfml.workflows import traffic_signs as study


class TrafficSignStudyTest(TestCase):
    def test_quick_study_end_to_end(self):
        tmp_path = self.tmp_path
        path = shared_file("tt100k-crops.tar.gz")
        config = study.Config.quick_mode(data=str(path), run_dir=str(tmp_path / "run"))
        run_dir = run_study(study.STEPS, config)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        for name in config.runs:
            for key in ("knn@1", "knn@5", "balanced_knn@1", "precision@1", "r_precision", "map@r"):
                assert 0 <= metrics[f"{name}/d32/{key}"] <= 1
            log = pd.read_csv(run_dir / "runs" / f"{name}-d32" / "training_log.csv")
            assert {"train_knn_at_1", "train_map_at_r", "epoch_seconds"} <= set(
                log.columns
            )  # checkpoints by retrieval, not loss
            choice = json.loads((run_dir / "runs" / f"{name}-d32" / "model.h5.json").read_text())
            assert choice["monitor"] == "train_map_at_r" and choice["best"] == pytest.approx(
                log["train_map_at_r"].max()
            )
        assert "raw pixels/d12288/knn@1" in metrics and "untrained network/d32/map@r" in metrics
        best = list(study.RUNS)[metrics["best_run"]]
        assert f"{best}/d8/map@r" in metrics
        assert max(metrics[f"{name}/d32/knn@1"] for name in config.runs) > metrics["untrained network/d32/knn@1"]
        for name in ("tsne_train.png", "tsne_test.png", "umap_train.png", "umap_test.png", "centroid_distances.png"):
            assert (run_dir / "figures" / name).stat().st_size > 5000
        html = (run_dir / "report.html").read_text()
        assert "Too small to answer the study" in html and "Does mining help" not in html  # a quick run answers nothing


class FindingsTest(TestCase):
    def test_mining_helps_only_when_the_paired_interval_says_so(self):
        import numpy as np

        rng = np.random.default_rng(0)
        shared = rng.random(120)
        per_query = {
            "triplet-random": shared,
            "triplet-semihard": shared + rng.normal(0, 0.01, 120),  # a tie, whatever its sign
            "contrastive-all": shared - 0.1,
            "contrastive-margin": shared + 0.05,
        }
        rows = {name: {"map@r": float(values.mean()), "knn@1": 0.5} for name, values in per_query.items()}
        mining_triplets, mining_pairs, which, families = study.findings(rows, per_query)
        self.assertIn("triplet-semihard (mined) and triplet-random (not mined) cannot be told apart", mining_triplets)
        self.assertIn(
            "contrastive-margin (mined) is ahead of contrastive-all (not mined) by MAP@R (+0.150", mining_pairs
        )
        self.assertIn("Contrastive or triplet?", which)
        self.assertIn("Which family wins? The best of each: pair losses: contrastive-margin", families)
        self.assertNotIn("helps", mining_triplets.split("?", 1)[1])

    def test_the_family_finding_compares_each_familys_best_and_needs_two_families(self):
        import numpy as np

        rng = np.random.default_rng(1)
        shared = rng.random(200)
        per_query = {
            "supcon": shared + 0.02,
            "multi-similarity": shared + 0.10,  # the pair family's best
            "proxy-anchor": shared + 0.04,  # the proxy family's best
            "arcface": shared,
            "triplet-semihard": shared - 0.05,
        }
        rows = {name: {"map@r": float(values.mean())} for name, values in per_query.items()}
        (finding,) = study.family_findings(rows, per_query)
        self.assertIn("pair losses: multi-similarity", finding.split(";")[0])
        self.assertIn("proxy and classifier losses: proxy-anchor", finding.split(";")[1])
        self.assertIn(
            "multi-similarity) is ahead of the best of the proxy and classifier losses (proxy-anchor)", finding
        )
        self.assertIn("by MAP@R (+0.060", finding)
        pairs_only = {name: rows[name] for name in ("supcon", "multi-similarity")}
        self.assertEqual(study.family_findings(pairs_only, per_query), [])

    def test_every_run_names_a_known_family_and_its_pml_twin_once(self):
        twins = [spec.reference for spec in study.RUNS.values() if spec.reference]
        self.assertEqual(len(twins), len(set(twins)))
        self.assertEqual(sorted(twins), list("abcdefghijk"))
        self.assertLessEqual({spec.family for spec in study.RUNS.values()}, set(study.FAMILIES))
        for name, spec in study.RUNS.items():
            self.assertEqual(spec.proxies, spec.family == "proxy", name)
