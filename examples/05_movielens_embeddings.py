# %% [markdown]
# # MovieLens movie embeddings from co-like counts
#
# Study 5, step by step: two movies are alike when the same users like both. From the ratings of
# `ml-latest-small` (embedded in tfml) a like is a rating of at least 4; X[i, j] counts the users
# who liked both movies i and j, and a 32-d embedding V is fitted by full-batch gradient descent on
# sum over i != j of (v_i . v_j - X[i, j])^2. The study compares optimizers, recommends by title and
# measures recall@10 of held-out likes against simpler recommenders. Quick mode: about a minute.

# %% tags=["parameters"]
RUN_DIR = "logs/example-movies"
OPTIONS = {}  # any option of `tfml train movies --help`, e.g. {"titles": ["Toy Story", "Heat"]}

# %%
import pandas as pd
from IPython.display import Image, Markdown, display

from tfml.training import Run
from tfml.workflows import movie_embeddings as study

run = Run(study.Config.quick_mode(run_dir=RUN_DIR, **OPTIONS))

# %% [markdown]
# ## Likes and co-like counts
# `prepare` reads the ratings (every row checked), keeps the likes and counts, for every pair of
# movies, the users who liked both: one sparse matrix product.

# %%
prepared = study.prepare(run)
likes = prepared.likes
pd.Series(
    {
        "users": len(likes.users),
        "movies with a like": len(likes.movies),
        "likes": likes.matrix.nnz,
        "non-zero co-like counts": prepared.counts.nnz,
    }
)

# %% [markdown]
# ## Fitting the embedding, and the optimizer sweep
# `train` fits the embedding used for recommendations, then runs every optimizer and learning
# rate of the sweep from the same start (a run that diverges is stopped and marked).

# %%
trained = study.train(run, prepared)
trained.history.round(2).tail()

# %% [markdown]
# ## Recommendations and held-out likes
# `recommendations` lists the closest movies (cosine similarity of the embeddings) for a few
# titles; `held_out` hides a fifth of each user's likes, refits, and measures how many of them the
# embedding's top 10 recover, beside item-item cosine on X and a popularity list.

# %%
recommended = study.recommendations(run, prepared, trained)
heldout = study.held_out(run, prepared, trained, recommended)
study.report(run, prepared, trained, recommended, heldout)
run.finish()
run.close()
display(Markdown(run.summary()))
for caption, table in run.tables().items():
    display(Markdown(f"**{caption}**"), table)
for caption, path in run.figures().items():
    display(Markdown(f"**{caption}**"), Image(filename=str(path)))
