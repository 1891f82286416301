# %% [markdown]
# # A CLIP-style poster / synopsis aligner
#
# Study 4, step by step: a poster tower and a text tower are trained into one space on the
# train.txt movies (symmetric InfoNCE, or SigLIP's sigmoid loss), the text tower reading raw
# synopses through a vocabulary and IDF learnt from the training synopses only. The aligner is
# judged first on the movies it never trained on (does it generalise?), by the share of posters
# whose synopsis is among the closest 5% and 50%, both ways, then on all movies (the prescribed
# figure). Quick mode: one text and one poster tower, both losses, a few minutes. It needs the
# ML-100K posters and synopses (`DATA`), which tfml does not ship.

# %% tags=["parameters"]
DATA = "../shared/data/ml100k-posters"
RUN_DIR = "logs/example-align"
OPTIONS = {}  # any option of `tfml train align --help`, e.g. {"text_towers": ["tfidf", "mean"]}

# %%
import pandas as pd
from IPython.display import Image, Markdown, display

from tfml.training import Run
from tfml.workflows import poster_text_alignment as study

run = Run(study.Config.quick_mode(data=DATA, run_dir=RUN_DIR, **OPTIONS))

# %% [markdown]
# ## Movies, and which ones train
# `prepare` loads the movies with a poster and a synopsis: the train.txt movies train (a seeded
# tenth of them picks checkpoints), the others are never trained on.

# %%
prepared = study.prepare(run)
pd.Series(
    {
        "movies": len(prepared.movies),
        "training pairs": len(prepared.fit),
        "checkpoint pairs": len(prepared.validation),
        "never trained on": len(prepared.never),
    }
)

# %% [markdown]
# ## The ablation
# `train` trains every text tower with every poster tower and loss, adds their committee (the
# mean of their cosines) when there are two rows or more, and scores each on the never-trained
# movies and on all of them.

# %%
trained = study.train(run, prepared)
trained.table.round(3)

# %% [markdown]
# ## The report
# The aligner is chosen on the validation movies by the mean rank of the true match: the
# committee, unless a row leads it there with a paired interval that excludes 0. The other rows
# are compared with it by paired intervals over the same never-trained movies.

# %%
study.report(run, prepared, trained)
run.finish()
run.close()
display(Markdown(run.summary()))
for caption, path in run.figures().items():
    display(Markdown(f"**{caption}**"), Image(filename=str(path)))
