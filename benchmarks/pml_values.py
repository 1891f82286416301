"""pytorch-metric-learning's own values, for tfml's tests: losses and their gradients, miners,
reducers, CrossBatchMemory over a sequence of batches and AccuracyCalculator's figures, on fixed
random data, written to tests/fixtures/pml_values.npz (the tests read it with no torch installed).

Cases: "small" (8 x 4, 3 classes), "crowded" (32 x 8, 4 classes), "pairs" (12 x 6, 6 classes of
two), "one-class" (6 x 4, one label), each in float64 and float32. Proxy and classifier weights are
drawn here too and stored as rows (class c's sub-centre k in row c K + k), so a test gives tfml
the same weights. DistanceWeightedMiner samples at random: its sampling weights are stored (and
how many triplets it draws), not its draws.

    pip install -e '.[bench]'          # torch==2.13.0 and pytorch-metric-learning 2.9
    python benchmarks/pml_values.py    # writes tests/fixtures/pml_values.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUTPUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pml_values.npz"
CASES = {"small": (8, 4, 3), "crowded": (32, 8, 4), "pairs": (12, 6, 6), "one-class": (6, 4, 1)}
DTYPES = ("float64", "float32")
CLASSES = 6  # classes of the proxy and classifier losses (labels are below it in every case)
SUB_CENTERS = 3
CLASS_WEIGHTS = [1.0, 0.5, 2.0, 1.5, 0.25, 1.0]  # of ClassWeightedReducer


def embedding_losses(torch, losses, miners, distances, reducers):
    """name -> (loss, miner or None) for the losses that need only embeddings and labels."""
    weights = torch.tensor(CLASS_WEIGHTS)
    return {
        "contrastive": (losses.ContrastiveLoss(), None),
        "contrastive-pair-margin": (losses.ContrastiveLoss(), miners.PairMarginMiner(0.2, 0.8)),
        "contrastive-cosine": (losses.ContrastiveLoss(0.9, 0.3, distance=distances.CosineSimilarity()), None),
        "triplet": (losses.TripletMarginLoss(), None),
        "triplet-0.2-semihard": (losses.TripletMarginLoss(0.2), miners.TripletMarginMiner(0.2, "semihard")),
        "triplet-batch-hard": (losses.TripletMarginLoss(0.2), miners.BatchHardMiner()),
        "triplet-batch-easy-hard": (losses.TripletMarginLoss(0.2), miners.BatchEasyHardMiner()),
        "triplet-euclidean": (
            losses.TripletMarginLoss(0.5, distance=distances.LpDistance(normalize_embeddings=False)),
            None,
        ),
        "triplet-dot": (
            losses.TripletMarginLoss(0.1, distance=distances.DotProductSimilarity(normalize_embeddings=False)),
            None,
        ),
        "multi-similarity": (losses.MultiSimilarityLoss(), None),
        "multi-similarity-mined": (losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()),
        "multi-similarity-euclidean": (
            losses.MultiSimilarityLoss(1.0, 10.0, 0.8, distance=distances.LpDistance()),
            miners.MultiSimilarityMiner(0.2, distance=distances.LpDistance()),
        ),
        "circle": (losses.CircleLoss(), None),
        "circle-0.25-256": (losses.CircleLoss(m=0.25, gamma=256), None),
        "supcon": (losses.SupConLoss(), None),
        "supcon-euclidean": (losses.SupConLoss(0.5, distance=distances.LpDistance()), None),
        "ntxent": (losses.NTXentLoss(), None),
        "ntxent-0.5": (losses.NTXentLoss(0.5), None),
        "generalized-lifted-structure": (losses.GeneralizedLiftedStructureLoss(), None),
        "generalized-lifted-structure-cosine": (
            losses.GeneralizedLiftedStructureLoss(0.3, 0.9, distance=distances.CosineSimilarity()),
            None,
        ),
        "npairs": (losses.NPairsLoss(), None),
        "tuplet-margin": (losses.TupletMarginLoss(), None),
        "tuplet-margin-10-32": (losses.TupletMarginLoss(10.0, 32.0), None),
        # reducers, on a pair loss and a triplet loss
        "contrastive-mean": (losses.ContrastiveLoss(reducer=reducers.MeanReducer()), None),
        "contrastive-sum": (losses.ContrastiveLoss(reducer=reducers.SumReducer()), None),
        "contrastive-threshold": (losses.ContrastiveLoss(reducer=reducers.ThresholdReducer(0.1, 0.9)), None),
        "contrastive-per-anchor": (losses.ContrastiveLoss(reducer=reducers.PerAnchorReducer()), None),
        "contrastive-class-weighted": (
            losses.ContrastiveLoss(reducer=reducers.ClassWeightedReducer(weights)),
            None,
        ),
        "triplet-mean": (losses.TripletMarginLoss(0.2, reducer=reducers.MeanReducer()), None),
        "triplet-sum": (losses.TripletMarginLoss(0.2, reducer=reducers.SumReducer()), None),
        "triplet-threshold": (losses.TripletMarginLoss(0.2, reducer=reducers.ThresholdReducer(low=0.05)), None),
        "triplet-class-weighted": (
            losses.TripletMarginLoss(0.2, reducer=reducers.ClassWeightedReducer(weights)),
            None,
        ),
    }


def weight_losses(losses, dim):
    """name -> (loss, the attribute holding its weights, whether that tensor is (dim, classes))."""
    return {
        "proxy-anchor": (losses.ProxyAnchorLoss(CLASSES, dim), "proxies", False),
        "proxy-anchor-0.2-16": (losses.ProxyAnchorLoss(CLASSES, dim, margin=0.2, alpha=16), "proxies", False),
        "proxy-nca": (losses.ProxyNCALoss(CLASSES, dim), "proxies", False),
        "proxy-nca-scale-8": (losses.ProxyNCALoss(CLASSES, dim, softmax_scale=8), "proxies", False),
        "normalized-softmax": (losses.NormalizedSoftmaxLoss(CLASSES, dim), "W", True),
        "arcface": (losses.ArcFaceLoss(CLASSES, dim), "W", True),
        "arcface-10-16": (losses.ArcFaceLoss(CLASSES, dim, margin=10.0, scale=16.0), "W", True),
        "cosface": (losses.CosFaceLoss(CLASSES, dim), "W", True),
        "subcenter-arcface": (
            losses.SubCenterArcFaceLoss(num_classes=CLASSES, embedding_size=dim, sub_centers=SUB_CENTERS),
            "W",
            True,
        ),
    }


def loss_and_gradient(torch, loss, miner, embeddings, labels):
    x = torch.tensor(embeddings, requires_grad=True)
    y = torch.tensor(labels)
    value = loss(x, y, miner(x, y)) if miner is not None else loss(x, y)
    value.backward()
    gradient = x.grad if x.grad is not None else torch.zeros_like(x)
    return value.detach().numpy(), gradient.numpy()


def miner_values(torch, miners, distances, lmu, embeddings, labels, store, prefix):
    """Each miner's selection as masks (pairs (B, B) or triplets (B, B, B) with counts)."""
    x, y = torch.tensor(embeddings), torch.tensor(labels)
    found = {
        "triplet-margin-semihard": miners.TripletMarginMiner(0.2, "semihard"),
        "triplet-margin-hard": miners.TripletMarginMiner(0.3, "hard"),
        "triplet-margin-all": miners.TripletMarginMiner(0.2, "all"),
        "pair-margin": miners.PairMarginMiner(0.2, 0.8),
        "multi-similarity": miners.MultiSimilarityMiner(),
        "multi-similarity-euclidean": miners.MultiSimilarityMiner(0.3, distance=distances.LpDistance()),
        "batch-hard": miners.BatchHardMiner(),
        "batch-easy-hard": miners.BatchEasyHardMiner(),
        "batch-easy-hard-hard-all": miners.BatchEasyHardMiner("hard", "all"),
        "batch-easy-hard-semihard-hard": miners.BatchEasyHardMiner("semihard", "hard"),
        "batch-easy-hard-ranges": miners.BatchEasyHardMiner(allowed_pos_range=(0.2, 1.0), allowed_neg_range=(0.3, 1.5)),
    }
    size = len(labels)
    for name, miner in found.items():
        selected = miner(x, y)
        if len(selected) == 4:
            positive, negative = np.zeros((size, size), np.uint8), np.zeros((size, size), np.uint8)
            np.add.at(positive, (selected[0].numpy(), selected[1].numpy()), 1)
            np.add.at(negative, (selected[2].numpy(), selected[3].numpy()), 1)
            store[f"{prefix}/miner/{name}/positive"] = positive
            store[f"{prefix}/miner/{name}/negative"] = negative
        else:
            triplets = np.zeros((size, size, size), np.uint8)
            np.add.at(triplets, tuple(t.numpy() for t in selected), 1)
            store[f"{prefix}/miner/{name}/triplets"] = triplets
    captured = {}
    original = lmu.get_random_triplet_indices

    def capture(labels, ref_labels=None, t_per_anchor=None, weights=None):
        captured["weights"] = weights.numpy().copy()
        return original(labels, ref_labels=ref_labels, t_per_anchor=t_per_anchor, weights=weights)

    from pytorch_metric_learning.miners import distance_weighted_miner

    distance_weighted_miner.lmu.get_random_triplet_indices = capture
    try:
        drawn = miners.DistanceWeightedMiner()(x, y)
    finally:
        distance_weighted_miner.lmu.get_random_triplet_indices = original
    store[f"{prefix}/miner/distance-weighted/weights"] = captured["weights"]
    store[f"{prefix}/miner/distance-weighted/count"] = np.array(len(drawn[0]))


def cross_batch_memory_values(torch, losses, miners, store, dtype):
    """CrossBatchMemory over 5 batches of 8 (memory 20: it wraps around), losses and gradients."""
    rng = np.random.default_rng(7)
    batches = [(rng.normal(size=(8, 4)).astype(dtype), rng.integers(0, 3, 8)) for _ in range(5)]
    setups = {
        "contrastive": lambda: (losses.ContrastiveLoss(), None),
        "contrastive-pair-margin": lambda: (losses.ContrastiveLoss(), miners.PairMarginMiner(0.2, 0.8)),
        "multi-similarity-mined": lambda: (losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()),
        "triplet-0.2": lambda: (losses.TripletMarginLoss(0.2), None),
        "ntxent": lambda: (losses.NTXentLoss(), None),
    }
    for step, (embeddings, labels) in enumerate(batches):
        store[f"xbm/{dtype}/batch{step}/embeddings"] = embeddings
        store[f"xbm/{dtype}/batch{step}/labels"] = labels
    for name, setup in setups.items():
        loss, miner = setup()
        memory = losses.CrossBatchMemory(loss, 4, memory_size=20, miner=miner)
        for step, (embeddings, labels) in enumerate(batches):
            x = torch.tensor(embeddings, requires_grad=True)
            value = memory(x, torch.tensor(labels))
            value.backward()
            store[f"xbm/{dtype}/{name}/{step}/value"] = value.detach().numpy()
            store[f"xbm/{dtype}/{name}/{step}/grad"] = (x.grad if x.grad is not None else torch.zeros_like(x)).numpy()


def accuracy_values(torch, store):
    """AccuracyCalculator on query vs reference and on a reference set against itself, per sample and
    averaged per class; Euclidean k-NN and scikit-learn's k-means (seeded)."""
    from pytorch_metric_learning.distances import LpDistance
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN
    from sklearn.cluster import KMeans

    def kmeans(x, k):
        return torch.tensor(KMeans(k, n_init=10, random_state=0).fit_predict(x.cpu().numpy()))

    rng = np.random.default_rng(11)
    centres = rng.normal(size=(5, 8)) * 1.5
    reference_labels = np.r_[rng.integers(0, 5, 90), [5, 5]]  # class 5: two items
    query_labels = np.r_[rng.integers(0, 5, 38), [5, 6]]  # class 6: no relevant item (a lone query)
    reference = (np.r_[centres, [[0.0] * 8]][np.minimum(reference_labels, 5)] + rng.normal(size=(92, 8))).astype(
        np.float32
    )
    query = (np.r_[centres, [[0.0] * 8], [[3.0] * 8]][query_labels] + rng.normal(size=(40, 8))).astype(np.float32)
    store["accuracy/query"], store["accuracy/query_labels"] = query, query_labels
    store["accuracy/reference"], store["accuracy/reference_labels"] = reference, reference_labels
    for per_class in (False, True):
        calculator = AccuracyCalculator(
            avg_of_avgs=per_class,
            knn_func=CustomKNN(LpDistance(normalize_embeddings=False)),
            kmeans_func=kmeans,
            device=torch.device("cpu"),
        )
        suffix = "per-class" if per_class else "per-sample"
        for setting, values in (
            ("query-reference", calculator.get_accuracy(query, query_labels, reference, reference_labels)),
            ("reference-itself", calculator.get_accuracy(reference, reference_labels)),
        ):
            for metric, value in values.items():
                store[f"accuracy/{setting}/{suffix}/{metric}"] = np.array(value, np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", default=str(OUTPUT))
    args = parser.parse_args()
    import pytorch_metric_learning
    import torch
    from pytorch_metric_learning import distances, losses, miners, reducers
    from pytorch_metric_learning.utils import loss_and_miner_utils as lmu

    torch.manual_seed(0)
    store = {
        "versions/torch": np.array(torch.__version__),
        "versions/pml": np.array(pytorch_metric_learning.__version__),
    }
    for case, (size, dim, classes) in CASES.items():
        rng = np.random.default_rng(list(CASES).index(case))
        embeddings = rng.normal(size=(size, dim))
        labels = np.arange(size) % classes if case == "pairs" else rng.integers(0, classes, size)
        labels = np.sort(labels) if case == "pairs" else labels
        weights = rng.normal(size=(CLASSES * SUB_CENTERS, dim))
        for dtype in DTYPES:
            prefix = f"{case}/{dtype}"
            x = embeddings.astype(dtype)
            store[f"{prefix}/embeddings"], store[f"{prefix}/labels"] = x, labels
            torch_dtype = getattr(torch, dtype)
            for name, (loss, miner) in embedding_losses(torch, losses, miners, distances, reducers).items():
                value, gradient = loss_and_gradient(torch, loss.to(torch_dtype), miner, x, labels)
                store[f"{prefix}/{name}/value"], store[f"{prefix}/{name}/grad"] = value, gradient
            for name, (loss, attribute, transposed) in weight_losses(losses, dim).items():
                rows = getattr(loss, attribute).shape[1 if transposed else 0]
                tensor = torch.tensor(weights[:rows].astype(dtype))
                with torch.no_grad():
                    getattr(loss, attribute).data = tensor.t().contiguous() if transposed else tensor
                value, gradient = loss_and_gradient(torch, loss, None, x, labels)
                store[f"{prefix}/{name}/value"], store[f"{prefix}/{name}/grad"] = value, gradient
                store[f"{prefix}/{name}/weights"] = weights[:rows].astype(dtype)
            miner_values(torch, miners, distances, lmu, x, labels, store, prefix)
        print(f"{case}: {size} x {dim}, {len(np.unique(labels))} classes", flush=True)
    for dtype in DTYPES:
        cross_batch_memory_values(torch, losses, miners, store, dtype)
    accuracy_values(torch, store)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, **store)
    print(f"{len(store)} arrays -> {output} ({output.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
