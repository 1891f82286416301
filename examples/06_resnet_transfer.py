# %% [markdown]
# # ResNet-18 transfer to CIFAR-10: frozen features, fine-tuning, scratch
#
# Study 5b, step by step: a ResNet-18 backbone pretrained on traffic-sign crops (the zoo's
# `resnet18-tt100k-backbone`, made by `tfml train resnet-pretrain`; ImageNet weights through
# keras-hub are an option) is transferred to CIFAR-10 three ways, each checkpoint picked on held-out
# training images: logistic regression on its frozen features, fine-tuning end to end, and the
# same network from scratch. Quick mode on the embedded sample: a few minutes on 2 cores.

# %% tags=["parameters"]
RUN_DIR = "logs/example-resnet"
OPTIONS = {}  # any option of `tfml train resnet --help`, e.g. {"weights": "none"}

# %%
import pandas as pd
from IPython.display import Image, Markdown, display

from tfml.training import Run
from tfml.workflows import resnet_transfer as study

run = Run(study.Config.quick_mode(run_dir=RUN_DIR, **OPTIONS))

# %% [markdown]
# ## Data and backbone
# `prepare` loads the images and the backbone (a zoo name is checked against its sha256 first).

# %%
prepared = study.prepare(run)
pd.Series(
    {
        "images": len(prepared.data.x_train) + len(prepared.data.x_test),
        "backbone weights": prepared.weights,
        "backbone parameters": prepared.backbone.count_params(),
        "stem": prepared.stem,
    }
)

# %% [markdown]
# ## Three routes
# `features_route` runs the frozen backbone once over every image and fits a softmax layer on its
# 512 features; `end_to_end_routes` fine-tunes the whole network from the backbone and trains it
# from scratch with the same optimiser and epochs.

# %%
features = study.features_route(run, prepared)
end_to_end = study.end_to_end_routes(run, prepared, features)
pd.DataFrame([route.row() for route in [features, *end_to_end.values()]]).round(3)

# %% [markdown]
# ## The report

# %%
study.report(run, prepared, features, end_to_end)
run.finish()
run.close()
display(Markdown(run.summary()))
for caption, path in run.figures().items():
    display(Markdown(f"**{caption}**"), Image(filename=str(path)))
