"""The movie loader: three layouts, every dropped movie counted by reason, clear errors."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import TestCase, shared_file
from tfml.data.posters import load_movies, split_movies


def poster(path, size=(20, 28), mode="RGB", colour=(200, 40, 40)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour if mode == "RGB" else 128).save(path)


def make_plain(root):
    folder = root / "plain"
    rows = [
        ("a1", "Alpha (1990)", "Comedy|Drama", "A clown and a judge."),
        ("a2", "Beta", "Drama", "Two sisters."),
        ("a3", "Gamma", "Horror|Comedy", "   "),  # empty overview
        ("a4", "Delta", "", "A quiet film."),  # no genre
        ("a5", "Epsilon", "Action", "Cars."),  # no poster
        ("a6", "Zeta", "Action|Drama", "Trains."),  # zero-byte poster
        ("a1", "Alpha again", "Drama", "Duplicate id."),
        ("a7", "Eta", "Comedy", "A grey poster."),
        ("a8", "Theta", "Comedy", "A see-through poster."),
    ]
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


class LoadMoviesTest(TestCase):
    """load_movies and split_movies."""

    def setUp(self):
        super().setUp()
        self.plain = make_plain(Path(self.get_temp_dir()))

    def test_plain_layout_counts_every_dropped_movie_by_reason(self):
        plain = self.plain
        with pytest.warns(
            UserWarning,
            match="dropped 1 \\(duplicate id.*1 \\(no poster.*1 \\(unreadable poster.*1 \\(empty overview"
            ".*1 \\(no genre",
        ):
            movies = load_movies(plain, (16, 12))
        assert movies.ids == ["a1", "a2", "a7", "a8"] and movies.titles[0] == "Alpha (1990)" and movies.years[0] == 1990
        assert movies.dropped == {
            "duplicate id": 1,
            "no poster": 1,
            "unreadable poster": 1,
            "empty overview": 1,
            "no genre": 1,
        }
        assert (
            movies.posters.shape == (4, 16, 12, 3) and movies.posters.dtype == np.uint8
        )  # grey and RGBA converted to RGB
        assert movies.genre_list(0) == ["Comedy", "Drama"] and movies.train_ids == ["a1", "a7"]
        assert ("a2", "a1") in movies.identical_posters  # same colour, same bytes: listed, kept
        without_text = load_movies(plain, (16, 12), need_overview=False, need_genres=False)
        assert "a3" in without_text.ids and "a4" in without_text.ids

    def test_mmimdb_layout(self):
        tmp_path = self.tmp_path
        folder = tmp_path / "mmimdb" / "dataset"
        for i, (genres, plot) in enumerate(
            [(["Drama"], ["A long road."]), (["Comedy", "Romance"], ["Love.", "Another plot."]), (["Drama"], [""])]
        ):
            poster(folder / f"00{i}.jpeg", colour=(i * 60, 20, 20))
            (folder / f"00{i}.json").write_text(
                json.dumps({"title": f"Movie {i}", "year": 2001 + i, "genres": genres, "plot": plot})
            )
        with pytest.warns(UserWarning, match="empty overview"):
            movies = load_movies(tmp_path / "mmimdb", (8, 8))
        assert (
            movies.ids == ["000", "001"]
            and movies.overviews[1] == "Love."
            and movies.genre_names == ["Comedy", "Drama", "Romance"]
        )
        assert (
            movies.genres.tolist() == [[0, 1, 0], [1, 0, 1]]
            and movies.years.tolist() == [2001, 2002]
            and movies.train_ids is None
        )

    def test_bad_sources_are_clear_errors(self):
        tmp_path = self.tmp_path
        plain = self.plain
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

    def test_ml100k_posters_facts(self):
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
        assert (
            len(train) == 991 and len(validation) + len(test) == 661 and abs(len(validation) - 220) <= 1
        )  # a train.txt movie has no genre
        assert not set(train) & set(validation) and not set(validation) & set(test)
