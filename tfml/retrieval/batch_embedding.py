"""Batch embedding on Apache Beam (the ``beam`` extra): RunInference with the Keras model, the codes
written as a shard directory (``tfml.retrieval.shards``) that the indexes read.

``encode_with_beam`` builds one pipeline: the images (with their global rows) -> RunInference
(``TFModelHandlerNumpy``, keyed by row) -> grouped into ``shards`` shards by row -> one vectors
file and one metadata file per shard; the manifest is written after the pipeline. By default Beam's
in-process Python runner (FnApiRunner) runs it, offline (Beam's DirectRunner would first try to
download its Prism runner from GitHub); the same pipeline runs on Dataflow, Flink or Spark with
their runner and pipeline options (the workers then need tfml installed, for its custom layers).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from tfml.retrieval.shards import write_manifest, write_shard

INSTALL = "pip install 'tfml[beam]' (apache-beam and tensorflow-hub)"


def _write_group(item, directory: str, ids: np.ndarray, labels: np.ndarray):
    index, pairs = item
    pairs = sorted(pairs, key=lambda pair: pair[0])
    rows = np.array([row for row, _ in pairs], np.int64)
    vectors = np.stack([np.asarray(vector, np.float32) for _, vector in pairs])
    return write_shard(directory, index, rows, vectors, ids[rows], labels[rows])


def _keyed(item, shards: int):
    row, result = item
    return row % shards, (row, result.inference)


def encode_with_beam(
    model_file,
    images: np.ndarray,
    output,
    shards: int,
    *,
    ids,
    labels,
    class_names,
    source: str,
    encoder: dict,
    runner=None,
    batch_size: int = 256,
    pipeline_args: tuple[str, ...] = (),
) -> Path:
    """Embeds ``images`` (uint8) with the model in ``model_file`` on Beam and writes a shard directory;
    ``runner``: a Beam runner or its name (default: the in-process FnApiRunner)."""
    try:
        import apache_beam as beam
        from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
        from apache_beam.ml.inference.tensorflow_inference import TFModelHandlerNumpy
        from apache_beam.options.pipeline_options import PipelineOptions
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    except ImportError as error:
        raise RuntimeError(
            f"--runner beam needs Apache Beam with its TensorFlow support ({error}): {INSTALL}"
        ) from None
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    ids, labels = np.asarray(ids, str), np.asarray(labels, np.int64)
    handler = KeyedModelHandler(TFModelHandlerNumpy(model_uri=str(model_file), max_batch_size=batch_size))
    runner = FnApiRunner() if runner is None else runner
    with beam.Pipeline(runner=runner, options=PipelineOptions(list(pipeline_args))) as pipeline:
        _ = (
            pipeline
            | "images" >> beam.Create([(row, images[row]) for row in range(len(images))])
            | "embed" >> RunInference(handler)
            | "shard" >> beam.Map(functools.partial(_keyed, shards=shards))
            | "group" >> beam.GroupByKey()
            | "write" >> beam.Map(functools.partial(_write_group, directory=str(output), ids=ids, labels=labels))
        )
    entries = []
    for vectors in sorted(output.glob("vectors-*.npy")):
        rows = np.load(vectors, mmap_mode="r").shape[0]
        entries.append(
            {
                "vectors": vectors.name,
                "meta": vectors.name.replace("vectors-", "meta-").replace(".npy", ".npz"),
                "rows": rows,
            }
        )
    if len(entries) != min(shards, len(images)):
        raise RuntimeError(
            f"the pipeline wrote {len(entries)} shards in {output}, {min(shards, len(images))} were expected"
        )
    dim = int(np.load(output / entries[0]["vectors"], mmap_mode="r").shape[1])
    write_manifest(output, entries, dim, class_names, source, encoder)
    return output
