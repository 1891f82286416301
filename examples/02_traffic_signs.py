# %% [markdown]
# # Contrastive vs triplet on traffic signs
#
# Study 2, step by step: embedding networks are trained on TT100K traffic-sign crops with the
# triplet loss (semi-hard mining, or one random triplet per anchor) and the contrastive loss (with
# a pair-margin miner, or on all pairs), on P x K batches, each checkpoint picked by MAP@R on
# training images; the test crops then query each other. The study answers "does mining help?" and
# "contrastive or triplet?" with paired intervals over the same queries. Quick mode: 10 classes,
# 2 epochs, a few minutes. It needs the TT100K crops (`DATA`), which tfml does not ship.

# %% tags=["parameters"]
DATA = "../shared/data/tt100k-crops.tar.gz"  # a folder or .tar.gz with train/<class>/ and test/<class>/
RUN_DIR = "logs/example-traffic-signs"
OPTIONS = {}  # any option of `tfml train traffic-signs --help`, e.g. {"epochs": 4}

# %%
import pandas as pd
from IPython.display import Image, Markdown, display

from tfml.training import Run
from tfml.workflows import traffic_signs as study

run = Run(study.Config.quick_mode(data=DATA, run_dir=RUN_DIR, **OPTIONS))

# %% [markdown]
# ## The crops and the split
# `prepare` keeps the classes with enough crops, splits each class the reference's way, and
# measures the per-channel statistics that the networks standardise with (inside the model).

# %%
prepared = study.prepare(run)
pd.Series(
    {
        "classes": len(prepared.data.class_names),
        "training crops": len(prepared.fit_index),
        "checkpoint crops": len(prepared.val_index),
        "test crops": len(prepared.data.y_test),
    }
)

# %% [markdown]
# ## Baselines, then the trainings
# `baselines` scores what needs no training (raw pixels, the untrained network); `train` trains
# every run of the comparison on the same batches.

# %%
baseline_rows = study.baselines(run, prepared)
trained = study.train(run, prepared, baseline_rows)
pd.DataFrame({f"{name} ({dim}-d)": figures for (name, dim), figures in trained.results.items()}).T.round(3)

# %% [markdown]
# ## The report

# %%
study.report(run, prepared, baseline_rows, trained)
run.finish()
run.close()
display(Markdown(run.summary()))
for caption, path in run.figures().items():
    display(Markdown(f"**{caption}**"), Image(filename=str(path)))
