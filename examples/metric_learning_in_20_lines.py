# %% [markdown]
# # Metric learning in Keras 3 in 20 lines
#
# An embedding network trained with the MultiSimilarity loss and its miner on P x K batches
# (8 classes x 4 images) of the CIFAR-10 sample that ships with tfml, then judged the way
# pytorch-metric-learning's `AccuracyCalculator` judges it: test images query the training images.
# Everything is plain Keras: `compile`, `fit`, `predict`.

# %% tags=["parameters"]
BATCHES = 200  # P x K batches of 32 images (one pass over them: about a minute on 2 cores)

# %%
import keras

from tfml.data import load_cifar10
from tfml.losses import MultiSimilarityLoss, MultiSimilarityMiner, ThresholdReducer
from tfml.models import build_embedding_net
from tfml.pipelines import pk_indices
from tfml.retrieval import accuracy

data = load_cifar10("sample")  # 2,000 training and 500 test images, uint8
labels = data.y_train.ravel()
order = pk_indices(labels, 8, 4, BATCHES, seed=0).ravel()  # batches of 8 classes x 4 images
net = build_embedding_net((32, 32, 3), 32)  # uint8 in, L2-normalised 32-d out
loss = MultiSimilarityLoss(miner=MultiSimilarityMiner(0.1), reducer=ThresholdReducer(low=0.0))
net.compile(keras.optimizers.Adam(1e-3), loss)
before = accuracy(
    net.predict(data.x_test, verbose=0), data.y_test.ravel(), net.predict(data.x_train, verbose=0), labels
)
net.fit(data.x_train[order], labels[order], batch_size=32, shuffle=False, verbose=0)  # keep the batches whole
after = accuracy(net.predict(data.x_test, verbose=0), data.y_test.ravel(), net.predict(data.x_train, verbose=0), labels)

# %% [markdown]
# The same figures before and after training (chance precision@1 is 0.1 on these ten equal classes):

# %%
import pandas as pd

pd.DataFrame({"untrained": before, "trained": after}).round(3)

# %% [markdown]
# The network saves as one `.h5` file that plain Keras loads back after `import tfml`
# (which registers tfml's layers and losses); `compile=False` keeps only what retrieval needs.

# %%
import tempfile

import tfml  # noqa: F401

path = f"{tempfile.mkdtemp()}/embedding.h5"
net.save(path)
keras.models.load_model(path, compile=False).predict(data.x_test[:2], verbose=0).shape
