"""The peer of the traffic-sign study: PyTorch + pytorch-metric-learning (PML) on the same data, split
and protocol, four rows, written to benchmarks/results/pml_reference.json for the study's report.

Protocol (the reference the study is measured against): TT100K crops, train and test merged, classes
with >= 20 crops, the reference split (``tfml.data.traffic_signs``: per class, file names sorted, one
``default_rng(0)`` permutation in class order, the first round(0.8 n) for training: 19,371 / 4,843),
PIL bilinear resize to 64 x 64, /255 and per-channel standardisation with the training mean and std;
4 x [Conv 3x3 (padding 1, no bias), BatchNorm, ReLU, MaxPool 2] with 32/64/128/256 channels, global
average pooling, Dense 32, L2-normalised; Adam 1e-3, batches of 128 (drop last: 151 steps an epoch),
8 epochs, random crop with 4-px padding, no flips. Evaluation of the final model: k-NN of the test
images against the training images, Euclidean (tfml's ExactIndex and metrics, as the study).

Rows: (a) TripletMarginLoss(0.2) + TripletMarginMiner(0.2, "semihard"), MPerClassSampler 32 x 4;
(b) TripletMarginLoss(0.2, triplets_per_anchor=1) (one random positive and negative per anchor),
32 x 4; (c) ContrastiveLoss(pos_margin=0, neg_margin=1) + PairMarginMiner(0.2, 0.8), 32 x 4;
(d) ContrastiveLoss on all pairs of shuffled batches. On 32 x 4 batches, each with its library
defaults: (e) MultiSimilarityLoss + MultiSimilarityMiner; (f) ProxyAnchorLoss; (g) SupConLoss;
(h) ArcFaceLoss; (i) CosFaceLoss; (j) CircleLoss; (k) CrossBatchMemory(ContrastiveLoss(0, 1),
memory 1024, PairMarginMiner(0.2, 0.8)). The proxies and class weights of (f), (h), (i) have their
own Adam at 100 times the network's learning rate (0.1), as in the Proxy Anchor paper; tfml's
ClassProxies(learning_rate_multiplier=100) does the same under one Adam.

    pip install torch==2.13.0 pytorch-metric-learning    # or pip install -e '.[bench]'
    python benchmarks/pml_reference.py --data ../shared/data/tt100k-crops.tar.gz
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

ROWS = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k")
CLASS_WEIGHT_ROWS = ("f", "h", "i")
OUTPUT = Path(__file__).resolve().parent / "results" / "pml_reference.json"


def network():
    from torch import nn

    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*block(3, 32), *block(32, 64), *block(64, 128), *block(128, 256))
            self.head = nn.Linear(256, 32)

        def forward(self, x):
            return nn.functional.normalize(self.head(self.features(x).mean((2, 3))), dim=1)

    return Net()


def train_row(row: str, x_train, y_train, epochs: int, seed: int):
    import torch
    from pytorch_metric_learning import losses, miners, samplers
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pixels = torch.from_numpy(x_train).permute(0, 3, 1, 2).contiguous()
    scaled = pixels.float().div(255)
    mean, std = scaled.mean((0, 2, 3), keepdim=True), scaled.std((0, 2, 3), keepdim=True)
    labels = torch.from_numpy(y_train)
    net = network()
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    loss_fn, miner = row_loss(row, losses, miners, int(labels.max()) + 1)
    loss_optimizer = torch.optim.Adam(loss_fn.parameters(), 1e-1) if row in CLASS_WEIGHT_ROWS else None
    steps = len(x_train) // 128
    start = time.perf_counter()
    for epoch in range(epochs):
        if row == "d":
            order = torch.randperm(len(x_train))[: steps * 128].view(steps, 128)
        else:
            sampler = samplers.MPerClassSampler(y_train, m=4, batch_size=128, length_before_new_iter=len(x_train))
            order = torch.tensor(list(iter(sampler))[: steps * 128]).view(steps, 128)
        net.train()
        for rows in order:
            padded = nn.functional.pad(pixels[rows], (4, 4, 4, 4))
            offsets = rng.integers(0, 9, (len(rows), 2))
            crops = torch.stack([padded[i, :, y : y + 64, x : x + 64] for i, (y, x) in enumerate(offsets)])
            embeddings = net((crops.float().div(255) - mean) / std)
            batch_labels = labels[rows]
            loss = (
                loss_fn(embeddings, batch_labels, miner(embeddings, batch_labels))
                if miner
                else loss_fn(embeddings, batch_labels)
            )
            optimizer.zero_grad()
            if loss_optimizer is not None:
                loss_optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if loss_optimizer is not None:
                loss_optimizer.step()
        print(
            f"  row {row}: epoch {epoch + 1}/{epochs}, last loss {float(loss):.4f}, "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
    seconds = time.perf_counter() - start
    net.eval()

    def embed(images):
        with torch.no_grad():
            x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
            return torch.cat([net((x[i : i + 512] - mean) / std) for i in range(0, len(x), 512)]).numpy()

    return embed, seconds


def row_loss(row: str, losses, miners, classes: int):
    """(loss, miner or None) of a row (see the module docstring)."""
    if row == "a":
        loss_fn, miner = (
            losses.TripletMarginLoss(margin=0.2),
            miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard"),
        )
    elif row == "b":
        loss_fn = losses.TripletMarginLoss(margin=0.2, triplets_per_anchor=1)
    elif row == "c":
        loss_fn, miner = (
            losses.ContrastiveLoss(pos_margin=0, neg_margin=1),
            miners.PairMarginMiner(pos_margin=0.2, neg_margin=0.8),
        )
    elif row == "d":
        loss_fn = losses.ContrastiveLoss(pos_margin=0, neg_margin=1)
    else:
        return {
            "e": lambda: (losses.MultiSimilarityLoss(), miners.MultiSimilarityMiner()),
            "f": lambda: (losses.ProxyAnchorLoss(classes, 32), None),
            "g": lambda: (losses.SupConLoss(), None),
            "h": lambda: (losses.ArcFaceLoss(classes, 32), None),
            "i": lambda: (losses.CosFaceLoss(classes, 32), None),
            "j": lambda: (losses.CircleLoss(), None),
            "k": lambda: (
                losses.CrossBatchMemory(
                    losses.ContrastiveLoss(pos_margin=0, neg_margin=1), 32, 1024, miners.PairMarginMiner(0.2, 0.8)
                ),
                None,
            ),
        }[row]()
    return loss_fn, miner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/tt100k-crops.tar.gz")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: every core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default=str(OUTPUT))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import torch

    from tfml.data.traffic_signs import load_traffic_signs
    from tfml.retrieval import ExactIndex, LabelRelevance, evaluate_retrieval

    torch.set_num_threads(args.threads)
    data = load_traffic_signs(args.data, 64, 20, seed=0)
    print(
        f"{len(data.class_names)} classes, {len(data.x_train):,} train / {len(data.x_test):,} test; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads; {platform.platform()}",
        flush=True,
    )
    output = Path(args.output)
    results = json.loads(output.read_text()) if output.exists() else {"rows": {}}
    for row in args.rows:
        embed, seconds = train_row(row, data.x_train, data.y_train, args.epochs, args.seed)
        train, test = embed(data.x_train), embed(data.x_test)
        metrics = evaluate_retrieval(
            ExactIndex(train),
            test,
            LabelRelevance(data.y_test, data.y_train),
            ["knn@1", "knn@5", "r_precision", "map@r"],
        ).metrics
        results["rows"][row] = {**metrics, "train_seconds": seconds, "epochs": args.epochs, "threads": args.threads}
        print(f"row {row}: " + ", ".join(f"{k} {v:.4f}" for k, v in results["rows"][row].items()), flush=True)
        results["rows"][row].update(
            {
                "command": f"python benchmarks/pml_reference.py --data {args.data} --rows {row} "
                f"--epochs {args.epochs} --threads {args.threads} --seed {args.seed}",
                "date": datetime.date.today().isoformat(),
            }
        )
        results.update(
            {
                "machine": f"{platform.platform()}, {os.cpu_count()} cores",
                "versions": {
                    "torch": torch.__version__,
                    "pytorch-metric-learning": __import__("pytorch_metric_learning").__version__,
                },
            }
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
