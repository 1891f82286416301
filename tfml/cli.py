"""The ``tfml`` command: train studies, encode images, retrieve neighbours, project embeddings."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


STUDIES = {"autoencoder": "autoencoder_retrieval", "robust": "robust_retrieval", "traffic-signs": "traffic_signs",
           "movies": "movie_embeddings", "resnet-pretrain": "resnet_pretrain", "resnet": "resnet_transfer"}


def _train(args) -> None:
    """Builds the study's Config from the options given (quick mode as the base with --quick) and runs it."""
    import importlib

    study = importlib.import_module(f"tfml.workflows.{STUDIES[args.study]}")
    overrides = {field.name: getattr(args, field.name) for field in dataclasses.fields(study.Config)
                 if getattr(args, field.name, None) is not None and field.name != "quick"}
    if "base_model" in overrides:
        from tfml import zoo

        overrides["base_model"] = str(zoo.resolve(overrides["base_model"]))
    config = study.Config.quick_mode(**overrides) if args.quick else study.Config(**overrides)
    run_dir = study.run(config)
    print(f"\nrun directory: {run_dir.resolve()}\nreport: {(run_dir / 'report.html').resolve()}")


def _load_model(name_or_path: str):
    """A model file, or a zoo model by name (sha256 checked)."""
    import keras

    from tfml import zoo

    return keras.models.load_model(zoo.resolve(name_or_path), compile=False)


def _encode(args) -> None:
    import numpy as np

    from tfml.data import load_labelled_images
    from tfml.training import atomic_write

    if not str(args.output).endswith(".npz"):
        raise ValueError(f"--output {args.output} must end with .npz")
    encoder = _load_model(args.model)
    data = load_labelled_images(args.data, tuple(encoder.input_shape[1:3]), seed=args.seed, progress=True)
    codes = encoder.predict(data.images.astype("float32") / 255.0, batch_size=512, verbose=1)
    atomic_write(args.output, lambda path: np.savez_compressed(
        path, codes=codes, labels=data.labels, class_names=data.class_names, ids=data.ids, source=str(args.data), seed=args.seed))
    print(f"{len(codes):,} codes of dimension {codes.shape[1]} from {args.data} -> {args.output}")


def _retrieve(args) -> None:
    import numpy as np

    from tfml.data import load_image_files, load_labelled_images
    from tfml.retrieval import ExactIndex
    from tfml.viz import neighbour_grid

    encoder = _load_model(args.model)
    if not Path(args.base).is_file():
        raise FileNotFoundError(f"encoded base {args.base} does not exist (make one with `tfml encode`)")
    base = np.load(args.base)
    queries = load_image_files(args.images, tuple(encoder.input_shape[1:3]))
    query_codes = encoder.predict(queries.astype("float32") / 255.0, verbose=0)
    distances, indices = ExactIndex(base["codes"], args.metric).search(query_codes, args.k)
    class_names = base["class_names"].tolist()
    results = [{"query": str(path), "neighbours": [
        {"rank": rank + 1, "index": int(i), "id": str(base["ids"][i]), "label": class_names[int(base["labels"][i])], "distance": float(d)}
        for rank, (i, d) in enumerate(zip(indices[q], distances[q]))]} for q, path in enumerate(args.images)]
    text = json.dumps({"metric": args.metric, "k": args.k, "base": str(args.base), "results": results}, indent=2)
    if args.json:
        Path(args.json).write_text(text)
        print(f"neighbours -> {args.json}")
    else:
        print(text)
    if args.figure:
        images = load_labelled_images(str(base["source"]), tuple(encoder.input_shape[1:3]), seed=int(base["seed"])).images
        neighbour_grid(queries, images[indices], args.figure, [Path(p).name for p in args.images],
                       [[class_names[int(base["labels"][i])] for i in row] for row in indices], distances,
                       f"{args.metric} distance, {args.k} nearest")
        print(f"figure -> {args.figure}")


def _recommend(args) -> None:
    from tfml.data.movielens import load_movielens, resolve_title
    from tfml.workflows.movie_embeddings import recommend

    model = _load_model(args.model)
    movies = load_movielens(args.data).movies
    for title in args.titles:
        table = recommend(model, movies, title, args.k)
        found = movies["title"][resolve_title(movies, title)]
        print(f"\n{args.k} movies closest to {found} (cosine similarity of the embeddings, the movie itself excluded):")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _distort(args) -> None:
    import numpy as np

    from tfml.data import load_image_files
    from tfml.pipelines.distortions import distort_batch
    from tfml.viz import image_rows

    size = tuple(args.size) if args.size else None
    images = load_image_files(args.images, size).astype("float32") / 255.0
    rows = [images] + [distort_batch(images, args.kind, strength, args.seed) for strength in args.strength]
    image_rows(rows, args.output, ["original"] + [f"{args.kind} {s:g}" for s in args.strength], [Path(p).name for p in args.images])
    print(f"figure -> {args.output}")
    if args.save_dir:
        from PIL import Image

        out = Path(args.save_dir)
        out.mkdir(parents=True, exist_ok=True)
        for strength, row in zip(args.strength, rows[1:]):
            for path, image in zip(args.images, row):
                Image.fromarray(np.rint(image * 255).astype("uint8")).save(out / f"{Path(path).stem}_{args.kind}_{strength:g}.png")
        print(f"distorted images -> {out}")


def _zoo_list(args) -> None:
    from tfml import zoo

    items = zoo.entries()
    if not items:
        print(f"the zoo ({zoo.ZOO_DIR}) is empty")
    for item in items:
        print(f"{item['name']:<28} {item['study']:<22} {item['size_bytes'] / 2**20:6.2f} MB  {item['description']}")


def _zoo_show(args) -> None:
    from tfml import zoo

    print(json.dumps(zoo.entry(args.name), indent=2))


def _zoo_add(args) -> None:
    from tfml import zoo

    model = _load_model(args.model)
    if args.part:
        model = model.get_layer(args.part)
    run_dir = Path(args.run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    selected = {key: metrics[key] for key in (args.metrics or metrics)}
    item = zoo.add(args.name, model, study=args.study, data=config.get("data_source", ""), command=config["command"],
                   metrics=selected, description=args.description)
    print(json.dumps(item, indent=2))


def _project(args) -> None:
    import numpy as np

    from tfml.viz import project_2d, scatter_2d

    if not Path(args.codes).is_file():
        raise FileNotFoundError(f"codes file {args.codes} does not exist")
    codes = np.load(args.codes)
    names = np.asarray(codes["class_names"])
    points = project_2d(codes["codes"], args.method, seed=args.seed)
    scatter_2d(points, names[codes["labels"]], args.output, f"{args.method.upper()} of {len(points):,} codes", class_order=names.tolist())
    print(f"figure -> {args.output}")


def _study_parser(studies, name: str, quick_help: str, **kwargs) -> argparse.ArgumentParser:
    """A `tfml train NAME` parser with the options every study has (--quick, --seed, --run-dir, --fresh)."""
    parser = studies.add_parser(name, **kwargs)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--run-dir", dest="run_dir", help=f"run directory (default logs/{name}[-quick]); an existing one is resumed")
    parser.add_argument("--fresh", action="store_true", default=None, help="delete the run directory first instead of resuming")
    parser.set_defaults(handler=_train)
    return parser


def build_parser() -> argparse.ArgumentParser:
    from tfml.retrieval.index import METRICS
    from tfml.viz.projection import METHODS

    parser = argparse.ArgumentParser(prog="tfml", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a study and write its run directory")
    studies = train.add_subparsers(dest="study", required=True)
    ae = _study_parser(studies, "autoencoder", "the embedded sample, 10 epochs, PCA projection (under 2 minutes)", help="CIFAR-10 convolutional autoencoder for image retrieval",
                            description="Train the autoencoder, evaluate retrieval against pixels and PCA, write report.html.")
    ae.add_argument("--data", help="'cifar10' (download), 'sample' (embedded) or a folder/.tar.gz with train/ and test/ class folders")
    ae.add_argument("--epochs", type=int)
    ae.add_argument("--batch-size", dest="batch_size", type=int)
    ae.add_argument("--latent-dim", dest="latent_dim", type=int)
    ae.add_argument("--learning-rate", dest="learning_rate", type=float)
    ae.add_argument("--projection", choices=METHODS, help="projection of the test codes (default umap; quick: pca)")
    ae.add_argument("--strategy", choices=("default", "mirrored"))

    robust = _study_parser(studies, "robust", "the embedded sample, 3 epochs, fewer strengths", help="continue training an autoencoder on distorted inputs; compare on distorted queries",
                                description="Retrain an autoencoder with noisy / warped inputs mixed into its batches and "
                                            "compare old and new on distorted queries.")
    robust.add_argument("--base-model", dest="base_model", default="cifar10-autoencoder",
                        help="autoencoder .h5 or zoo name to continue from (default: cifar10-autoencoder)")
    robust.add_argument("--data", help="as for `tfml train autoencoder`")
    robust.add_argument("--epochs", type=int)
    robust.add_argument("--batch-size", dest="batch_size", type=int)
    robust.add_argument("--learning-rate", dest="learning_rate", type=float)
    robust.add_argument("--share", type=float, nargs=2, metavar=("FIRST", "LAST"), help="share of distorted inputs, ramped")
    robust.add_argument("--noise", type=float, nargs=2, metavar=("FIRST", "LAST"), help="largest noise std, ramped")
    robust.add_argument("--projective", type=float, nargs=2, metavar=("FIRST", "LAST"), help="largest corner shift (share of size), ramped")
    robust.add_argument("--eval-noise", dest="eval_noise", type=float, nargs="+", help="noise strengths of the evaluation queries")
    robust.add_argument("--eval-projective", dest="eval_projective", type=float, nargs="+", help="projective strengths of the evaluation queries")

    signs = _study_parser(studies, "traffic-signs", "the 10 largest classes, 60 images each, 2 epochs", help="contrastive vs triplet metric learning on TT100K traffic-sign crops",
                               description="Five metric-learning runs (with and without mining) and k-NN evaluation on "
                                           "traffic-sign crops; needs the TT100K crops (--data).")
    signs.add_argument("--data", help="folder or .tar.gz with train/<code>/ and test/<code>/ (default ../shared/data/tt100k-crops.tar.gz)")
    signs.add_argument("--epochs", type=int)
    signs.add_argument("--dim", type=int, help="embedding size of the five runs (default 32)")
    signs.add_argument("--other-dims", dest="other_dims", type=int, nargs="*", help="sizes tried for the best run (default 8 16)")
    signs.add_argument("--no-normalize", dest="normalize", action="store_false", default=None, help="do not L2-normalise embeddings")
    signs.add_argument("--classes-per-batch", dest="classes_per_batch", type=int, help="P of the P x K batches")
    signs.add_argument("--images-per-class", dest="images_per_class", type=int, help="K of the P x K batches")
    signs.add_argument("--learning-rate", dest="learning_rate", type=float)

    movies = _study_parser(studies, "movies", "movies liked 20+ times, 150 + 40 steps (about half a minute)",
                           help="MovieLens movie embeddings from co-like counts",
                           description="Fit V (M x d) to co-like counts X by full-batch descent on sum_{i!=j} (v_i.v_j - X_ij)^2; "
                                       "compare optimizers and learning rates; recommend by title; held-out recall@10.")
    movies.add_argument("--data", help="'small' (embedded ml-latest-small, default), or a folder with ratings.csv + movies.csv or u.data + u.item")
    movies.add_argument("--threshold", type=float, help="a rating at least this is a like (default 4.0)")
    movies.add_argument("--min-likes", dest="min_likes", type=int, help="movies liked fewer times get no embedding (default 1)")
    movies.add_argument("--dim", type=int, help="embedding size (default 32)")
    movies.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adagrad"))
    movies.add_argument("--learning-rate", dest="learning_rate", type=float)
    movies.add_argument("--iterations", type=int, help="full-batch steps of the main embedding")
    movies.add_argument("--sweep-iterations", dest="sweep_iterations", type=int, help="steps of each optimizer / learning-rate run")
    movies.add_argument("--titles", nargs="+", help="movies to recommend for in the report")

    pretrain = _study_parser(studies, "resnet-pretrain", "1,500 images, 1 epoch", help="pretrain a ResNet-18 backbone on TT100K traffic-sign crops",
                             description="Train ResNet-18 (+ softmax head) on the traffic-sign crops at 32 x 32 and save the backbone "
                                         "(backbone.h5) for `tfml train resnet --weights`.")
    pretrain.add_argument("--data", help="TT100K crops folder or .tar.gz (default ../shared/data/tt100k-crops.tar.gz)")
    pretrain.add_argument("--stem", choices=("imagenet", "cifar"), help="first layers: 7x7/2 conv + max-pool (default) or 3x3/1 conv")
    pretrain.add_argument("--epochs", type=int)
    pretrain.add_argument("--batch-size", dest="batch_size", type=int)
    pretrain.add_argument("--learning-rate", dest="learning_rate", type=float)

    resnet = _study_parser(studies, "resnet", "the embedded sample, 1 epoch per route", help="ResNet-18 on CIFAR-10: frozen features vs fine-tuning vs scratch",
                           description="Logistic regression on frozen ResNet-18 features, end-to-end fine-tuning, and training from "
                                       "scratch with the same budget, on CIFAR-10 at 32 x 32.")
    resnet.add_argument("--data", help="as for `tfml train autoencoder` (default: the embedded sample)")
    resnet.add_argument("--weights", help="backbone: zoo name (default resnet18-tt100k-backbone), .h5 / .weights.h5 file, 'imagenet' or 'none'")
    resnet.add_argument("--epochs", type=int, help="epochs of the fine-tuning and scratch routes (default 3)")
    resnet.add_argument("--batch-size", dest="batch_size", type=int)
    resnet.add_argument("--head-epochs", dest="head_epochs", type=int, help="epochs of the logistic regression on features")

    recommend = commands.add_parser("recommend", help="movies closest to a movie, by title (MovieLens embedding)",
                                    description="Top-k movies by cosine similarity of a movie embedding (the movie itself excluded). "
                                                "Titles are matched case- and accent-insensitively; the year is optional.")
    recommend.add_argument("titles", nargs="+", help='movie titles, e.g. "Toy Story" or "Home Alone (1990)"')
    recommend.add_argument("--model", default="movielens-embedding", help="embedding .h5 or zoo name (default movielens-embedding)")
    recommend.add_argument("--data", default="small", help="where the titles come from: 'small' (embedded, default) or a MovieLens folder")
    recommend.add_argument("-k", type=int, default=10)
    recommend.set_defaults(handler=_recommend)

    distort = commands.add_parser("distort", help="distort images (noise or projective) for a quick look")
    distort.add_argument("images", nargs="+", help="image files")
    distort.add_argument("--kind", choices=("noise", "projective"), required=True)
    distort.add_argument("--strength", type=float, nargs="+", default=[0.1, 0.2, 0.3],
                         help="noise standard deviation, or largest corner shift as a share of the size")
    distort.add_argument("--seed", type=int, default=0)
    distort.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize first (needed when sizes differ)")
    distort.add_argument("-o", "--output", required=True, help="figure (.png): originals over each strength")
    distort.add_argument("--save-dir", help="also write each distorted image here")
    distort.set_defaults(handler=_distort)

    zoo_command = commands.add_parser("zoo", help="the model zoo (saved_models/zoo.json)")
    zoo_commands = zoo_command.add_subparsers(dest="zoo_command", required=True)
    zoo_commands.add_parser("list", help="list the zoo's models").set_defaults(handler=_zoo_list)
    show = zoo_commands.add_parser("show", help="everything zoo.json says of one model")
    show.add_argument("name")
    show.set_defaults(handler=_zoo_show)
    add = zoo_commands.add_parser("add", help="add (or replace) a model from a run directory")
    add.add_argument("name")
    add.add_argument("--model", required=True, help="the .h5 to add")
    add.add_argument("--part", help="a sub-model of it to add instead, e.g. encoder")
    add.add_argument("--run-dir", dest="run_dir", required=True, help="the run that made it (config.json, metrics.json)")
    add.add_argument("--study", required=True)
    add.add_argument("--description", required=True)
    add.add_argument("--metrics", nargs="*", help="keys of metrics.json to record (default all)")
    add.set_defaults(handler=_zoo_add)

    encode = commands.add_parser("encode", help="encode images with a saved encoder into an .npz")
    encode.add_argument("--model", required=True, help="encoder .h5 or zoo name")
    encode.add_argument("--data", required=True, help="'cifar10', 'sample', or a class-folder tree / .tar.gz")
    encode.add_argument("--seed", type=int, default=0, help="seed of the folder order (default 0)")
    encode.add_argument("-o", "--output", required=True, help="output .npz (codes, labels, class_names, ids, source)")
    encode.set_defaults(handler=_encode)

    retrieve = commands.add_parser("retrieve", help="nearest neighbours of query images in an encoded base")
    retrieve.add_argument("images", nargs="+", help="query image files")
    retrieve.add_argument("--model", required=True, help="encoder .h5 or zoo name (the one that encoded the base)")
    retrieve.add_argument("--base", required=True, help=".npz written by `tfml encode` or a training run (codes.npz)")
    retrieve.add_argument("-k", type=int, default=10)
    retrieve.add_argument("--metric", choices=METRICS, default="euclidean")
    retrieve.add_argument("--json", help="write the neighbours here (default: print them)")
    retrieve.add_argument("--figure", help="write a grid of each query and its neighbours here (.png)")
    retrieve.set_defaults(handler=_retrieve)

    project = commands.add_parser("project", help="2-D projection of encoded images, coloured by class")
    project.add_argument("codes", help=".npz with codes and labels")
    project.add_argument("--method", choices=METHODS, default="umap")
    project.add_argument("--seed", type=int, default=0)
    project.add_argument("-o", "--output", required=True, help="output .png")
    project.set_defaults(handler=_project)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.handler(args)
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as error:
        print(f"tfml: error: {error.args[0] if isinstance(error, KeyError) else error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
