"""The movie loader (three layouts, bad input), the Jaccard triplet builder and the log-ratio loss
against plain loops, and the poster study end to end on a small budget."""

import json
import warnings

import numpy as np
import pytest
import tensorflow as tf
from absl.testing import parameterized
from PIL import Image

import tfml  # noqa: F401
from conftest import shared_file
from tfml.data.posters import load_movies, split_movies
from tfml.losses import LogRatioLoss
from tfml.pipelines.jaccard import jaccard, jaccard_triplets


def poster(path, size=(20, 28), mode="RGB", colour=(200, 40, 40)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode == "RGB" else 128).save(path)


@pytest.fixture
def plain(tmp_path):
    folder = tmp_path / "plain"
    rows = [("a1", "Alpha (1990)", "Comedy|Drama", "A clown and a judge."),
            ("a2", "Beta", "Drama", "Two sisters."),
            ("a3", "Gamma", "Horror|Comedy", "   "),  # empty overview
            ("a4", "Delta", "", "A quiet film."),  # no genre
            ("a5", "Epsilon", "Action", "Cars."),  # no poster
            ("a6", "Zeta", "Action|Drama", "Trains."),  # zero-byte poster
            ("a1", "Alpha again", "Drama", "Duplicate id."),
            ("a7", "Eta", "Comedy", "A grey poster."),
            ("a8", "Theta", "Comedy", "A see-through poster.")]
    folder.mkdir()
    with open(folder / "movies.csv", "w") as handle:
        handle.write("id,title,genres,overview\n")
        for row in rows:
            handle.write(",".join(f'"{v}"' for v in row) + "\n")
    for movie_id in ("a1", "a2", "a3", "a4"):
        poster(folder / "posters" / f"{movie_id}.jpg")
    (folder / "posters" / "a6.jpg").write_bytes(b"")
    poster(folder / "posters" / "a7.png", mode="L")
    poster(folder / "posters" / "a8.png", mode="RGBA")
    (folder / "train.txt").write_text("a1\na7\n")
    return folder


def test_plain_layout_counts_every_dropped_movie_by_reason(plain):
    with pytest.warns(UserWarning, match="dropped 1 \\(duplicate id.*1 \\(no poster.*1 \\(unreadable poster.*1 \\(empty overview.*1 \\(no genre"):
        movies = load_movies(plain, (16, 12))
    assert movies.ids == ["a1", "a2", "a7", "a8"] and movies.titles[0] == "Alpha (1990)" and movies.years[0] == 1990
    assert movies.dropped == {"duplicate id": 1, "no poster": 1, "unreadable poster": 1, "empty overview": 1, "no genre": 1}
    assert movies.posters.shape == (4, 16, 12, 3) and movies.posters.dtype == np.uint8  # grey and RGBA converted to RGB
    assert movies.genre_list(0) == ["Comedy", "Drama"] and movies.train_ids == ["a1", "a7"]
    assert ("a2", "a1") in movies.identical_posters  # same colour, same bytes: listed, kept
    without_text = load_movies(plain, (16, 12), need_overview=False, need_genres=False)
    assert "a3" in without_text.ids and "a4" in without_text.ids


def test_mmimdb_layout(tmp_path):
    folder = tmp_path / "mmimdb" / "dataset"
    for i, (genres, plot) in enumerate([(["Drama"], ["A long road."]), (["Comedy", "Romance"], ["Love.", "Another plot."]),
                                        (["Drama"], [""])]):
        poster(folder / f"00{i}.jpeg", colour=(i * 60, 20, 20))
        (folder / f"00{i}.json").write_text(json.dumps({"title": f"Movie {i}", "year": 2001 + i, "genres": genres, "plot": plot}))
    with pytest.warns(UserWarning, match="empty overview"):
        movies = load_movies(tmp_path / "mmimdb", (8, 8))
    assert movies.ids == ["000", "001"] and movies.overviews[1] == "Love." and movies.genre_names == ["Comedy", "Drama", "Romance"]
    assert movies.genres.tolist() == [[0, 1, 0], [1, 0, 1]] and movies.years.tolist() == [2001, 2002] and movies.train_ids is None


def test_bad_sources_are_clear_errors(tmp_path, plain):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_movies(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no known movie layout"):
        load_movies(tmp_path / "empty")
    (plain / "train.txt").write_text("a1\nzz9\n")
    with pytest.raises(ValueError, match="train.txt: 1 id\\(s\\) name no movie.*zz9"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_movies(plain, (8, 8))
    (plain / "train.txt").write_text("\n")
    with pytest.raises(ValueError, match="train.txt is empty"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_movies(plain, (8, 8))
    (plain / "movies.csv").write_text("id,title,overview\n1,x,y\n")
    with pytest.raises(ValueError, match="movies.csv: missing column\\(s\\) genres"):
        load_movies(plain)


def test_ml100k_posters_facts():
    folder = shared_file("ml100k-posters")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = load_movies(folder, (32, 24), need_genres=False)
        movies = load_movies(folder, (32, 24))
    assert len(both) == 1654 and len(both.train_ids) == 992  # a poster and a synopsis
    assert both.dropped["duplicate id"] == 1746 - 1682 and both.dropped["no poster"] == 19
    assert len(movies) == 1652 and movies.dropped["no genre"] == 2  # only ML-100K's "unknown"
    assert len(both.identical_posters) >= 26
    train, validation, test = split_movies(movies, 1 / 3, seed=0)
    assert len(train) == 991 and len(validation) + len(test) == 661 and abs(len(validation) - 220) <= 1  # a train.txt movie has no genre
    assert not set(train) & set(validation) and not set(validation) & set(test)


def loop_triplets(genres, m, b, n, seed):
    """The builder written as the study describes it, one anchor at a time, same draws."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(m):
        batch = rng.choice(len(genres), b, replace=False)
        anchors = rng.integers(0, b, n)
        ties = rng.random((n, b, 2))
        sets = [set(np.flatnonzero(genres[i])) for i in batch]
        if all(s == sets[0] for s in sets):
            continue
        for t, a in enumerate(anchors):
            scores = {j: len(sets[a] & sets[j]) / len(sets[a] | sets[j]) for j in range(b) if j != a}
            best, worst = max(scores.values()), min(scores.values())
            p = max((j for j in scores if scores[j] == best), key=lambda j: ties[t, j, 0])
            q = max((j for j in scores if scores[j] == worst), key=lambda j: ties[t, j, 1])
            out.append((batch[a], batch[p], batch[q], 1 - scores[p], 1 - scores[q]))
    return [np.array(column) for column in zip(*out)]


class JaccardTripletsTest(tf.test.TestCase):
    def test_matches_the_loop_and_is_seeded(self):
        genres = (np.random.default_rng(0).random((60, 6)) < 0.3).astype(np.uint8)
        genres[genres.sum(1) == 0, 0] = 1
        built = jaccard_triplets(genres, m=15, b=7, n=5, seed=4)
        for got, expected in zip(built, loop_triplets(genres, 15, 7, 5, seed=4)):
            self.assertAllClose(got, expected)
        self.assertAllEqual(built[0], jaccard_triplets(genres, 15, 7, 5, seed=4)[0])
        self.assertTrue((built[3] <= built[4]).all())  # the positive is at least as similar as the negative

    def test_bad_arguments_and_identical_label_sets(self):
        genres = np.eye(4, dtype=np.uint8)
        with self.assertRaisesRegex(ValueError, "b \\(movies per batch\\) must be between 3"):
            jaccard_triplets(genres, 1, 2, 1, seed=0)
        with self.assertRaisesRegex(ValueError, "must be at least 1"):
            jaccard_triplets(genres, 1, 3, 0, seed=0)
        with self.assertRaisesRegex(ValueError, "have no genre"):
            jaccard_triplets(np.zeros((4, 2)), 1, 3, 1, seed=0)
        same = np.ones((5, 3), np.uint8)
        with self.assertRaisesRegex(ValueError, "every batch had identical label sets"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                jaccard_triplets(same, 3, 3, 2, seed=0)
        mixed = np.vstack([same, [[1, 0, 0]]])
        with self.assertWarnsRegex(UserWarning, "skipped \\d+ of 30 batches whose label sets were all identical"):
            anchor, *_ = jaccard_triplets(mixed, 30, 3, 2, seed=0)
        self.assertGreater(len(anchor), 0)

    def test_jaccard_hand_checked(self):
        self.assertAllClose(jaccard([[1, 1, 0]], [[1, 0, 0], [0, 1, 1], [0, 0, 0]]), [[0.5, 1 / 3, 0.0]])


def ref_log_ratio(triplets, distances, floor, squared, epsilon):
    values = []
    for (a, p, n), (d_ap, d_an) in zip(triplets.astype(np.float64), distances):
        e_ap = ((a - p) ** 2).sum() + epsilon
        e_an = ((a - n) ** 2).sum() + epsilon
        if not squared:
            e_ap, e_an = np.sqrt(e_ap), np.sqrt(e_an)
        values.append((np.log(e_ap / e_an) - np.log(max(d_ap, floor) / max(d_an, floor))) ** 2)
    return np.mean(values)


def ref_dense(embeddings, distances, floor, epsilon):
    anchor = embeddings[0].astype(np.float64)
    values = []
    for i in range(1, len(embeddings)):
        for j in range(i + 1, len(embeddings)):
            e_i = np.sqrt(((anchor - embeddings[i]) ** 2).sum() + epsilon)
            e_j = np.sqrt(((anchor - embeddings[j]) ** 2).sum() + epsilon)
            values.append((np.log(e_i / e_j) - np.log(max(distances[i], floor) / max(distances[j], floor))) ** 2)
    return np.mean(values)


class LogRatioLossTest(parameterized.TestCase, tf.test.TestCase):
    @parameterized.product(dtype=[np.float32, np.float64], distance=["euclidean", "sqeuclidean"], floor=[0.1, 0.01])
    def test_matches_numpy(self, dtype, distance, floor):
        rng = np.random.default_rng(1)
        triplets = rng.normal(size=(9, 3, 5)).astype(dtype)
        distances = rng.choice([0.0, 0.25, 0.5, 2 / 3, 1.0], size=(9, 2))
        loss = LogRatioLoss(floor, epsilon=1e-6, distance=distance, dtype=np.dtype(dtype).name)
        tolerance = 1e-4 if dtype == np.float32 else 1e-10
        self.assertAllClose(loss(distances, triplets), ref_log_ratio(triplets, distances, floor, distance == "sqeuclidean", 1e-6),
                            rtol=tolerance)

    @parameterized.product(dtype=[np.float32, np.float64])
    def test_dense_form_matches_numpy(self, dtype):
        rng = np.random.default_rng(2)
        embeddings = rng.normal(size=(7, 4)).astype(dtype)
        distances = np.r_[0.0, rng.choice([0.0, 0.5, 0.8, 1.0], size=6)]
        loss = LogRatioLoss(0.1, dense=True, dtype=np.dtype(dtype).name)
        self.assertAllClose(loss(distances, embeddings), ref_dense(embeddings, distances, 0.1, 1e-6),
                            rtol=1e-4 if dtype == np.float32 else 1e-10)

    def test_zero_label_distances_and_identical_embeddings_stay_finite(self):
        same = tf.Variable(np.ones((4, 3, 2), np.float32))  # anchor = positive = negative
        with tf.GradientTape() as tape:
            value = LogRatioLoss()(np.zeros((4, 2)), same)
        self.assertTrue(np.isfinite(value.numpy()))
        self.assertTrue(np.isfinite(tape.gradient(value, same).numpy()).all())
        # a floor of 0.1 keeps log ratios of identical sets (distance 0) at log(0.1 / d): bounded
        self.assertAllClose(LogRatioLoss(0.1, epsilon=0.0)(np.array([[0.0, 1.0]]), np.array([[[0.0], [0.1], [1.0]]], np.float32)), 0.0,
                            atol=1e-10)
        with self.assertRaisesRegex(ValueError, "label_floor must be positive"):
            LogRatioLoss(0.0)
        with self.assertRaisesRegex(ValueError, "distance 'euclidean' or 'sqeuclidean'"):
            LogRatioLoss(distance="cosine")


def test_quick_poster_study(tmp_path):
    from tfml.workflows import poster_embeddings as study

    data = shared_file("ml100k-posters")
    config = study.Config.quick_mode(data=str(data), run_dir=str(tmp_path / "run"), epochs=1, triplet_batches=12, bootstrap=200,
                                     backbone="none")
    run_dir = study.run(config)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in ("log-ratio", "binary triplet", "untrained network", "colour histogram", "random ranking"):
        assert 0 < metrics[f"{name}/nDCG@10"] < 1 and metrics[f"{name}/95% low"] <= metrics[f"{name}/nDCG@10"] <= metrics[f"{name}/95% high"]
    for name in ("genre_frequency", "genre_cooccurrence", "triplet_examples", "log_ratio_scatter", "validation_triplets",
                 "label_distance_at_k", "neighbours_log-ratio", "tsne_by_genre"):
        assert (run_dir / "figures" / f"{name}.png").stat().st_size > 5000, name
    projector = run_dir / "tensorboard" / "projector" / "test_posters"
    lines = (projector / "metadata.tsv").read_text().splitlines()
    test_movies = json.loads((run_dir / "config.json").read_text())["test"]
    assert lines[0] == "title\tgenres" and len(lines) == 1 + test_movies
    assert "sprite.png" in (projector / "projector_config.pbtxt").read_text()
    log = (run_dir / "runs" / "log-ratio" / "training_log.csv").read_text()
    assert "val_ndcg_at_10" in log.splitlines()[0]
