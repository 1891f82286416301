"""ResNet-18 layout and backbone weights (local files, the zoo, keras-hub mocked)."""

import sys
import types

import keras
import numpy as np
import pytest

from tests.helpers import TestCase
from tfml.models.resnet import backbone_stem, build_resnet18, load_backbone


def trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


class ResNetTest(TestCase):
    """build_resnet18 and load_backbone."""

    def test_imagenet_layout_has_torchvisions_parameter_count(self):
        model = build_resnet18((224, 224, 3), classes=1000)
        assert trainable(model) == 11_689_512
        assert model.get_layer("stem_pool").output.shape[1:] == (56, 56, 64)
        assert model.get_layer("stage4_block2_out").output.shape[1:] == (7, 7, 512)

    def test_cifar_stem_keeps_32x32_in_the_first_stage(self):
        backbone = build_resnet18((32, 32, 3), stem="cifar", include_top=False)
        assert backbone.get_layer("stage1_block2_out").output.shape[1:] == (32, 32, 64)
        assert backbone.get_layer("stage4_block2_out").output.shape[1:] == (4, 4, 512)
        assert backbone.output_shape == (None, 512) and backbone_stem(backbone) == "cifar"
        assert trainable(backbone) == 11_689_512 - 513_000 - (7 * 7 - 3 * 3) * 3 * 64  # no head, 3x3 stem conv
        with pytest.raises(ValueError, match="stem must be"):
            build_resnet18(stem="tiny")

    def test_local_backbone_files_round_trip(self):
        tmp_path = self.tmp_path
        backbone = load_backbone("none", (32, 32, 3))
        x = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
        backbone.save(tmp_path / "backbone.h5")
        backbone.save_weights(tmp_path / "backbone.weights.h5")
        for path in ("backbone.h5", "backbone.weights.h5"):
            loaded = load_backbone(str(tmp_path / path), (32, 32, 3))
            np.testing.assert_allclose(
                loaded.predict(x, verbose=0), backbone.predict(x, verbose=0), rtol=1e-5, atol=1e-6
            )
        at_other_size = load_backbone(
            str(tmp_path / "backbone.h5"), (64, 48, 3)
        )  # the weights move to another image size
        assert at_other_size.input_shape == (None, 64, 48, 3)
        for a, b in zip(at_other_size.get_weights(), backbone.get_weights()):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(ValueError, match="ResNet-18 backbone for 1-channel images"):
            load_backbone(str(tmp_path / "backbone.h5"), (32, 32, 1))
        with pytest.raises(FileNotFoundError, match="do not exist"):
            load_backbone(str(tmp_path / "missing.h5"))

    def test_imagenet_weights_without_keras_hub_or_network_are_clear_errors(self):
        monkeypatch = self.monkeypatch
        monkeypatch.setitem(sys.modules, "keras_hub", None)  # import fails
        with pytest.raises(RuntimeError, match="needs keras-hub"):
            load_backbone("imagenet", (224, 224, 3))

        def offline(name):
            raise ConnectionError("Failed to resolve 'www.kaggle.com'")

        fake = types.SimpleNamespace(models=types.SimpleNamespace(Backbone=types.SimpleNamespace(from_preset=offline)))
        monkeypatch.setitem(sys.modules, "keras_hub", fake)
        with pytest.raises(RuntimeError, match="resnet_18_imagenet.*ConnectionError.*need the network"):
            load_backbone("imagenet", (224, 224, 3))

    def test_imagenet_weights_are_copied_from_a_matching_preset(self):
        monkeypatch = self.monkeypatch
        source = build_resnet18((64, 64, 3), stem="imagenet", include_top=False)
        fake = types.SimpleNamespace(
            models=types.SimpleNamespace(Backbone=types.SimpleNamespace(from_preset=lambda name: source))
        )
        monkeypatch.setitem(sys.modules, "keras_hub", fake)
        copied = load_backbone("imagenet", (64, 64, 3))
        for a, b in zip(copied.weights, source.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
        other = build_resnet18((64, 64, 3), stem="cifar", include_top=False)
        fake.models.Backbone.from_preset = lambda name: other
        with pytest.raises(ValueError, match="do not match"):
            load_backbone("imagenet", (64, 64, 3))
