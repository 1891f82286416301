"""Embeddings split across files, and the indexes that search them.

A shard directory holds ``manifest.json`` ({"format", "dim", "count", "source", "encoder", "shards":
[{"vectors": "vectors-00000.npy", "meta": "meta-00000.npz", "rows": n}, ...], "class_names"}) and per
shard its float32 vectors (an .npy file, memory-mapped when read) and their rows, ids and labels.
``write_shards`` makes one from arrays (Beam's batch embedding writes the same format shard by
shard); ``EmbeddingShards`` reads it: the global row r of shard s is its offset plus the local row.

- ``ShardedExactIndex``: exact k-NN over the shards one at a time (``ExactIndex`` on each, merged),
  so only one shard is in memory; the same results as one ExactIndex over all vectors.
- ``IVFPQIndex`` (faiss, the ``faiss`` extra): an inverted-file index with product-quantised codes
  (tens of bytes per vector in RAM, inverted lists on disk) that proposes ``candidates`` neighbours
  per query, re-ranked exactly from the vectors on disk; ``search(queries, k, exclude)`` as ExactIndex.
  ``target_recall`` (at build, or ``tune``) picks ``probes`` and ``candidates`` on held-out queries
  so that a user asks for a recall, not for faiss's knobs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from tfml.io import atomic_write, write_text
from tfml.retrieval.index import ExactIndex, check_embeddings
from tfml.retrieval.metrics import neighbour_recall

FORMAT = "tfml-shards-1"
RERANK_BYTES = 64 << 20  # the candidates' vectors read at once to re-rank a chunk of queries


def write_shards(
    directory,
    vectors: np.ndarray,
    shards: int,
    *,
    ids=None,
    labels=None,
    class_names=(),
    source: str = "",
    encoder: dict | None = None,
) -> Path:
    """Writes ``vectors`` (N, D) split into ``shards`` files (see the module docstring)."""
    vectors = check_embeddings(vectors, "vectors")
    count = len(vectors)
    ids = np.asarray(ids if ids is not None else [str(i) for i in range(count)], str)
    labels = np.asarray(labels if labels is not None else np.full(count, -1), np.int64)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, count, shards + 1).astype(int)
    entries = []
    for s, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        entries.append(
            write_shard(directory, s, np.arange(start, stop), vectors[start:stop], ids[start:stop], labels[start:stop])
        )
    write_manifest(directory, entries, vectors.shape[1], class_names, source, encoder or {})
    return directory


def write_shard(directory, index: int, rows, vectors, ids, labels) -> dict:
    """One shard's files; returns its manifest entry."""
    directory = Path(directory)
    name = f"{index:05d}"
    atomic_write(directory / f"vectors-{name}.npy", lambda p: np.save(p, np.asarray(vectors, np.float32)))
    atomic_write(
        directory / f"meta-{name}.npz",
        lambda p: np.savez(
            p, rows=np.asarray(rows, np.int64), ids=np.asarray(ids, str), labels=np.asarray(labels, np.int64)
        ),
    )
    return {"vectors": f"vectors-{name}.npy", "meta": f"meta-{name}.npz", "rows": int(len(rows))}


def write_manifest(directory, entries: list[dict], dim: int, class_names, source: str, encoder: dict) -> Path:
    manifest = {
        "format": FORMAT,
        "dim": int(dim),
        "count": int(sum(e["rows"] for e in entries)),
        "shards": entries,
        "class_names": list(class_names),
        "source": source,
        "encoder": encoder,
    }
    return write_text(Path(directory) / "manifest.json", json.dumps(manifest, indent=2))


def is_shard_directory(path) -> bool:
    """Whether ``path`` is a folder with a tfml shard manifest."""
    manifest = Path(path) / "manifest.json"
    try:
        return manifest.is_file() and json.loads(manifest.read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


class EmbeddingShards:
    """A shard directory read back (see the module docstring); vectors memory-mapped, in global row order."""

    def __init__(self, directory):
        self.directory = Path(directory)
        path = self.directory / "manifest.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.directory} is not a shard directory (no manifest.json)")
        self.manifest = json.loads(path.read_text())
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown shard format {self.manifest.get('format')!r}")
        self.dim, self.count = self.manifest["dim"], self.manifest["count"]
        self._vectors, metas = [], []
        for entry in self.manifest["shards"]:
            vectors = np.load(self.directory / entry["vectors"], mmap_mode="r")
            with np.load(self.directory / entry["meta"]) as meta:
                metas.append({key: meta[key] for key in meta.files})
            if vectors.shape != (entry["rows"], self.dim) or len(metas[-1]["rows"]) != entry["rows"]:
                raise ValueError(
                    f"{self.directory}: shard {entry['vectors']} holds {vectors.shape}, the manifest says "
                    f"({entry['rows']}, {self.dim})"
                )
            self._vectors.append(vectors)
        rows = np.concatenate([m["rows"] for m in metas])
        if not np.array_equal(np.sort(rows), np.arange(self.count)):
            raise ValueError(f"{self.directory}: the shards' rows are not 0 .. {self.count - 1} exactly once")
        self.offsets = np.cumsum([0] + [len(v) for v in self._vectors])
        order = np.argsort(rows, kind="stable")  # shard position of each global row
        self._position = order
        self.rows = rows
        self.ids = np.concatenate([m["ids"] for m in metas])[order]
        self.labels = np.concatenate([m["labels"] for m in metas])[order]

    def __len__(self) -> int:
        return self.count

    def shards(self):
        """(global rows, vectors) of each shard in turn."""
        for s, vectors in enumerate(self._vectors):
            yield self.rows[self.offsets[s] : self.offsets[s + 1]], vectors

    def vectors(self, rows) -> np.ndarray:
        """The vectors of global ``rows`` (any shape of row indices), read from the shard files."""
        rows = np.asarray(rows)
        positions = self._position[rows.ravel()]
        shard = np.searchsorted(self.offsets, positions, side="right") - 1
        out = np.empty((len(positions), self.dim), np.float32)
        for s in np.unique(shard):
            picked = shard == s
            local = positions[picked] - self.offsets[s]
            order = np.argsort(local)
            out[np.flatnonzero(picked)[order]] = self._vectors[s][local[order]]
        return out.reshape(*rows.shape, self.dim)


def _merge(best_d, best_i, d, i, k):
    """The k smallest of two (distances, global indices) lists per query; equal distances keep the lower index."""
    if best_d is None:
        return d, i
    distances, indices = np.concatenate([best_d, d], 1), np.concatenate([best_i, i], 1)
    order = np.lexsort((indices, distances), axis=1)[:, :k]
    return np.take_along_axis(distances, order, 1), np.take_along_axis(indices, order, 1)


class ShardedExactIndex:
    """Exact k-NN over a shard directory, one shard in memory at a time (see the module docstring)."""

    def __init__(self, shards: EmbeddingShards, distance: str = "euclidean"):
        self.shards, self.distance = shards, distance

    def __len__(self) -> int:
        return len(self.shards)

    def search(self, queries, k: int, exclude=None, progress: bool = False):
        queries = check_embeddings(queries, "queries", self.shards.dim)
        if k > len(self.shards) - (exclude is not None):
            raise ValueError(
                f"k={k} is larger than the {len(self.shards) - (exclude is not None)} base items available per query"
            )
        exclude = None if exclude is None else np.asarray(exclude, np.int64)
        best_d = best_i = None
        for rows, vectors in self.shards.shards():
            local_exclude = None
            if exclude is not None:
                where = {int(r): j for j, r in enumerate(rows)}
                local_exclude = np.array([where.get(int(e), -1) for e in exclude], np.int64)
            take = min(k, len(rows) - (1 if local_exclude is not None and (local_exclude >= 0).any() else 0))
            if take < 1:
                continue
            d, i = ExactIndex(np.asarray(vectors), self.distance).search(queries, take, exclude=local_exclude)
            best_d, best_i = _merge(best_d, best_i, d, rows[i], k)
        return best_d, best_i


class IVFPQIndex:
    """Approximate k-NN with faiss IVF-PQ and an exact re-rank (see the module docstring).

    ``IVFPQIndex.build(shards, directory)`` trains the coarse quantizer and the product quantizer on a
    sample, encodes the shards one at a time (one shard in memory) and merges their inverted lists
    into one file on disk (``lists.ivfdata``), read memory-mapped. lists: inverted lists (coarse
    centroids); subquantizers: bytes of PQ code per vector; probes: lists searched per query;
    candidates: PQ neighbours re-ranked exactly from the shard files. Euclidean distance.
    ``target_recall``: tune probes and candidates at build time (``tune``) on ``tuning_queries`` base
    vectors drawn at random, left out of the quantizers' training sample and of their own results. (Unlike
    a graph's, an inverted file's search does not pass through the query's own entry: with itself
    excluded, an indexed vector is searched as a new query would be, once the quantizers never saw it.)
    """

    def __init__(self, shards: EmbeddingShards, index, probes: int, candidates: int):
        self.shards, self.index, self.probes, self.candidates = shards, index, probes, candidates

    @classmethod
    def build(
        cls,
        shards: EmbeddingShards,
        directory,
        lists: int | None = None,
        subquantizers: int = 16,
        probes: int = 32,
        candidates: int = 256,
        train_size: int = 100_000,
        seed: int = 0,
        target_recall: float | None = None,
        tuning_queries: int = 1000,
    ) -> IVFPQIndex:
        faiss = require_faiss()
        from faiss.contrib.ondisk import merge_ondisk

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        dim = shards.dim
        if dim % subquantizers:
            raise ValueError(f"subquantizers ({subquantizers}) must divide the dimension ({dim})")
        rng = np.random.default_rng(seed)
        tuning = np.zeros(0, np.int64)
        if target_recall is not None:
            tuning = np.sort(rng.choice(len(shards), min(tuning_queries, len(shards) // 2), replace=False))
        trainable = np.setdiff1d(np.arange(len(shards)), tuning)
        sample = np.ascontiguousarray(
            shards.vectors(np.sort(rng.choice(trainable, min(train_size, len(trainable)), replace=False)))
        )
        lists = min(lists or max(1, int(4 * math.sqrt(len(shards)))), len(sample))
        trained = faiss.IndexIVFPQ(faiss.IndexFlatL2(dim), dim, lists, subquantizers, 8)
        trained.train(sample)
        faiss.write_index(trained, str(directory / "trained.index"))
        parts = []
        for s, (rows, vectors) in enumerate(shards.shards()):
            part = faiss.read_index(str(directory / "trained.index"))
            part.add_with_ids(np.ascontiguousarray(vectors, np.float32), rows.astype(np.int64))
            parts.append(str(directory / f"part-{s:05d}.index"))
            faiss.write_index(part, parts[-1])
            del part
        index = faiss.read_index(str(directory / "trained.index"))
        merge_ondisk(index, parts, str((directory / "lists.ivfdata").resolve()))
        for part in parts:
            Path(part).unlink()
        (directory / "trained.index").unlink()
        cls(shards, index, probes, candidates).save(directory)
        built = cls.load(directory)  # searched as saved: the lists memory-mapped read-only
        if target_recall is not None:
            built.tune(shards.vectors(tuning), target_recall, exclude=tuning)
            built.save(directory)
        return built

    def __len__(self) -> int:
        return len(self.shards)

    def resident_bytes_per_vector(self) -> float:
        """RAM per vector outside the memory-mapped lists: ids and codes live on disk; the coarse
        centroids and PQ tables are what stays (the shards' vectors are read only to re-rank)."""
        centroids = self.index.nlist * self.shards.dim * 4
        tables = self.index.pq.M * 256 * self.index.pq.dsub * 4
        return (centroids + tables) / max(len(self.shards), 1)

    def search(self, queries, k: int, exclude=None, progress: bool = False):
        queries = check_embeddings(queries, "queries", self.shards.dim).astype(np.float32)
        if k > len(self.shards) - (exclude is not None):
            raise ValueError(f"k={k} is larger than the {len(self.shards)} base items")
        self.index.nprobe = self.probes
        _, candidates = self.index.search(np.ascontiguousarray(queries), max(self.candidates, k + 1))
        exclude = None if exclude is None else np.asarray(exclude)
        distances, indices = [], []
        chunk = max(1, RERANK_BYTES // (candidates.shape[1] * self.shards.dim * 4))
        for start in range(0, len(queries), chunk):
            part = slice(start, start + chunk)
            rows = candidates[part]
            drop = rows < 0
            if exclude is not None:
                drop |= rows == exclude[part, None]
            vectors = self.shards.vectors(np.where(drop, 0, rows))
            exact = np.sqrt(((vectors - queries[part, None, :]) ** 2).sum(axis=2))
            exact[drop] = np.inf
            order = np.lexsort((rows, exact), axis=1)[:, :k]
            found = np.take_along_axis(exact, order, 1)
            distances.append(found)
            indices.append(np.where(np.isinf(found), -1, np.take_along_axis(rows, order, 1)))
        return np.concatenate(distances).astype(np.float32), np.concatenate(indices).astype(np.int64)

    def tune(self, queries, target_recall: float, k: int = 10, exclude=None) -> dict:
        """Sets ``probes`` (the fewest lists, in powers of 2) and then ``candidates`` (the fewest
        re-ranked, in powers of 2 from 2 k) whose recall@k on ``queries`` (held out from any later
        measurement; their exact neighbours from ``ShardedExactIndex``) reaches ``target_recall``;
        returns {"probes", "candidates", "recall"}. A ValueError names the best recall reachable
        when even every list and the largest candidate count fall short."""
        if not 0 < target_recall <= 1:
            raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
        queries = check_embeddings(queries, "queries", self.shards.dim)
        _, exact = ShardedExactIndex(self.shards).search(queries, k, exclude=exclude)

        def recall(probes, candidates):
            self.probes, self.candidates = probes, candidates
            return neighbour_recall(self.search(queries, k, exclude=exclude)[1], exact)

        ladder = lambda start, stop: [min(start * 2**i, stop) for i in range(int(math.log2(stop / start)) + 2)]  # noqa: E731
        widest = min(len(self.shards), max(64 * k, 4096))
        probes = next((p for p in ladder(1, self.index.nlist) if recall(p, widest) >= target_recall), None)
        if probes is None:
            raise ValueError(
                f"recall@{k} {recall(self.index.nlist, widest):.3f} with every list probed and {widest} candidates "
                f"re-ranked is below the target {target_recall}: build with more subquantizers"
            )
        candidates = next(c for c in ladder(min(2 * k, widest), widest) if recall(probes, c) >= target_recall)
        return {"probes": probes, "candidates": candidates, "recall": recall(probes, candidates)}

    def save(self, directory) -> Path:
        """Writes the index (its inverted lists stay in lists.ivfdata) and its settings."""
        faiss = require_faiss()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "ivfpq.index"))
        write_text(
            directory / "ivfpq.json",
            json.dumps(
                {"shards": str(self.shards.directory.resolve()), "probes": self.probes, "candidates": self.candidates}
            ),
        )
        return directory

    @classmethod
    def load(cls, directory) -> IVFPQIndex:
        faiss = require_faiss()
        directory = Path(directory)
        settings = json.loads((directory / "ivfpq.json").read_text())
        index = faiss.read_index(
            str(directory / "ivfpq.index")
        )  # its lists stay on disk (OnDiskInvertedLists maps them)
        return cls(EmbeddingShards(settings["shards"]), index, settings["probes"], settings["candidates"])


def require_faiss():
    """The faiss module, or a RuntimeError that says how to install it."""
    try:
        import faiss
    except ImportError:
        raise RuntimeError(
            "the approximate indexes need faiss: pip install 'tfml[faiss]' (or pip install faiss-cpu)"
        ) from None
    return faiss
