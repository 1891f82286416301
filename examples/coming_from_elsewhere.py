# %% [markdown]
# # Coming from tensorflow-addons, TF Similarity or pytorch-metric-learning
#
# tfml keeps the names and the values of the libraries its users come from. tensorflow-addons'
# `TripletSemiHardLoss` and `TripletHardLoss` keep their names and semantics (labels `y_true`,
# embeddings `y_pred`); pytorch-metric-learning's losses, miners, reducers and distances keep their
# names and options and give its values (tfml's tests compare them with PML 2.9's own numbers);
# TF Similarity's index and lookup are an `ExactIndex` (or `IVFPQIndex`) and `evaluate_retrieval`.
# The table on [Coming from elsewhere](../coming-from-elsewhere.md) lists every name.

# %% tags=["parameters"]
BATCH = 32  # embeddings in the example batch

# %%
import numpy as np

rng = np.random.default_rng(0)
labels = rng.integers(0, 4, BATCH)
embeddings = rng.normal(size=(BATCH, 8)).astype(np.float32)
embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)

# %% [markdown]
# ## From tensorflow-addons
# `tfa.losses.TripletSemiHardLoss(margin=1.0)` becomes `tfml.losses.TripletSemiHardLoss(margin=1.0)`:
# the same rule (the hardest negative farther than the positive, else the easiest), the same
# default margin, a Keras loss for `compile`.

# %%
from tfml.losses import TripletHardLoss, TripletSemiHardLoss

{
    "TripletSemiHardLoss": float(TripletSemiHardLoss()(labels, embeddings)),
    "TripletHardLoss": float(TripletHardLoss()(labels, embeddings)),
}

# %% [markdown]
# ## From pytorch-metric-learning
# `losses.TripletMarginLoss(margin=0.1)` with `miners.TripletMarginMiner(type_of_triplets="semihard")`
# becomes a loss that takes its miner; reducers and distances are objects with the same names.
# In PML the miner runs by hand (`loss(emb, labels, miner(emb, labels))`); in tfml the loss owns it,
# so `model.fit` needs nothing else.

# %%
from tfml.losses import (
    AvgNonZeroReducer,
    CosineSimilarity,
    LpDistance,
    MultiSimilarityLoss,
    MultiSimilarityMiner,
    TripletLoss,
    TripletMarginMiner,
)

losses = {
    "TripletMarginLoss + semihard miner": TripletLoss(
        margin=0.1, miner=TripletMarginMiner(0.1, "semihard"), reducer=AvgNonZeroReducer(), distance=LpDistance()
    ),
    "MultiSimilarityLoss + its miner": MultiSimilarityLoss(
        miner=MultiSimilarityMiner(0.1), distance=CosineSimilarity()
    ),
}
{name: float(loss(labels, embeddings)) for name, loss in losses.items()}

# %% [markdown]
# With the `bench` extra (PyTorch and PML), the same numbers from PML itself:

# %%
try:
    import torch
    from pytorch_metric_learning import losses as pml_losses
    from pytorch_metric_learning import miners as pml_miners
except ImportError:
    print("PML is not installed here (pip install 'tfml[bench]'); tfml's tests hold its values")
else:
    e, y = torch.tensor(embeddings), torch.tensor(labels)
    triplet = pml_losses.TripletMarginLoss(margin=0.1)
    ms = pml_losses.MultiSimilarityLoss()
    print(
        {
            "TripletMarginLoss + semihard miner": float(
                triplet(e, y, pml_miners.TripletMarginMiner(0.1, "semihard")(e, y))
            ),
            "MultiSimilarityLoss + its miner": float(ms(e, y, pml_miners.MultiSimilarityMiner(0.1)(e, y))),
        }
    )

# %% [markdown]
# ## From TF Similarity
# `model.index(x)` and `model.lookup(x, k)` become an index over the embeddings, and
# `model.evaluate_retrieval` becomes `evaluate_retrieval` with a relevance definition (same label,
# graded gains, or item i <-> item i across two modalities); `accuracy` gives PML's
# `AccuracyCalculator` figures.

# %%
from tfml.retrieval import ExactIndex, LabelRelevance, accuracy, evaluate_retrieval

index = ExactIndex(embeddings, distance="cosine")
distances, neighbours = index.search(embeddings[:2], k=3, exclude=np.arange(2))
result = evaluate_retrieval(
    index, embeddings, LabelRelevance(labels, labels), ["precision@1", "map@r"], exclude=np.arange(BATCH)
)
neighbours.tolist(), result.metrics, accuracy(embeddings, labels)
