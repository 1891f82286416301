"""MovieLens ratings and movie titles, in the ``ml-latest`` and the ML-100K formats.

Sources (``--data``):
- ``"small"``: ``ml-latest-small`` embedded in the package (``tfml/embedded/ml-latest-small``, with its
  README.txt: research use with citation, no commercial use).
- a folder with ``ratings.csv`` and ``movies.csv`` (``ml-latest*``: ``userId,movieId,rating,timestamp``
  and ``movieId,title,genres``, titles quoted when they hold commas).
- a folder with ``u.data`` and ``u.item`` (ML-100K: tab-separated ``user item rating timestamp``;
  ``|``-separated items in Latin-1, title in the second field).

What is checked (documented behaviour):
- a malformed row (wrong number of fields, a missing or non-numeric value) is an error naming the
  file and its line;
- a rating outside [0.5, 5] is dropped, counted and logged;
- a repeated (user, movie) pair keeps its last row in file order, the others are counted and logged;
- a rating of a movie that is not in the movie list is an error naming the movie.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import logging
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

from tfml import paths
from tfml.io import read_text

log = logging.getLogger(__name__)

SMALL_FOLDER = "ml-latest-small"
RATING_RANGE = (0.5, 5.0)
RATING_FIELDS = ["user", "movie", "rating", "timestamp"]


@dataclasses.dataclass
class MovieLens:
    ratings: pd.DataFrame  # columns user, movie, rating (float), one row per (user, movie)
    movies: pd.DataFrame  # columns movie, title; index = movie id
    source: str
    dropped_out_of_range: int = 0
    dropped_duplicates: int = 0


def _read_table(path: Path, names: list[str], required: list[str], numeric: list[str], **read_options) -> pd.DataFrame:
    """Reads a delimited file whose rows have exactly len(names) fields, the ``required`` ones non-empty and
    the ``numeric`` ones numbers."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    encoding = read_options.pop("encoding", None)
    try:
        table = pd.read_csv(
            io.StringIO(read_text(path, encoding)), names=names, dtype=str, keep_default_na=False, **read_options
        )
    except pd.errors.ParserError as error:
        raise ValueError(f"{path}: malformed row ({error})") from None
    header_lines = 1 if read_options.get("header", None) == 0 else 0
    empty = (table[required].isna() | (table[required] == "")).any(axis=1)
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise ValueError(
            f"{path}, line {row + 1 + header_lines}: expected the fields {', '.join(names)} "
            f"with {', '.join(required)} filled, got {table.iloc[row].dropna().tolist()}"
        )
    for column in numeric:
        values = pd.to_numeric(table[column], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise ValueError(
                f"{path}, line {row + 1 + header_lines}: {column} {table[column].iloc[row]!r} is not a number"
            )
        table[column] = values
    return table


def _clean_ratings(ratings: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, int, int]:
    low, high = RATING_RANGE
    in_range = ratings["rating"].between(low, high)
    out_of_range = int((~in_range).sum())
    if out_of_range:
        first = int(np.flatnonzero(~in_range.to_numpy())[0])
        log.warning(
            "%s: dropped %d rating(s) outside [%g, %g] (first: row %d, rating %g)",
            path,
            out_of_range,
            low,
            high,
            first + 1,
            ratings["rating"].iloc[first],
        )
    ratings = ratings[in_range]
    repeated = ratings.duplicated(["user", "movie"], keep="last")
    duplicates = int(repeated.sum())
    if duplicates:
        log.warning("%s: %d repeated (user, movie) row(s); kept the last of each", path, duplicates)
    ratings = ratings[~repeated]
    ratings = ratings.astype({"user": np.int64, "movie": np.int64, "rating": np.float32}).reset_index(drop=True)
    return ratings[["user", "movie", "rating"]], out_of_range, duplicates


def _unique_movies(movies: pd.DataFrame, path: Path, header_lines: int) -> pd.DataFrame:
    """One row per movie id (the first), indexed by it; a repeated id is a warning naming its lines."""
    repeated = movies["movie"].duplicated(keep=False)
    if repeated.any():
        first = movies["movie"][repeated].iloc[0]
        lines = (np.flatnonzero((movies["movie"] == first).to_numpy()) + 1 + header_lines).tolist()
        log.warning(
            "%s: %d movie id(s) listed more than once (movie %d on lines %s); kept the first row of each",
            path,
            movies["movie"][repeated].nunique(),
            first,
            ", ".join(map(str, lines)),
        )
    return movies.drop_duplicates("movie").set_index("movie", drop=False)[["movie", "title"]]


def load_movielens(source: str | Path = "small") -> MovieLens:
    """Ratings and titles from a named source (see the module docstring)."""
    folder = paths.embedded_dir() / SMALL_FOLDER if str(source) == "small" else Path(source)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"MovieLens source {source!r}: {folder} is not a folder (use 'small' for the embedded ml-latest-small, or "
            "a folder with ratings.csv + movies.csv or u.data + u.item)"
        )
    if (folder / "ratings.csv").exists():
        ratings_path = folder / "ratings.csv"
        ratings = _read_table(ratings_path, RATING_FIELDS, RATING_FIELDS, ["user", "movie", "rating"], header=0)
        movies_path = folder / "movies.csv"
        movies = _read_table(movies_path, ["movie", "title", "genres"], ["movie", "title"], ["movie"], header=0)
    elif (folder / "u.data").exists():
        ratings_path = folder / "u.data"
        ratings = _read_table(
            ratings_path, RATING_FIELDS, RATING_FIELDS, ["user", "movie", "rating"], sep="\t", header=None
        )
        item_fields = ["movie", "title", *(f"field{i}" for i in range(2, 24))]  # 5 descriptive fields + 19 genre flags
        movies_path = folder / "u.item"
        movies = _read_table(
            movies_path,
            item_fields,
            ["movie", "title"],
            ["movie"],
            sep="|",
            header=None,
            encoding="latin-1",
            quoting=csv.QUOTE_NONE,
        )
    else:
        raise FileNotFoundError(
            f"{folder} holds neither ratings.csv + movies.csv (ml-latest) nor u.data + u.item (ML-100K)"
        )
    movies = _unique_movies(movies.astype({"movie": np.int64}), movies_path, int(movies_path.suffix == ".csv"))
    ratings, out_of_range, duplicates = _clean_ratings(ratings, ratings_path)
    unknown = ~ratings["movie"].isin(movies.index)
    if unknown.any():
        raise ValueError(
            f"{ratings_path}: {int(unknown.sum())} rating(s) of movies missing from the movie list, "
            f"e.g. movie {int(ratings['movie'][unknown].iloc[0])}"
        )
    log.info(
        "MovieLens source: %s (%d ratings, %d users, %d movies)",
        folder,
        len(ratings),
        ratings["user"].nunique(),
        len(movies),
    )
    return MovieLens(ratings, movies, str(folder.resolve()), out_of_range, duplicates)


_ARTICLES = "the|a|an|les|le|la|l'|il|el|der|die|das|los|las|lo|un|une"
_TRAILING_ARTICLE = re.compile(rf",\s*(?:{_ARTICLES})$")
_LEADING_ARTICLE = re.compile(rf"^(?:{_ARTICLES})\b\s*")


def title_key(title: str) -> str:
    """Comparison key: accents folded, lower case, the year and alternative titles in trailing
    parentheses dropped, a leading or trailing article dropped, punctuation removed:
    "American President, The (1995)" and "the American President" -> "american president"."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower().strip()
    previous = None
    while previous != text:  # "Leon: The Professional (a.k.a. The Professional) (Leon) (1994)"
        previous, text = text, re.sub(r"\s*\([^()]*\)$", "", text).strip()
    text = _LEADING_ARTICLE.sub("", _TRAILING_ARTICLE.sub("", text))
    return " ".join(re.sub(r"[^\w\s]", " ", text).split()) or " ".join(re.sub(r"[^\w\s]", " ", previous).split())


def _year(title: str) -> str | None:
    match = re.search(r"\((\d{4})\)\s*$", title)
    return match.group(1) if match else None


def resolve_title(movies: pd.DataFrame, query: str, candidates: int = 5) -> int:
    """The movie id of ``query``: a title compared by ``title_key`` (case- and accent-insensitive,
    "The X" = "X, The"), with the year optional ("Toy Story" or "toy story (1995)").

    An unknown title, or one that names several movies (e.g. remakes; add the year), is a KeyError
    listing the closest titles.
    """
    if not query or not query.strip():
        raise KeyError("empty movie title")
    keys = movies["title"].map(title_key)
    wanted, year = title_key(query), _year(query.strip())
    found = movies[(keys == wanted).to_numpy()]
    if year is not None:
        found = found[found["title"].map(_year) == year]
    if len(found) == 1:
        return int(found["movie"].iloc[0])
    if len(found) > 1:
        raise KeyError(f"{query!r} is ambiguous; add the year: {'; '.join(found['title'])}")
    close = difflib.get_close_matches(wanted, keys.unique().tolist(), n=candidates, cutoff=0.5)
    titles = [title for key in close for title in movies["title"][(keys == key).to_numpy()]][:candidates]
    raise KeyError(f"no movie titled {query!r}; closest: {'; '.join(titles) if titles else 'none'}")
