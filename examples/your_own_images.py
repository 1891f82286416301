# %% [markdown]
# # Your own images: train, index, search
#
# A folder of your images, one sub-folder per class (`my-images/<class>/<image>`, any format
# Pillow reads; a `.tar.gz` of that layout works too), becomes a searchable collection in three
# steps: train an embedding network on it with a metric-learning loss, encode every image into a
# codes file (the index), and search it with new images. The same steps are commands:
# `tfml encode` and `tfml retrieve`. Without a folder of yours this example makes one from the
# CIFAR-10 sample that ships with tfml (its training images; its test images are the queries).

# %% tags=["parameters"]
IMAGES = None  # your folder of <class>/<image> files; None: one made from the embedded CIFAR-10 sample
QUERIES = None  # image files to search with; None: three CIFAR-10 test images
WORK_DIR = "logs/example-own-images"  # where the model, the codes and the figures go
BATCHES = 300  # training batches of 8 classes x 4 images (about a minute on 2 cores)

# %%
import tarfile
from pathlib import Path

from tfml.data.cifar10 import sample_path

work = Path(WORK_DIR)
work.mkdir(parents=True, exist_ok=True)
if IMAGES is None:
    with tarfile.open(sample_path()) as archive:
        archive.extractall(work / "cifar10", filter="data")
    IMAGES = work / "cifar10" / "train"
    QUERIES = [str(work / "cifar10" / "test" / name / "0000.jpg") for name in ("cat", "ship", "truck")]

# %% [markdown]
# ## 1. Train an embedding on the folder
# Batches of P classes x K images give every image positives and negatives in its batch; the
# triplet loss with a semi-hard miner pulls each image's class together. The network takes uint8
# images and returns L2-normalised vectors; it saves as one `.h5` file.

# %%
import keras

from tfml.data import load_image_folder
from tfml.losses import TripletLoss, TripletMarginMiner
from tfml.models import build_embedding_net
from tfml.pipelines import pk_indices

folder = load_image_folder(IMAGES, (32, 32))
print(f"{len(folder.images)} images of {len(folder.class_names)} classes; {len(folder.skipped)} unreadable skipped")
order = pk_indices(folder.labels, 8, 4, BATCHES, seed=0).ravel()
net = build_embedding_net((32, 32, 3), 32)
net.compile(keras.optimizers.Adam(1e-3), TripletLoss(miner=TripletMarginMiner(0.2, "semihard")))
net.fit(folder.images[order], folder.labels[order], batch_size=32, shuffle=False, verbose=0)
net.save(work / "embedding.h5")

# %% [markdown]
# ## 2. Index: encode every image into a codes file
# `tfml encode` writes the vectors with each image's path and class, and which model made them
# (the same as `tfml encode --model ... --data ... -o codes.npz` in a terminal).

# %%
from tfml.cli import main as tfml

tfml(
    [
        "encode",
        "--model",
        str(work / "embedding.h5"),
        "--data",
        str(IMAGES),
        "-o",
        str(work / "codes.npz"),
        "--overwrite",
    ]
)

# %% [markdown]
# ## 3. Search
# `tfml retrieve` encodes the queries with the model that made the codes and lists their nearest
# images (here also drawn as a figure; green frames share the query's class when it has one).

# %%
from IPython.display import Image

tfml(
    [
        "retrieve",
        *QUERIES,
        "--model",
        str(work / "embedding.h5"),
        "--base",
        str(work / "codes.npz"),
        "-k",
        "8",
        "--figure",
        str(work / "neighbours.png"),
        "--overwrite",
    ]
)
Image(filename=str(work / "neighbours.png"))

# %% [markdown]
# The same search in Python: the codes file and an exact k-NN index.

# %%
from tfml.data import load_image_files
from tfml.retrieval import ExactIndex, load_codes

codes = load_codes(work / "codes.npz")
distances, rows = ExactIndex(codes.codes, distance="euclidean").search(
    net.predict(load_image_files(QUERIES, (32, 32)), verbose=0), k=5
)
[[Path(codes.ids[row]).parent.name for row in query] for query in rows]
