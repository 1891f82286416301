"""The ``tfml`` commands other than ``train``: each a configuration dataclass (its fields are the
command's options, see ``tfml.config.option``) and a function that runs it.

Every output goes through ``tfml.io.claim_outputs`` before any work: never one of the command's
inputs, never over an existing file without ``--overwrite``, a folder written whole. This module
imports nothing heavy at import time (the command line builds its options from it quickly).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from tfml.config import Checked, option
from tfml.distances import ALIASES, DISTANCES
from tfml.io import atomic_folder, claim_outputs, write_text


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    help: str
    config: type | None = None
    run: Callable | None = None
    description: str = ""
    children: tuple = ()
    tensorflow: bool = True  # False: the command never imports TensorFlow (it answers at once)


def _suffix(path: str | None, suffixes: tuple[str, ...]) -> str | None:
    """``path`` when it ends with one of ``suffixes`` (or is None), else a ValueError."""
    if path is not None and not Path(path).name.lower().endswith(suffixes):
        raise ValueError(f"{path}: the output must end with {' or '.join(suffixes)}")
    return path


def _model_file(reference: str) -> list[str]:
    """The model's file when ``reference`` names one (an input a command must not write over)."""
    return [reference] if Path(reference).exists() else []


def _data_inputs(source: str) -> list[str]:
    return [source] if Path(source).exists() else []


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
    seed: int = option(0, "seed of the folder order", low=0)
    batch_size: int = option(512, "images per prediction batch", low=1)
    runner: str = option(
        "local",
        "local (in this process) or beam (Apache Beam, its in-process runner, offline; the beam extra)",
        choices=("local", "beam"),
    )
    shards: int = option(4, "with --runner beam: shard files written", low=1)
    overwrite: bool = option(False, "replace the output if it exists")


def encode(config: EncodeConfig) -> None:
    from tfml import zoo
    from tfml.retrieval import Codes, save_codes
    from tfml.retrieval.shards import is_shard_directory

    beam = config.runner == "beam"
    if not beam:
        _suffix(config.output, (".npz",))
    output = Path(config.output)
    if beam and output.is_dir() and any(output.iterdir()) and not is_shard_directory(output):
        raise FileExistsError(f"{output} is a folder tfml did not write (it has no shard manifest); name a new folder")
    claim_outputs(
        [output],
        inputs=_model_file(config.model) + _data_inputs(config.data),
        overwrite=config.overwrite,
        folders=[output] if beam else [],
    )
    model, record = zoo.load_model(config.model)
    zoo.require_kind(model, "image-encoder", config.model)
    data = _images_for(model, config.model, config.data, config.seed)
    if beam:
        from tfml.retrieval.batch_embedding import encode_with_beam

        atomic_folder(
            output,
            lambda folder: encode_with_beam(
                record["file"],
                data.images,
                folder,
                config.shards,
                ids=data.ids,
                labels=data.labels,
                class_names=data.class_names,
                source=config.data,
                encoder=record,
                batch_size=config.batch_size,
            ),
        )
        print(f"{len(data.images):,} codes from {config.data} -> {output} ({config.shards} shards, Apache Beam)")
        return
    codes = model.predict(data.images, batch_size=config.batch_size, verbose=0)
    save_codes(output, Codes(codes, data.labels, data.ids, data.class_names, config.data, record))
    print(f"{len(codes):,} codes of dimension {codes.shape[1]} from {config.data} -> {output}")


def _images_for(model, reference: str, source: str, seed: int):
    """The images of ``source`` at the model's input size; a source whose images have another fixed
    size (CIFAR-10: 32 x 32) is an error that says so before any prediction."""
    from tfml.data import load_labelled_images

    size = tuple(model.input_shape[1:3])
    data = load_labelled_images(source, size, seed=seed, progress=True)
    if tuple(data.images.shape[1:3]) != size:
        raise ValueError(
            f"{reference} takes {size[0]} x {size[1]} images; {source} holds {data.images.shape[1]} x "
            f"{data.images.shape[2]} images: use an encoder of that size, or a folder of images (resized "
            "to the encoder's size as they are read)"
        )
    return data


# --- retrieve -------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class RetrieveConfig(Checked):
    images: tuple[str, ...] = option(help="query image files", positional=True, metavar="IMAGE")
    model: str = option(help="the image encoder that made the codes: .h5 file or zoo name", metavar="MODEL")
    base: str = option(
        help="codes file written by `tfml encode` or a training run (codes.npz), or a shard directory", metavar="CODES"
    )
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

    json_path = None if config.json == "-" else _suffix(config.json, (".json",))
    figure_path = _suffix(config.figure, (".png",))
    claim_outputs(
        [p for p in (json_path, figure_path) if p],
        inputs=[*config.images, config.base, *_model_file(config.model)],
        overwrite=config.overwrite,
    )
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
    document = {
        "distance": config.distance,
        "k": config.k,
        "base": str(config.base),
        "encoder": record["model"],
        "results": [
            {"query": str(path), "neighbours": _neighbours(base, indices[q], distances[q])}
            for q, path in enumerate(config.images)
        ],
    }
    if config.json == "-":
        print(json.dumps(document, indent=2))
    else:
        for result in document["results"]:
            print(f"\n{result['query']}: {config.k} nearest of {len(base.codes):,} ({config.distance} distance)")
            print(f"{'rank':>4}  {'distance':>10}  {'label':<12} image")
            for n in result["neighbours"]:
                print(f"{n['rank']:>4}  {n['distance']:>10.4f}  {n['label']:<12} {n['id']}")
    if json_path:
        write_text(json_path, json.dumps(document, indent=2) + "\n")
        print(f"neighbours -> {json_path}")
    if figure_path:
        _neighbour_figure(config, model, base, queries, distances, indices, figure_path)
        print(f"figure -> {figure_path}")


def _neighbours(base, rows, distances) -> list[dict]:
    return [
        {
            "rank": rank + 1,
            "id": str(base.ids[i]),
            "label": base.label_names([i])[0],
            "distance": float(d),
            "row": int(i),
        }
        for rank, (i, d) in enumerate(zip(rows, distances))
    ]


def _neighbour_figure(config: RetrieveConfig, model, base, queries, distances, indices, path) -> None:
    import numpy as np

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
        path,
        None,
        [base.label_names(row) for row in indices],
        distances,
        f"{config.distance} distance, {config.k} nearest",
        query_titles=[Path(p).name for p in config.images],
    )


# --- project --------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class ProjectConfig(Checked):
    codes: str = option(
        help="codes file (.npz) from `tfml encode` or a training run, or a shard directory",
        positional=True,
        metavar="CODES",
    )
    method: str = option("umap", "projection", choices=("umap", "tsne", "pca"))
    seed: int = option(0, "seed of the projection", low=0)
    output: str = option(help="the figure to write (.png)", flag=("-o", "--output"), metavar="FILE")
    overwrite: bool = option(False, "replace the output file if it exists")


def project(config: ProjectConfig) -> None:
    from tfml.retrieval import load_codes
    from tfml.viz import project_2d, scatter_2d

    (output,) = claim_outputs([_suffix(config.output, (".png",))], inputs=[config.codes], overwrite=config.overwrite)
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
    seed: int = option(0, "seed of the random draws", low=0)
    size: tuple[int, int] | None = option(
        None, "resize to H W first (needed when sizes differ)", low=1, metavar=("H", "W")
    )
    output: str = option(
        help="figure (.png): the originals over each strength", flag=("-o", "--output"), metavar="FILE"
    )
    save_dir: str | None = option(
        None,
        "also write each distorted image into this new folder (PNG, with a distort.json listing them)",
        metavar="DIR",
    )
    overwrite: bool = option(False, "replace outputs that exist (a --save-dir only if `tfml distort` made it)")


DISTORT_RECORD = "distort.json"


def distorted_names(images: tuple[str, ...]) -> list[str]:
    """A file-name stem per image: its own stem, or, where two images share one, their paths joined by "_".

    >>> distorted_names(("a/0000.jpg", "b/0000.jpg", "c/cat.png"))
    ['a_0000', 'b_0000', 'cat']
    >>> distorted_names(("x/a/0.jpg", "y/a/0.jpg"))
    ['a_0_0', 'a_0_1']
    """
    stems = [Path(p).stem for p in images]
    names = [
        stem if stems.count(stem) == 1 else "_".join(Path(p).with_suffix("").parts[-2:])
        for p, stem in zip(images, stems)
    ]
    return [name if names.count(name) == 1 else f"{name}_{number}" for number, name in enumerate(names)]


def distort(config: DistortConfig) -> None:
    from PIL import Image

    from tfml.data import load_image_files
    from tfml.io import atomic_write
    from tfml.pipelines.distortions import distort_batch
    from tfml.viz import image_rows

    folder = Path(config.save_dir) if config.save_dir else None
    if folder and folder.is_dir() and any(folder.iterdir()) and not (folder / DISTORT_RECORD).is_file():
        raise FileExistsError(
            f"{folder} is a folder `tfml distort` did not make (it has no {DISTORT_RECORD}); name a new folder"
        )
    inside = [p for p in config.images if folder and Path(p).resolve().is_relative_to(folder.resolve())]
    if inside:
        raise ValueError(f"--save-dir {folder} holds the input {inside[0]}: name another folder")
    output, *_ = claim_outputs(
        [_suffix(config.output, (".png",)), *([folder] if folder else [])],
        inputs=config.images,
        overwrite=config.overwrite,
        folders=[folder] if folder else [],
        option="--overwrite",
    )
    images = load_image_files(config.images, tuple(config.size) if config.size else None)
    rows = [images] + [distort_batch(images, config.kind, strength, config.seed) for strength in config.strength]
    image_rows(
        rows,
        output,
        ["original"] + [f"{config.kind} {s:g}" for s in config.strength],
        [Path(p).name for p in config.images],
    )
    print(f"figure -> {output}")
    if folder:
        names = distorted_names(config.images)

        def build(target: Path) -> None:
            written = {}
            for strength, row in zip(config.strength, rows[1:]):
                for source, name, image in zip(config.images, names, row):
                    file = f"{name}_{config.kind}_{strength:g}.png"
                    atomic_write(target / file, lambda p, image=image: Image.fromarray(image).save(p, format="PNG"))
                    written[file] = {
                        "source": str(source),
                        "kind": config.kind,
                        "strength": strength,
                        "seed": config.seed,
                    }
            write_text(target / DISTORT_RECORD, json.dumps(written, indent=2) + "\n")

        atomic_folder(folder, build)
        print(f"distorted images -> {folder} ({len(names) * len(config.strength)} files)")


# --- recommend ------------------------------------------------------------------------------------


@dataclasses.dataclass(kw_only=True)
class RecommendConfig(Checked):
    titles: tuple[str, ...] = option(
        help='movie titles, e.g. "Toy Story" or "Home Alone (1990)"', positional=True, metavar="TITLE"
    )
    model: str = option("movielens-embedding", "movie embedding: .h5 file or zoo name", metavar="MODEL")
    data: str = option(
        "small",
        "the MovieLens data the embedding was trained on: 'small' (embedded ml-latest-small) or a folder",
        metavar="SRC",
    )
    k: int = option(10, "movies per title", low=1, flag=("-k",))


def recommend(config: RecommendConfig) -> None:
    from tfml import zoo
    from tfml.data.movielens import load_movielens, resolve_title
    from tfml.retrieval import check_movie_ids, closest_movies

    if not all(title.strip() for title in config.titles):
        raise ValueError('a title is empty: give movie titles, e.g. "Toy Story"')
    model, _ = zoo.load_model(config.model)
    zoo.require_kind(model, "movie-embedding", config.model)
    movies = load_movielens(config.data).movies
    check_movie_ids(model, movies, config.model, config.data)
    tables = {
        title: closest_movies(model, movies, title, config.k) for title in config.titles
    }  # every title checked first
    for title, table in tables.items():
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
    seed: int = option(0, "seed of the split (the study's default: 0)", low=0)
    pad_to_square: bool = option(False, "pad crops to a square before resizing (only for a model trained that way)")
    memory_mb: int = option(1024, "memory for the neighbour lists (MiB); queries are scored in blocks that fit", low=1)


def evaluate(config: EvaluateConfig) -> None:
    from tfml import zoo
    from tfml.data.traffic_signs import load_traffic_signs
    from tfml.retrieval import LABEL_METRICS, ExactIndex, LabelRelevance, evaluate_retrieval

    model, record = zoo.load_model(config.model)
    zoo.require_kind(model, "image-encoder", config.model)
    height, width = model.input_shape[1:3]
    if height != width:
        raise ValueError(f"{config.model} takes {height} x {width} images; the traffic-sign crops are square")
    data = load_traffic_signs(
        config.data,
        height,
        config.min_images,
        config.train_fraction,
        seed=config.seed,
        pad_to_square=config.pad_to_square,
        progress=True,
    )
    gallery, queries = (model.predict(images, batch_size=512, verbose=0) for images in (data.x_train, data.x_test))
    metrics = evaluate_retrieval(
        ExactIndex(gallery),
        queries,
        LabelRelevance(data.y_test, data.y_train),
        LABEL_METRICS,
        memory_bytes=config.memory_mb * 2**20,
    ).metrics
    print(
        f"{config.model} on {config.data}: {len(data.class_names)} classes, {len(data.x_test):,} test images queried "
        f"against {len(data.x_train):,} training images ({height} x {width}, Euclidean)"
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
    import numpy as np

    from tfml.models.text import known_words
    from tfml.retrieval import ExactIndex
    from tfml.viz import image_table

    if not config.text.strip():
        raise ValueError('the query text is empty: give a few words, e.g. "a boy and his toys come to life"')
    figure = _suffix(config.figure, (".png",))
    if figure:
        claim_outputs([figure], inputs=_model_file(config.model), overwrite=config.overwrite)
    aligner, _, movies = _aligner_and_movies(config.model, config.data)
    words, known = known_words(aligner.get_layer("text_tower"), config.text)
    if not known:
        raise ValueError(
            f"none of the words of {config.text!r} ({', '.join(words) or 'only stop words'}) is in the "
            f"vocabulary of {config.model}'s training synopses, so every poster would be as close: "
            "use words a synopsis would use"
        )
    posters = aligner.get_layer("poster_tower").predict(movies.posters, batch_size=256, verbose=0)
    query = aligner.get_layer("text_tower").predict(np.array([config.text], dtype=object), verbose=0)
    k = min(config.k, len(movies))
    distances, indices = ExactIndex(posters, "cosine").search(query, k)
    print(
        f"{k} posters closest to {config.text!r} ({len(movies):,} movies of {config.data}, cosine distance; "
        f"words used: {', '.join(known)}):"
    )
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

    import numpy as np

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
    overwrite: bool = option(False, "replace a zoo model of that name (its file and entry)")


def zoo_list(config: ZooListConfig) -> None:
    from tfml import zoo

    items = zoo.entries()
    if why := zoo.missing():
        print(why)
    elif not items:
        print(f"the zoo ({zoo.folder()}) is empty")
    for item in items:
        print(f"{item['name']:<28} {item['study']:<22} {item['size_bytes'] / 2**20:6.2f} MB  {item['description']}")


def zoo_show(config: ZooShowConfig) -> None:
    from tfml import zoo

    print(json.dumps(zoo.entry(config.name), indent=2))


def zoo_add(config: ZooAddConfig) -> None:
    from tfml import zoo
    from tfml.io import read_text

    replaced = zoo.check_new_name(config.name, overwrite=config.overwrite)
    run_dir = Path(config.run_dir)
    for name in ("metrics.json", "config.json"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(f"--run-dir {run_dir} has no {name}: name the run directory that made the model")
    metrics = json.loads(read_text(run_dir / "metrics.json"))
    run_config = json.loads(read_text(run_dir / "config.json"))
    unknown = [key for key in (config.metrics or ()) if key not in metrics]
    if unknown:
        raise KeyError(f"{run_dir / 'metrics.json'} has no {', '.join(unknown)}")
    model, _ = zoo.load_model(config.model)
    if config.part:
        names = [layer.name for layer in model.layers]
        if config.part not in names:
            raise KeyError(f"{config.model} has no part named {config.part!r}; its layers: {', '.join(names)}")
        model = model.get_layer(config.part)
    selected = {key: metrics[key] for key in (config.metrics or metrics)}
    item = zoo.add(
        config.name,
        model,
        study=config.study,
        data=run_config.get("data_source", ""),
        command=run_config.get("command", ""),
        metrics=selected,
        description=config.description,
        overwrite=config.overwrite,
    )
    if replaced:
        print(
            f"replaced {config.name}: {replaced['file']} (sha256 {replaced['sha256'][:12]}, {replaced['description']})"
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
        "Embed the TT100K crops with the model, split as the traffic-sign study does, and "
        "print kNN@1, kNN@5, balanced kNN@1, R-precision and MAP@R of the test images against the training images.",
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
        "Top-k movies by cosine similarity of a movie embedding (the movie itself excluded). Titles are matched "
        "case- and accent-insensitively; the year is optional.",
    ),
    Command(
        "zoo",
        "the model zoo (saved_models/zoo.json)",
        children=(
            Command("list", "list the zoo's models", ZooListConfig, zoo_list, tensorflow=False),
            Command("show", "everything zoo.json says of one model", ZooShowConfig, zoo_show, tensorflow=False),
            Command(
                "add", "add a model from a run directory (--overwrite replaces one of that name)", ZooAddConfig, zoo_add
            ),
        ),
    ),
)
