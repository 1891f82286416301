"""The ResNet-18 pretraining study in quick mode on traffic-sign crops."""

import json

import keras

from tests.helpers import TestCase, shared_file
from tfml.training import run_study
from tfml.workflows import resnet_pretrain


class ResNetPretrainStudyTest(TestCase):
    def test_pretrain_quick_on_traffic_signs(self):
        tmp_path = self.tmp_path
        shared_file("tt100k-crops.tar.gz")
        run_dir = run_study(
            resnet_pretrain.STEPS,
            resnet_pretrain.Config.quick_mode(
                data=str(shared_file("tt100k-crops.tar.gz")), run_dir=str(tmp_path / "pretrain")
            ),
        )
        backbone = keras.models.load_model(run_dir / "backbone.h5")
        assert backbone.output_shape == (None, 512)
        assert json.loads((run_dir / "metrics.json").read_text())["test_accuracy"] > 1 / 71
