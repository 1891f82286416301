"""The ResNet-18 transfer study in quick mode on the embedded CIFAR-10 sample, from the zoo's backbone."""

import json

import pytest

from tests.helpers import TestCase
from tfml import zoo
from tfml.training import run_study
from tfml.workflows import resnet_transfer


class ResNetTransferStudyTest(TestCase):
    @pytest.mark.skipif(
        not any(item["name"] == resnet_transfer.DEFAULT_BACKBONE for item in zoo.entries()),
        reason="the zoo has no resnet18-tt100k-backbone",
    )
    def test_transfer_quick_study_from_the_zoo_backbone(self):
        tmp_path = self.tmp_path
        run_dir = run_study(resnet_transfer.STEPS, resnet_transfer.Config.quick_mode(run_dir=str(tmp_path / "resnet")))
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert set(metrics) == {"features/test_accuracy", "fine-tuning/test_accuracy", "scratch/test_accuracy"}
        assert metrics["features/test_accuracy"] > 0.2  # chance is 0.1
        for route in ("features", "fine-tuning", "scratch"):
            assert (run_dir / f"figures/confident_{route}.png").stat().st_size > 20_000
        assert "frozen features vs fine-tuning" in (run_dir / "report.html").read_text()
