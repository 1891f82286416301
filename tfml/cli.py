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


def _train_autoencoder(args) -> None:
    from tfml.workflows import autoencoder_retrieval as study

    overrides = {field.name: getattr(args, field.name) for field in dataclasses.fields(study.Config)
                 if getattr(args, field.name, None) is not None and field.name != "quick"}
    config = study.Config.quick_mode(**overrides) if args.quick else study.Config(**overrides)
    run_dir = study.run(config)
    print(f"\nrun directory: {run_dir.resolve()}\nreport: {(run_dir / 'report.html').resolve()}")


def _load_encoder(path: str):
    import keras

    import tfml  # noqa: F401  (registers custom objects)

    if not Path(path).is_file():
        raise SystemExit(f"tfml: model file {path} does not exist")
    return keras.models.load_model(path, compile=False)


def _encode(args) -> None:
    import numpy as np

    from tfml.data import load_labelled_images
    from tfml.training import atomic_write

    if not str(args.output).endswith(".npz"):
        raise ValueError(f"--output {args.output} must end with .npz")
    encoder = _load_encoder(args.model)
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

    encoder = _load_encoder(args.model)
    if not Path(args.base).is_file():
        raise SystemExit(f"tfml: encoded base {args.base} does not exist (make one with `tfml encode`)")
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


def _project(args) -> None:
    import numpy as np

    from tfml.viz import project_2d, scatter_2d

    if not Path(args.codes).is_file():
        raise SystemExit(f"tfml: codes file {args.codes} does not exist")
    codes = np.load(args.codes)
    names = np.asarray(codes["class_names"])
    points = project_2d(codes["codes"], args.method, seed=args.seed)
    scatter_2d(points, names[codes["labels"]], args.output, f"{args.method.upper()} of {len(points):,} codes", class_order=names.tolist())
    print(f"figure -> {args.output}")


def build_parser() -> argparse.ArgumentParser:
    from tfml.retrieval.index import METRICS
    from tfml.viz.projection import METHODS

    parser = argparse.ArgumentParser(prog="tfml", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a study and write its run directory")
    studies = train.add_subparsers(dest="study", required=True)
    ae = studies.add_parser("autoencoder", help="CIFAR-10 convolutional autoencoder for image retrieval",
                            description="Train the autoencoder, evaluate retrieval against pixels and PCA, write report.html.")
    ae.add_argument("--quick", action="store_true", help="the embedded sample, 15 epochs, PCA projection (about a minute)")
    ae.add_argument("--data", help="'cifar10' (download), 'sample' (embedded) or a folder/.tar.gz with train/ and test/ class folders")
    ae.add_argument("--epochs", type=int)
    ae.add_argument("--batch-size", dest="batch_size", type=int)
    ae.add_argument("--latent-dim", dest="latent_dim", type=int)
    ae.add_argument("--learning-rate", dest="learning_rate", type=float)
    ae.add_argument("--seed", type=int)
    ae.add_argument("--projection", choices=METHODS, help="projection of the test codes (default umap; quick: pca)")
    ae.add_argument("--strategy", choices=("default", "mirrored"))
    ae.add_argument("--run-dir", dest="run_dir", help="run directory (default logs/autoencoder[-quick]); an existing one is resumed")
    ae.add_argument("--fresh", action="store_true", default=None, help="delete the run directory first instead of resuming")
    ae.set_defaults(handler=_train_autoencoder)

    encode = commands.add_parser("encode", help="encode images with a saved encoder into an .npz")
    encode.add_argument("--model", required=True, help="encoder .h5")
    encode.add_argument("--data", required=True, help="'cifar10', 'sample', or a class-folder tree / .tar.gz")
    encode.add_argument("--seed", type=int, default=0, help="seed of the folder order (default 0)")
    encode.add_argument("-o", "--output", required=True, help="output .npz (codes, labels, class_names, ids, source)")
    encode.set_defaults(handler=_encode)

    retrieve = commands.add_parser("retrieve", help="nearest neighbours of query images in an encoded base")
    retrieve.add_argument("images", nargs="+", help="query image files")
    retrieve.add_argument("--model", required=True, help="encoder .h5 (the one that encoded the base)")
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
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"tfml: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
