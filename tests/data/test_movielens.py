"""MovieLens loading (ml-latest and ML-100K formats), title resolution and bad input."""

import logging

import pytest
from absl.testing import parameterized

from tests.helpers import TestCase, shared_file
from tfml.data.movielens import load_movielens, resolve_title, title_key


def write_latest(folder, ratings: str, movies: str = None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + ratings)
    (folder / "movies.csv").write_text(
        movies
        or (
            "movieId,title,genres\n1,Toy Story (1995),Animation\n"
            '2,"American President, The (1995)",Comedy\n3,Amélie (2001),Romance\n'
        )
    )


class MovieLensTest(parameterized.TestCase, TestCase):
    """load_movielens and resolve_title."""

    def test_embedded_ml_latest_small(self):
        data = load_movielens("small")
        assert len(data.ratings) == 100_836 and data.ratings["user"].nunique() == 610 and len(data.movies) == 9_742
        assert data.dropped_out_of_range == 0 and data.dropped_duplicates == 0
        for query, title in [
            ("Apollo 13", "Apollo 13 (1995)"),
            ("toy story", "Toy Story (1995)"),
            ("HOME ALONE (1990)", "Home Alone (1990)"),
        ]:
            assert data.movies["title"][resolve_title(data.movies, query)] == title

    def test_titles_with_commas_and_accents(self):
        tmp_path = self.tmp_path
        write_latest(tmp_path, "1,1,4.0,0\n1,2,4.0,0\n1,3,5.0,0\n")
        movies = load_movielens(tmp_path).movies
        assert movies["title"][2] == "American President, The (1995)"
        assert resolve_title(movies, "The American President") == 2
        assert resolve_title(movies, "american president, the (1995)") == 2
        assert resolve_title(movies, "Amelie") == 3 and resolve_title(movies, "AMÉLIE") == 3
        assert title_key("Léon: The Professional (a.k.a. The Professional) (Léon) (1994)") == "leon the professional"

    def test_unknown_and_ambiguous_titles_list_candidates(self):
        movies = load_movielens("small").movies
        with pytest.raises(KeyError, match=r"no movie titled 'Toy Stroy'; closest: Toy Story \(1995\)"):
            resolve_title(movies, "Toy Stroy")
        with pytest.raises(KeyError, match=r"'Hamlet' is ambiguous; add the year: .*Hamlet \(1996\)"):
            resolve_title(movies, "Hamlet")
        assert movies["title"][resolve_title(movies, "Hamlet (1996)")] == "Hamlet (1996)"
        with pytest.raises(KeyError, match="empty movie title"):
            resolve_title(movies, "  ")

    def test_out_of_range_ratings_are_dropped_and_counted(self):
        tmp_path = self.tmp_path
        caplog = self.caplog
        write_latest(tmp_path, "1,1,4.0,0\n1,2,7.0,0\n2,1,0.0,0\n2,2,0.5,0\n")
        with caplog.at_level(logging.WARNING):
            data = load_movielens(tmp_path)
        assert data.dropped_out_of_range == 2 and len(data.ratings) == 2
        assert "dropped 2 rating(s) outside [0.5, 5]" in caplog.text

    def test_duplicate_user_movie_rows_keep_the_last(self):
        tmp_path = self.tmp_path
        caplog = self.caplog
        write_latest(tmp_path, "1,1,2.0,0\n1,2,4.0,0\n1,1,5.0,9\n")
        with caplog.at_level(logging.WARNING):
            data = load_movielens(tmp_path)
        assert data.dropped_duplicates == 1 and "1 repeated (user, movie) row(s)" in caplog.text
        assert data.ratings.set_index("movie")["rating"][1] == 5.0

    def test_a_movie_id_listed_twice_is_a_warning_naming_the_lines(self):
        write_latest(
            self.tmp_path, "1,1,4.0,0\n", "movieId,title,genres\n1,Toy Story (1995),A\n2,Heat (1995),B\n1,Toy Story,A\n"
        )
        with self.caplog.at_level(logging.WARNING):
            data = load_movielens(self.tmp_path)
        self.assertIn(
            "movies.csv: 1 movie id(s) listed more than once (movie 1 on lines 2, 4); kept the first", self.caplog.text
        )
        self.assertEqual(data.movies.loc[1, "title"], "Toy Story (1995)")

    @parameterized.parameters(
        ("1,2,4.0,0,extra\n", "malformed row"),
        ("1,2\n", r"line 3: expected the fields"),
        ("1,2,four,0\n", r"line 3: rating 'four' is not a number"),
    )
    def test_malformed_rows_name_the_file_and_line(self, bad_row, message):
        tmp_path = self.tmp_path
        write_latest(tmp_path, "1,1,4.0,0\n" + bad_row)
        with pytest.raises(ValueError, match=message) as error:
            load_movielens(tmp_path)
        assert "ratings.csv" in str(error.value)

    def test_ratings_of_unlisted_movies_and_missing_sources(self):
        tmp_path = self.tmp_path
        write_latest(tmp_path / "a", "1,99,4.0,0\n")
        with pytest.raises(ValueError, match="missing from the movie list, e.g. movie 99"):
            load_movielens(tmp_path / "a")
        with pytest.raises(FileNotFoundError, match="is not a folder"):
            load_movielens(tmp_path / "nowhere")
        (tmp_path / "empty").mkdir()
        with pytest.raises(FileNotFoundError, match="neither ratings.csv"):
            load_movielens(tmp_path / "empty")

    def test_ml100k_reader(self):
        tmp_path = self.tmp_path
        (tmp_path / "u.data").write_text("1\t1\t5\t881250949\n2\t1\t4\t881250950\n2\t2\t3\t881250951\n")
        genres = "|".join("0" * 19)
        (tmp_path / "u.item").write_bytes(
            f"1|Toy Story (1995)|01-Jan-1995||http://x|{genres}\n"
            f"2|Misérables, Les (1995)|01-Jan-1995||http://y|{genres}\n".encode("latin-1")
        )
        data = load_movielens(tmp_path)
        assert data.ratings["rating"].tolist() == [5.0, 4.0, 3.0]
        assert resolve_title(data.movies, "les miserables") == 2

    def test_real_ml100k(self):
        folder = shared_file("ml100k-posters/ml-100k")
        data = load_movielens(folder)
        assert len(data.ratings) == 100_000 and len(data.movies) == 1_682
        assert data.movies["title"][resolve_title(data.movies, "Apollo 13")] == "Apollo 13 (1995)"
