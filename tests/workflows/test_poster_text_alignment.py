"""The poster / synopsis aligner study in quick mode; needs ../shared/data/ml100k-posters."""

import json
import warnings

import keras
import numpy as np
import pandas as pd

from tests.helpers import TestCase, shared_file
from tfml.training import run_study


class AlignStudyTest(TestCase):
    def test_quick_alignment_study(self):
        tmp_path = self.tmp_path
        from tfml.workflows import poster_text_alignment as study

        data = shared_file("ml100k-posters")
        config = study.Config.quick_mode(
            data=str(data),
            run_dir=str(tmp_path / "run"),
            epochs=2,
            text_towers=("tfidf",),
            objectives=("clip", "siglip"),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_dir = run_study(study.STEPS, config)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        for subset in ("all", "never trained"):
            for key in (
                "acc0.5/dim0",
                "acc0.5/dim1",
                "acc0.05/dim0",
                "acc0.05/dim1",
                "R@1/poster->synopsis",
                "median_rank/synopsis->poster",
            ):
                assert f"tfidf-scratch/{subset}/{key}" in metrics and f"tfidf-scratch-siglip/{subset}/{key}" in metrics
        assert metrics["tfidf-scratch/all/acc0.5/dim0"] > 0.5  # better than random after two epochs
        for name in ("poster_to_synopses", "synopsis_to_posters", "rank_histogram"):
            assert (run_dir / "figures" / f"{name}.png").stat().st_size > 5000
        log = (run_dir / "runs" / "tfidf-scratch" / "training_log.csv").read_text().splitlines()
        assert "logit_scale" in log[0] and "val_top5pct" in log[0]
        aligner = keras.models.load_model(run_dir / "aligner.h5")
        validation = {
            name: pd.read_csv(run_dir / "runs" / name / "training_log.csv")["val_top5pct"].max()
            for name in ("tfidf-scratch", "tfidf-scratch-siglip")
        }
        best = max(validation, key=validation.get)  # chosen by validation, never by a test figure
        assert aligner.output_shape[-1] == (64 if best == "tfidf-scratch" else 65)  # SigLIP's rows carry the bias
        assert aligner.get_layer("text_tower").predict(
            np.array(["a boy and his toys"], dtype=object), verbose=0
        ).shape == (1, 64)
