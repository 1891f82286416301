"""Movies with a poster, a plot synopsis and genres: one loader for the poster and alignment studies.

Layouts (``source`` is a folder):

- ML-100K posters (``../shared/data/ml100k-posters``): ``items.csv`` (movie_id, title, 19 genre flags
  genre_unknown .. Western, year, overview, ...), ``posters/<movie_id>.jpg``, optional ``train.txt``.
- MM-IMDB: ``dataset/<id>.jpeg`` with ``dataset/<id>.json`` ({"title", "year", "genres": [...],
  "plot": [...]}; the first plot is the synopsis), optional ``train.txt``.
- plain: ``posters/<id>.<jpg|jpeg|png>`` and ``movies.csv`` with columns id, title, genres
  (pipe-separated names), overview; optional year column and ``train.txt``.

What is kept, and what is dropped and counted by reason (in one warning and in ``Movies.dropped``):
a repeated id keeps its first row ("duplicate id"); a movie without a poster file ("no poster"), with
a poster that cannot be decoded ("unreadable poster", e.g. zero bytes), with an empty or
whitespace-only synopsis ("empty overview", when ``need_overview``) or without a genre ("no genre",
when ``need_genres``; ML-100K's "unknown" flag is not a genre) is dropped. Grayscale, palette and
RGBA posters are converted to RGB; every poster is resized to ``image_size`` (PIL bilinear).
Byte-identical poster files of different ids (ML-100K lists some films twice) are kept and listed
in ``Movies.identical_posters``: each is a movie of its own in the data, so the prescribed counts
hold; a study says what they mean for its figures.

Missing columns, an unknown layout, and a ``train.txt`` id that names no movie are errors naming
the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from tfml.data.images import decode_image
from tfml.io import read_text

log = logging.getLogger(__name__)

ML100K_GENRES = [
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "FilmNoir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "SciFi",
    "Thriller",
    "War",
    "Western",
]
REASONS = ("duplicate id", "no poster", "unreadable poster", "empty overview", "no genre")


@dataclasses.dataclass
class Movies:
    ids: list[str]
    titles: list[str]
    years: np.ndarray  # float, NaN when unknown
    posters: np.ndarray  # uint8 (N, H, W, 3)
    overviews: list[str]
    genres: np.ndarray  # uint8 multi-hot (N, G)
    genre_names: list[str]
    train_ids: list[str] | None  # the ids of train.txt, or None
    source: str
    dropped: dict[str, int]  # reason -> movies
    identical_posters: list[tuple[str, str]]  # (id, the earlier id whose poster file has the same bytes)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows) -> Movies:
        rows = np.asarray(rows)
        return dataclasses.replace(
            self,
            ids=[self.ids[i] for i in rows],
            titles=[self.titles[i] for i in rows],
            years=self.years[rows],
            posters=self.posters[rows],
            overviews=[self.overviews[i] for i in rows],
            genres=self.genres[rows],
        )

    def genre_list(self, row: int) -> list[str]:
        return [name for name, flag in zip(self.genre_names, self.genres[row]) if flag]


def _year(title: str) -> float:
    match = re.search(r"\((\d{4})\)\s*$", title)
    return float(match.group(1)) if match else np.nan


def _require(frame: pd.DataFrame, columns, path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (has {', '.join(map(str, frame.columns))})")


def _ml100k(folder: Path) -> tuple[list[dict], list[str]]:
    path = folder / "items.csv"
    frame = pd.read_csv(io.StringIO(read_text(path)), dtype={"movie_id": str}, keep_default_na=False)
    _require(frame, ["movie_id", "title", "overview", *ML100K_GENRES], path)
    rows = []
    for record in frame.to_dict("records"):
        year = pd.to_numeric(record.get("year", ""), errors="coerce")
        rows.append(
            {
                "id": str(record["movie_id"]).strip(),
                "title": record["title"],
                "overview": str(record["overview"]),
                "genres": [g for g in ML100K_GENRES if str(record[g]).strip() in ("1", "1.0")],
                "year": float(year) if pd.notna(year) else _year(record["title"]),
                "poster": folder / "posters" / f"{record['movie_id']}.jpg",
            }
        )
    return rows, ML100K_GENRES


def _mmimdb(folder: Path) -> tuple[list[dict], list[str]]:
    rows = []
    for path in sorted((folder / "dataset").glob("*.json")):
        try:
            record = json.loads(read_text(path))
        except ValueError as error:
            raise ValueError(f"{path}: not readable JSON ({error})") from None
        missing = [key for key in ("genres", "plot") if key not in record]
        if missing:
            raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
        plots = record["plot"] if isinstance(record["plot"], list) else [record["plot"]]
        title = str(record.get("title", path.stem))
        rows.append(
            {
                "id": path.stem,
                "title": title,
                "overview": str(plots[0]) if plots else "",
                "genres": list(record["genres"]),
                "year": float(record["year"]) if str(record.get("year", "")).isdigit() else _year(title),
                "poster": path.with_suffix(".jpeg"),
            }
        )
    return rows, sorted({g for row in rows for g in row["genres"]})


def _plain(folder: Path) -> tuple[list[dict], list[str]]:
    path = folder / "movies.csv"
    try:
        frame = pd.read_csv(io.StringIO(read_text(path)), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as error:
        raise ValueError(f"{path}: malformed row ({error})") from None
    _require(frame, ["id", "title", "genres", "overview"], path)
    posters = {p.stem: p for p in (folder / "posters").glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")}
    rows = [
        {
            "id": r["id"].strip(),
            "title": r["title"],
            "overview": r["overview"],
            "genres": [g.strip() for g in r["genres"].split("|") if g.strip()],
            "year": float(r["year"]) if r.get("year", "").strip().isdigit() else _year(r["title"]),
            "poster": posters.get(r["id"].strip(), folder / "posters" / f"{r['id'].strip()}.jpg"),
        }
        for r in frame.to_dict("records")
    ]
    return rows, sorted({g for row in rows for g in row["genres"]})


def layout_of(folder: Path) -> str:
    if (folder / "items.csv").is_file():
        return "ml100k"
    if (folder / "dataset").is_dir():
        return "mmimdb"
    if (folder / "movies.csv").is_file():
        return "plain"
    raise ValueError(
        f"{folder} has no known movie layout: items.csv + posters/ (ML-100K posters), dataset/<id>.json + .jpeg "
        "(MM-IMDB), or movies.csv + posters/ (plain)"
    )


def load_movies(
    source: str | Path, image_size: tuple[int, int] = (112, 80), need_overview: bool = True, need_genres: bool = True
) -> Movies:
    """Movies of ``source`` (see the module docstring), posters as uint8 (H, W, 3) of ``image_size``."""
    folder = Path(source)
    if not folder.is_dir():
        raise FileNotFoundError(f"movie data {folder} is not a folder (e.g. ../shared/data/ml100k-posters)")
    layout = layout_of(folder)
    rows, genre_names = {"ml100k": _ml100k, "mmimdb": _mmimdb, "plain": _plain}[layout](folder)
    dropped = {reason: 0 for reason in REASONS}
    examples: dict[str, list[str]] = {reason: [] for reason in REASONS}
    seen, kept, images, digests, identical = set(), [], [], {}, []

    def drop(reason, movie_id):
        dropped[reason] += 1
        examples[reason].append(movie_id)

    for row in rows:
        if row["id"] in seen:
            drop("duplicate id", row["id"])
            continue
        seen.add(row["id"])
        if not row["poster"].is_file():
            drop("no poster", row["id"])
            continue
        data = row["poster"].read_bytes()
        try:
            image = decode_image(data, image_size)
        except ValueError:
            drop("unreadable poster", row["id"])
            continue
        if need_overview and not row["overview"].strip():
            drop("empty overview", row["id"])
            continue
        genres = [g for g in row["genres"] if g in genre_names]
        if need_genres and not genres:
            drop("no genre", row["id"])
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in digests:
            identical.append((row["id"], digests[digest]))
        else:
            digests[digest] = row["id"]
        kept.append({**row, "genres": genres, "overview": " ".join(row["overview"].split())})
        images.append(image)
    if not kept:
        raise ValueError(f"{folder}: no movie is left ({', '.join(f'{k}: {v}' for k, v in dropped.items() if v)})")
    if any(dropped.values()):
        message = f"{folder}: dropped " + "; ".join(
            f"{count} ({reason}, e.g. {', '.join(examples[reason][:3])})" for reason, count in dropped.items() if count
        )
        log.warning(message)
        warnings.warn(message, stacklevel=2)
    multi_hot = np.array([[name in row["genres"] for name in genre_names] for row in kept], np.uint8)
    train_ids = _train_ids(folder, {row["id"] for row in kept}, seen)
    return Movies(
        [row["id"] for row in kept],
        [row["title"] for row in kept],
        np.array([row["year"] for row in kept], float),
        np.stack(images),
        [row["overview"] for row in kept],
        multi_hot,
        genre_names,
        train_ids,
        str(folder.resolve()),
        dropped,
        identical,
    )


def _train_ids(folder: Path, kept: set[str], known: set[str]) -> list[str] | None:
    """The ids of train.txt that are kept; an id that names no movie is an error, an empty file too."""
    path = folder / "train.txt"
    if not path.exists():
        return None
    ids = [line.strip() for line in read_text(path).splitlines() if line.strip()]
    if not ids:
        raise ValueError(f"{path} is empty: list one training movie id per line, or remove the file")
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValueError(f"{path}: {len(unknown)} id(s) name no movie of the data, e.g. {', '.join(unknown[:3])}")
    return [i for i in ids if i in kept]


def split_movies(
    movies: Movies, validation_share: float = 1 / 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) row indices: the train.txt movies train; the others are split, seeded,
    into validation (``validation_share`` of them) and test."""
    if movies.train_ids is None:
        raise ValueError(f"{movies.source} has no train.txt: the studies train on the movies it lists")
    train_set = set(movies.train_ids)
    train = np.array([i for i, movie_id in enumerate(movies.ids) if movie_id in train_set], np.int64)
    others = np.array([i for i, movie_id in enumerate(movies.ids) if movie_id not in train_set], np.int64)
    permuted = np.random.default_rng(seed).permutation(others)
    cut = int(round(validation_share * len(others)))
    return train, np.sort(permuted[:cut]), np.sort(permuted[cut:])
