# %% [markdown]
# # Graded multi-label posters with the log-ratio loss
#
# Study 3, step by step: two movies are as similar as the Jaccard index J of their genre sets. From
# the poster alone, networks learn an embedding whose distances follow 1 - J: the log-ratio loss
# (Kim et al., CVPR 2019) and the binary triplet loss on Jaccard triplets, and two batch losses
# that read the genres as multi-hot labels (multi-label SupCon, MultiSimilarity with Jaccard
# positives). Each is judged by nDCG@10 of poster retrieval among the test movies, against the
# untrained network, a colour histogram and random ranking, with paired intervals over the same
# queries. Quick mode: a few minutes. It needs the ML-100K posters (`DATA`), which tfml does not
# ship.

# %% tags=["parameters"]
DATA = "../shared/data/ml100k-posters"  # ML-100K posters, MM-IMDB, or posters/ + movies.csv
RUN_DIR = "logs/example-posters"
OPTIONS = {}  # any option of `tfml train posters --help`, e.g. {"flip": True, "padding": 4}

# %%
import pandas as pd
from IPython.display import Image, Markdown, display

from tfml.training import Run
from tfml.workflows import poster_embeddings as study

run = Run(study.Config.quick_mode(data=DATA, run_dir=RUN_DIR, **OPTIONS))

# %% [markdown]
# ## Movies, genres and triplets
# `prepare` loads every movie with a poster and a genre (counting what it drops, and why) and splits
# them; `describe_data` draws the genres per split and the first triplets of the builder: the most
# and the least similar movie of each anchor's random batch.

# %%
prepared = study.prepare(run)
share_zero = study.describe_data(run, prepared)
pd.Series(
    {
        "movies": len(prepared.movies),
        "train": len(prepared.train),
        "validation": len(prepared.validation),
        "test": len(prepared.test),
        "triplets whose positive has the anchor's very genres": round(share_zero, 3),
    }
)

# %% [markdown]
# ## Training and evaluation
# `train` trains every loss of the comparison (checkpoints by validation nDCG@10); `evaluate` ranks
# the test posters by each embedding and its baselines.

# %%
models = study.train(run, prepared, share_zero)
evaluation = study.evaluate(run, prepared, share_zero, models)
evaluation.table.round(3)

# %% [markdown]
# ## The report
# Did training help, and which loss helps most: paired bootstrap intervals over the same test
# queries (a quick run says it is too small to answer).

# %%
study.report(run, prepared, share_zero, models, evaluation)
run.finish()
run.close()
display(Markdown(run.summary()))
for caption, path in run.figures().items():
    display(Markdown(f"**{caption}**"), Image(filename=str(path)))
