# %% [markdown]
# # Autoencoder retrieval on CIFAR-10
#
# Study 1, step by step: a convolutional autoencoder compresses each 32 x 32 image into a 10-number
# code; images are then retrieved by the distance between codes (content-based image retrieval),
# and judged by precision@10 against PCA codes and raw pixels on the same queries. This runs the
# study's own steps (`tfml.workflows.autoencoder_retrieval`, what `tfml train autoencoder` runs) on
# the CIFAR-10 sample that ships with tfml, in quick mode: about two minutes on 2 cores. Without
# quick mode, and with `DATA = "cifar10"` (a download) it is the full study.

# %% tags=["parameters"]
RUN_DIR = "logs/example-autoencoder"  # the run directory (remove it to train afresh)
OPTIONS = {}  # any option of `tfml train autoencoder --help`, e.g. {"epochs": 30}

# %%
import pandas as pd
from IPython.display import Image, Markdown, display

from tfml.training import Run
from tfml.workflows import autoencoder_retrieval as study

run = Run(study.Config.quick_mode(run_dir=RUN_DIR, **OPTIONS))

# %% [markdown]
# ## The data
# `prepare` loads the images as uint8 arrays and holds out a class-stratified tenth of the training
# images to choose the best epoch; the test images never choose anything.

# %%
prepared = study.prepare(run)
data = prepared.data
pd.Series(
    {
        "source": data.source,
        "training images": len(prepared.x_fit),
        "validation images": len(prepared.x_val),
        "test images": len(data.x_test),
        "classes": len(data.class_names),
    }
)

# %% [markdown]
# ## Training
# `train` builds the encoder and decoder, trains the autoencoder on mean squared error (logging
# PSNR and reconstructions to TensorBoard) and keeps the epoch with the best validation loss. The
# run is resumable: run this cell again after an interruption and it continues where it stopped.

# %%
trained = study.train(run, prepared)
run.history().round(4).tail()

# %% [markdown]
# ## Retrieval
# `evaluate` encodes every image (the codes also go to `codes.npz`, which `tfml retrieve` reads),
# and retrieves the 10 nearest of each test image among all the others, for the codes, PCA codes
# and pixels, under several distances.

# %%
evaluation = study.evaluate(run, prepared, trained)
display(pd.Series(evaluation.reconstruction, name="test reconstruction MSE"))
evaluation.table.round(3)

# %% [markdown]
# ## The report
# `report` draws the figures, writes `metrics.json` and `report.html`, and says what the numbers
# carry (a quick run says it is too small to answer the study's questions).

# %%
study.report(run, prepared, trained, evaluation)
run.finish()
run.close()
display(Markdown(run.summary()))
for caption, path in run.figures().items():
    display(Markdown(f"**{caption}**"), Image(filename=str(path)))
