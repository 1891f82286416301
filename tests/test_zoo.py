"""The model zoo: add, load with a checksum, clear errors, every shipped model loads and works."""

import json

import keras
import numpy as np
import pytest
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml import zoo
from tfml.data import load_cifar10
from tfml.models.inputs import describe_input
from tfml.retrieval import ExactIndex, precision_at_k


def small_model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="small")


class ZooTest(parameterized.TestCase, TestCase):
    def test_add_load_and_checksum(self):
        tmp_path = self.tmp_path
        item = zoo.add(
            "small",
            small_model(),
            study="test",
            data="none",
            command="tfml ...",
            metrics={"m": 1.0},
            description="a tiny model",
            zoo_dir=tmp_path,
        )
        assert item["file"] == "small.h5" and item["output_shape"] == [2] and len(item["sha256"]) == 64
        assert json.loads((tmp_path / "zoo.json").read_text())["models"][0]["name"] == "small"
        assert zoo.load("small", tmp_path).output_shape == (None, 2)
        assert zoo.resolve("small", tmp_path) == tmp_path / "small.h5"
        with open(tmp_path / "small.h5", "ab") as handle:
            handle.write(b"tampered")
        with pytest.raises(ValueError, match="sha256 .* zoo.json expects"):
            zoo.load("small", tmp_path)
        (tmp_path / "small.h5").unlink()
        with pytest.raises(FileNotFoundError, match="is missing"):
            zoo.load("small", tmp_path)

    def test_unknown_names_list_the_available_ones(self):
        tmp_path = self.tmp_path
        zoo.add("one", small_model(), study="s", data="d", command="c", metrics={}, description="", zoo_dir=tmp_path)
        with pytest.raises(KeyError, match="no model named 'two'.*available: one"):
            zoo.entry("two", tmp_path)
        with pytest.raises(FileNotFoundError, match="neither a model file nor a zoo model"):
            zoo.resolve("two", tmp_path)

    @parameterized.named_parameters(*[(item["name"], item) for item in zoo.entries()])
    def test_every_zoo_model_loads_with_its_documented_shapes(self, item):
        model = zoo.load(item["name"])
        assert describe_input(model)["input_shape"] == item["input_shape"]
        assert list(model.output_shape[1:]) == item["output_shape"]

        def zeros(shape, dtype):
            return np.array(["a story"] * 2, dtype=object) if dtype == "string" else np.zeros((2, *shape), dtype)

        shapes, dtypes = item["input_shape"], item["input_dtype"]
        x = (
            {name: zeros(shapes[name], dtypes[name]) for name in shapes}
            if isinstance(shapes, dict)
            else zeros(shapes, dtypes)
        )
        assert model.predict(x, verbose=0).shape == (2, *item["output_shape"])
        assert (
            item["size_bytes"] < (50 if item["study"] == "resnet-pretrain" else 20) * 2**20
        )  # ResNet-18 is 11M float32 weights
        assert item["command"].startswith("tfml ")

    @parameterized.parameters(
        *[
            item["name"]
            for item in zoo.entries()
            if item["study"] in ("autoencoder", "robust") and len(item["output_shape"]) == 1
        ]
    )
    def test_zoo_encoders_retrieve_same_class_images_on_the_embedded_sample(self, name):
        data = load_cifar10("sample")
        x = np.concatenate([data.x_train, data.x_test])
        labels = np.concatenate([data.y_train, data.y_test]).reshape(-1)
        codes = zoo.load(name).predict(x, verbose=0)
        queries = np.arange(len(data.x_train), len(x))
        _, found = ExactIndex(codes).search(codes[queries], 10, exclude=queries)
        assert precision_at_k(labels[found] == labels[queries][:, None], 10) >= 0.2  # chance is 0.1
