"""The ``tfml`` commands other than ``train``: each a configuration dataclass (its fields are the
command's options, see ``tfml.config.option``) and a function that runs it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tfml.config import Checked, option
from tfml.losses.distances import ALIASES, DISTANCES


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    config: type | None = None
    run: Callable | None = None
    description: str = ""
    children: tuple = ()


def _output(path: str, overwrite: bool, suffixes: tuple[str, ...]) -> Path:
    """An output file the user named: the right suffix, and never replaced unless --overwrite."""
    path = Path(path)
    if not path.name.lower().endswith(suffixes):
        raise ValueError(f"{path}: the output must end with {' or '.join(suffixes)}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it, or name another file")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; name a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


# --- encode ---------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class EncodeConfig(Checked):
    model: str = option(help="image encoder: .h5 file or zoo name (e.g. cifar10-encoder)", metavar="MODEL")
    data: str = option(help="'cifar10', 'sample', or a class-folder tree / .tar.gz of images", metavar="SRC")
    output: str = option(
        help="the codes file to write (.npz), or with --runner beam the shard directory",
        flag=("-o", "--output"),
        metavar="PATH",
    )
    seed: int = option(0, "seed of the folder order")
    batch_size: int = option(512, "images per prediction batch", low=1)
    runner: str = option(
        "local",
        "local (in this process) or beam (Apache Beam's DirectRunner; the beam extra)",
        choices=("local", "beam"),
    )
    shards: int = option(4, "with --runner beam: shard files written", low=1)
    overwrite: bool = option(False, "replace the output file if it exists")


def encode(config: EncodeConfig) -> None:
    from tfml import zoo
    from tfml.data import load_labelled_images
    from tfml.retrieval import Codes, save_codes

    model, record = zoo.load_model(config.model)
    zoo.require_kind(model, "image-encoder", config.model)
    if config.runner == "beam":
        from tfml.retrieval.batch_embedding import encode_with_beam

        output = Path(config.output)
        if output.exists() and any(output.iterdir()) and not config.overwrite:
            raise FileExistsError(f"{output} exists and is not empty; pass --overwrite, or name a new directory")
        data = load_labelled_images(config.data, tuple(model.input_shape[1:3]), seed=config.seed, progress=True)
        encode_with_beam(
            record["file"],
            data.images,
            output,
            config.shards,
            ids=data.ids,
            labels=data.labels,
            class_names=data.class_names,
            source=config.data,
            encoder=record,
            batch_size=config.batch_size,
        )
        print(f"{len(data.images):,} codes from {config.data} -> {output} ({config.shards} shards, Apache Beam)")
        return
    output = _output(config.output, config.overwrite, (".npz",))
    data = load_labelled_images(config.data, tuple(model.input_shape[1:3]), seed=config.seed, progress=True)
    codes = model.predict(data.images, batch_size=config.batch_size, verbose=0)
    save_codes(output, Codes(codes, data.labels, data.ids, data.class_names, config.data, record))
    print(f"{len(codes):,} codes of dimension {codes.shape[1]} from {config.data} -> {output}")


# --- retrieve -------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class RetrieveConfig(Checked):
    images: tuple[str, ...] = option(help="query image files", positional=True, metavar="IMAGE")
    model: str = option(help="the image encoder that made the codes: .h5 file or zoo name", metavar="MODEL")
    base: str = option(help="codes file written by `tfml encode` or a training run (codes.npz)", metavar="CODES")
    k: int = option(10, "neighbours per query", low=1, flag=("-k",))
    distance: str = option("euclidean", "distance", choices=DISTANCES + tuple(ALIASES))
    json: str | None = option(
        None, "also write the neighbours as JSON to this file ('-': print JSON instead of the table)", metavar="FILE"
    )
    figure: str | None = option(None, "write a grid of each query and its neighbours here (.png)", metavar="FILE")
    overwrite: bool = option(False, "replace output files that exist")


def retrieve(config: RetrieveConfig) -> None:
    from tfml import zoo
    from tfml.data import load_image_files
    from tfml.retrieval import ExactIndex, load_codes

    json_path = None if config.json in (None, "-") else _output(config.json, config.overwrite, (".json",))
    figure_path = None if config.figure is None else _output(config.figure, config.overwrite, (".png",))
    model, record = zoo.load_model(config.model)
    zoo.require_kind(model, "image-encoder", config.model)
    base = load_codes(config.base)
    made_by = base.encoder
    if made_by.get("sha256") != record["sha256"]:
        raise ValueError(
            f"{config.base} was encoded by {made_by.get('model')} (sha256 {str(made_by.get('sha256'))[:12]}), not by "
            f"{config.model} (sha256 {record['sha256'][:12]}): its codes are not comparable. Re-encode with "
            f"`tfml encode --model {config.model} --data {base.source} -o ...`, or pass --model {made_by.get('model')}"
        )
    queries = load_image_files(config.images, tuple(model.input_shape[1:3]))
    distances, indices = ExactIndex(base.codes, config.distance).search(model.predict(queries, verbose=0), config.k)
    results = [
        {
            "query": str(path),
            "neighbours": [
                {
                    "rank": rank + 1,
                    "id": str(base.ids[i]),
                    "label": base.label_names([i])[0],
                    "distance": float(d),
                    "row": int(i),
                }
                for rank, (i, d) in enumerate(zip(indices[q], distances[q]))
            ],
        }
        for q, path in enumerate(config.images)
    ]
    document = {
        "distance": config.distance,
        "k": config.k,
        "base": str(config.base),
        "encoder": record["model"],
        "results": results,
    }
    if config.json == "-":
        print(json.dumps(document, indent=2))
    else:
        for result in results:
            print(f"\n{result['query']}: {config.k} nearest of {len(base.codes):,} ({config.distance} distance)")
            print(f"{'rank':>4}  {'distance':>10}  {'label':<12} image")
            for n in result["neighbours"]:
                print(f"{n['rank']:>4}  {n['distance']:>10.4f}  {n['label']:<12} {n['id']}")
    if json_path:
        json_path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"neighbours -> {json_path}")
    if figure_path:
        from tfml.data import load_labelled_images
        from tfml.viz import neighbour_grid

        images = load_labelled_images(base.source, tuple(model.input_shape[1:3]), seed=0)
        position = {image_id: i for i, image_id in enumerate(images.ids)}
        missing = [str(base.ids[i]) for i in np.unique(indices) if str(base.ids[i]) not in position]
        if missing:
            raise ValueError(
                f"{base.source} no longer holds {missing[0]} (and {len(missing) - 1} more) that {config.base} "
                "lists; re-encode it"
            )
        neighbour_images = images.images[[[position[str(base.ids[i])] for i in row] for row in indices]]
        neighbour_grid(
            queries,
            neighbour_images,
            figure_path,
            None,
            [base.label_names(row) for row in indices],
            distances,
            f"{config.distance} distance, {config.k} nearest",
            query_titles=[Path(p).name for p in config.images],
        )
        print(f"figure -> {figure_path}")


# --- project --------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class ProjectConfig(Checked):
    codes: str = option(help="codes file (.npz) from `tfml encode` or a training run", positional=True, metavar="CODES")
    method: str = option("umap", "projection", choices=("umap", "tsne", "pca"))
    seed: int = option(0, "seed of the projection")
    output: str = option(help="the figure to write (.png)", flag=("-o", "--output"), metavar="FILE")
    overwrite: bool = option(False, "replace the output file if it exists")


def project(config: ProjectConfig) -> None:
    from tfml.retrieval import load_codes
    from tfml.viz import project_2d, scatter_2d

    output = _output(config.output, config.overwrite, (".png",))
    codes = load_codes(config.codes)
    points = project_2d(codes.codes, config.method, seed=config.seed)
    scatter_2d(
        points,
        codes.label_names(slice(None)),
        output,
        f"{config.method.upper()} of {len(points):,} codes",
        class_order=codes.class_names,
    )
    print(f"figure -> {output}")


# --- distort --------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class DistortConfig(Checked):
    images: tuple[str, ...] = option(help="image files", positional=True, metavar="IMAGE")
    kind: str = option(help="distortion", choices=("noise", "projective"))
    strength: tuple[float, ...] = option(
        (0.1, 0.2, 0.3), "noise standard deviation, or largest corner shift as a share of the size", low=0, high=1
    )
    seed: int = option(0, "seed of the random draws")
    size: tuple[int, int] | None = option(
        None, "resize to H W first (needed when sizes differ)", low=1, metavar=("H", "W")
    )
    output: str = option(
        help="figure (.png): the originals over each strength", flag=("-o", "--output"), metavar="FILE"
    )
    save_dir: str | None = option(None, "also write each distorted image here (PNG)", metavar="DIR")
    overwrite: bool = option(False, "replace output files that exist")


def distort(config: DistortConfig) -> None:
    from PIL import Image

    from tfml.data import load_image_files
    from tfml.pipelines.distortions import distort_batch
    from tfml.viz import image_rows

    output = _output(config.output, config.overwrite, (".png",))
    images = load_image_files(config.images, tuple(config.size) if config.size else None)
    rows = [images] + [distort_batch(images, config.kind, strength, config.seed) for strength in config.strength]
    image_rows(
        rows,
        output,
        ["original"] + [f"{config.kind} {s:g}" for s in config.strength],
        [Path(p).name for p in config.images],
    )
    print(f"figure -> {output}")
    if config.save_dir:
        out = Path(config.save_dir)
        out.mkdir(parents=True, exist_ok=True)
        for strength, row in zip(config.strength, rows[1:]):
            for path, image in zip(config.images, row):
                Image.fromarray(image).save(
                    _output(str(out / f"{Path(path).stem}_{config.kind}_{strength:g}.png"), config.overwrite, (".png",))
                )
        print(f"distorted images -> {out}")


# --- recommend ------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class RecommendConfig(Checked):
    titles: tuple[str, ...] = option(
        help='movie titles, e.g. "Toy Story" or "Home Alone (1990)"', positional=True, metavar="TITLE"
    )
    model: str = option("movielens-embedding", "movie embedding: .h5 file or zoo name", metavar="MODEL")
    data: str = option(
        "small", "where the titles come from: 'small' (embedded ml-latest-small) or a MovieLens folder", metavar="SRC"
    )
    k: int = option(10, "movies per title", low=1, flag=("-k",))


def recommend(config: RecommendConfig) -> None:
    from tfml import zoo
    from tfml.data.movielens import load_movielens, resolve_title
    from tfml.retrieval import closest_movies

    model, _ = zoo.load_model(config.model)
    zoo.require_kind(model, "movie-embedding", config.model)
    movies = load_movielens(config.data).movies
    for title in config.titles:
        table = closest_movies(model, movies, title, config.k)
        found = movies["title"][resolve_title(movies, title)]
        print(
            f"\n{config.k} movies closest to {found} (cosine similarity of the embeddings, the movie itself excluded):"
        )
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


# --- evaluate -------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class EvaluateConfig(Checked):
    model: str = option(help="embedding network: .h5 file or zoo name (e.g. tt100k-embedding)", metavar="MODEL")
    data: str = option(
        "../shared/data/tt100k-crops.tar.gz",
        "TT100K crops (folder or .tar.gz with train/<code>/ and test/<code>/)",
        metavar="SRC",
    )
    min_images: int = option(20, "classes with fewer crops are dropped (the study's rule)", low=2)
    train_fraction: float = option(
        0.8, "share of each class's crops in the gallery (the study's reference split)", above=0, high=0.95
    )
    seed: int = option(0, "seed of the split (the study's default: 0)")
    pad_to_square: bool = option(False, "pad crops to a square before resizing (only for a model trained that way)")


def evaluate(config: EvaluateConfig) -> None:
    from tfml import zoo
    from tfml.data.traffic_signs import load_traffic_signs
    from tfml.retrieval import LABEL_METRICS, ExactIndex, LabelRelevance, evaluate_retrieval

    model, record = zoo.load_model(config.model)
    zoo.require_kind(model, "image-encoder", config.model)
    size = model.input_shape[1]
    data = load_traffic_signs(
        config.data,
        size,
        config.min_images,
        config.train_fraction,
        seed=config.seed,
        pad_to_square=config.pad_to_square,
        progress=True,
    )
    gallery, queries = (model.predict(images, batch_size=512, verbose=0) for images in (data.x_train, data.x_test))
    metrics = evaluate_retrieval(
        ExactIndex(gallery), queries, LabelRelevance(data.y_test, data.y_train), LABEL_METRICS
    ).metrics
    print(
        f"{config.model} on {config.data}: {len(data.class_names)} classes, {len(data.x_test):,} test images queried "
        f"against {len(data.x_train):,} training images ({size} x {size}, Euclidean)"
    )
    for name, label in (
        ("knn@1", "kNN@1"),
        ("knn@5", "kNN@5"),
        ("balanced_knn@1", "balanced kNN@1"),
        ("r_precision", "R-precision"),
        ("map@r", "MAP@R"),
    ):
        print(f"{label:>15}: {metrics[name]:.4f}")


# --- cross-modal search ---------------------------------------------------------------------------

ALIGNER = "ml100k-poster-text-aligner"


def _aligner_and_movies(model: str, data: str, query_image: str | None = None):
    """The aligner, the query image read at its poster size (if one is given), and the movies."""
    from tfml import zoo
    from tfml.data import load_image_files
    from tfml.data.posters import load_movies

    aligner = zoo.require_kind(zoo.load_model(model)[0], "poster-text-aligner", model)
    size = tuple(aligner.get_layer("poster_tower").input_shape[1:3])
    image = None if query_image is None else load_image_files([query_image], size)
    return aligner, image, load_movies(data, size, need_overview=True, need_genres=False)


@dataclasses.dataclass(kw_only=True)
class SearchTextConfig(Checked):
    text: str = option(help='what to look for, e.g. "a boy and his toys come to life"', positional=True, metavar="TEXT")
    model: str = option(ALIGNER, "poster / synopsis aligner: .h5 file or zoo name", metavar="MODEL")
    data: str = option("../shared/data/ml100k-posters", "the movies whose posters are searched", metavar="SRC")
    k: int = option(10, "posters to list", low=1, flag=("-k",))
    figure: str | None = option(None, "also draw the posters found here (.png)", metavar="FILE")
    overwrite: bool = option(False, "replace the figure if it exists")


def search_text(config: SearchTextConfig) -> None:
    from tfml.retrieval import ExactIndex
    from tfml.viz import image_table

    if not config.text.strip():
        raise ValueError('the query text is empty: give a few words, e.g. "a boy and his toys come to life"')
    figure = None if config.figure is None else _output(config.figure, config.overwrite, (".png",))
    aligner, _, movies = _aligner_and_movies(config.model, config.data)
    posters = aligner.get_layer("poster_tower").predict(movies.posters, batch_size=256, verbose=0)
    query = aligner.get_layer("text_tower").predict(np.array([config.text], dtype=object), verbose=0)
    k = min(config.k, len(movies))
    distances, indices = ExactIndex(posters, "cosine").search(query, k)
    print(f"{k} posters closest to {config.text!r} ({len(movies):,} movies of {config.data}, cosine distance):")
    for rank, (i, d) in enumerate(zip(indices[0], distances[0]), start=1):
        print(f"{rank:>3}. {d:.3f}  {movies.titles[i]}  [{', '.join(movies.genre_list(i))}]")
    if figure:
        image_table(
            [[(movies.posters[i], f"{rank}. {movies.titles[i][:22]}") for rank, i in enumerate(indices[0], start=1)]],
            figure,
            f"posters closest to: {config.text[:80]}",
            cell=(1.2, 1.9),
        )
        print(f"figure -> {figure}")


@dataclasses.dataclass(kw_only=True)
class SearchPosterConfig(Checked):
    image: str = option(help="a poster image file", positional=True, metavar="IMAGE")
    model: str = option(ALIGNER, "poster / synopsis aligner: .h5 file or zoo name", metavar="MODEL")
    data: str = option("../shared/data/ml100k-posters", "the movies whose synopses are searched", metavar="SRC")
    k: int = option(5, "synopses to list", low=1, flag=("-k",))


def search_poster(config: SearchPosterConfig) -> None:
    import textwrap

    from tfml.retrieval import ExactIndex

    aligner, image, movies = _aligner_and_movies(config.model, config.data, config.image)
    tower = aligner.get_layer("poster_tower")
    synopses = aligner.get_layer("text_tower").predict(
        np.array(movies.overviews, dtype=object), batch_size=256, verbose=0
    )
    k = min(config.k, len(movies))
    distances, indices = ExactIndex(synopses, "cosine").search(tower.predict(image, verbose=0), k)
    print(f"{k} synopses closest to {config.image} ({len(movies):,} movies of {config.data}, cosine distance):")
    for rank, (i, d) in enumerate(zip(indices[0], distances[0]), start=1):
        print(
            f"{rank:>3}. {d:.3f}  {movies.titles[i]}: {textwrap.shorten(movies.overviews[i], 110, placeholder=' ...')}"
        )


# --- zoo ------------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class ZooListConfig(Checked):
    pass


@dataclasses.dataclass(kw_only=True)
class ZooShowConfig(Checked):
    name: str = option(help="a zoo model's name", positional=True, metavar="NAME")


@dataclasses.dataclass(kw_only=True)
class ZooAddConfig(Checked):
    name: str = option(help="name of the new zoo model", positional=True, metavar="NAME")
    model: str = option(help="the .h5 to add", metavar="FILE")
    part: str | None = option(None, "a sub-model of it to add instead, e.g. encoder", metavar="LAYER")
    run_dir: str = option(help="the run that made it (config.json, metrics.json)", metavar="DIR")
    study: str = option(help="the study that made it", metavar="STUDY")
    description: str = option(help="one line saying what the model is", metavar="TEXT")
    metrics: tuple[str, ...] | None = option(None, "keys of metrics.json to record (default all)", metavar="KEY")


def zoo_list(config: ZooListConfig) -> None:
    from tfml import zoo

    items = zoo.entries()
    if not items:
        print(f"the zoo ({zoo.folder()}) is empty")
    for item in items:
        print(f"{item['name']:<28} {item['study']:<22} {item['size_bytes'] / 2**20:6.2f} MB  {item['description']}")


def zoo_show(config: ZooShowConfig) -> None:
    from tfml import zoo

    print(json.dumps(zoo.entry(config.name), indent=2))


def zoo_add(config: ZooAddConfig) -> None:
    from tfml import zoo

    model, _ = zoo.load_model(config.model)
    if config.part:
        model = model.get_layer(config.part)
    run_dir = Path(config.run_dir)
    for name in ("metrics.json", "config.json"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"--run-dir {run_dir} has no {name}: name the run directory that made the model")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    run_config = json.loads((run_dir / "config.json").read_text())
    unknown = [key for key in (config.metrics or ()) if key not in metrics]
    if unknown:
        raise KeyError(f"{run_dir / 'metrics.json'} has no {', '.join(unknown)}")
    selected = {key: metrics[key] for key in (config.metrics or metrics)}
    item = zoo.add(
        config.name,
        model,
        study=config.study,
        data=run_config.get("data_source", ""),
        command=run_config["command"],
        metrics=selected,
        description=config.description,
    )
    print(json.dumps(item, indent=2))


COMMANDS = (
    Command("encode", "encode images with an image encoder into a codes file (.npz)", EncodeConfig, encode),
    Command(
        "retrieve",
        "nearest neighbours of query images in a codes file",
        RetrieveConfig,
        retrieve,
        "Encode the query images with the encoder that made the codes file and list each query's nearest images.",
    ),
    Command(
        "evaluate",
        "k-NN classification and retrieval figures of an embedding network on the traffic-sign test split",
        EvaluateConfig,
        evaluate,
        "Embed the TT100K crops with the model, split as the traffic-sign study does, and print kNN@1, "
        "kNN@5, balanced kNN@1, R-precision and MAP@R of the test images against the training images.",
    ),
    Command("search-text", "the posters closest to a text (poster / synopsis aligner)", SearchTextConfig, search_text),
    Command(
        "search-poster",
        "the synopses closest to a poster image (poster / synopsis aligner)",
        SearchPosterConfig,
        search_poster,
    ),
    Command("project", "2-D projection of a codes file, coloured by class", ProjectConfig, project),
    Command("distort", "distort images (noise or projective) for a quick look", DistortConfig, distort),
    Command(
        "recommend",
        "movies closest to a movie, by title (MovieLens embedding)",
        RecommendConfig,
        recommend,
        "Top-k movies by cosine similarity of a movie embedding (the movie itself excluded). Titles are matched case- "
        "and accent-insensitively; the year is optional.",
    ),
    Command(
        "zoo",
        "the model zoo (saved_models/zoo.json)",
        children=(
            Command("list", "list the zoo's models", ZooListConfig, zoo_list),
            Command("show", "everything zoo.json says of one model", ZooShowConfig, zoo_show),
            Command("add", "add (or replace) a model from a run directory", ZooAddConfig, zoo_add),
        ),
    ),
)
