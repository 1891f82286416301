"""Configuration fields check their values when a configuration is made in Python."""

import pytest
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.config import ConfigError


class ConfigTest(parameterized.TestCase, TestCase):
    @parameterized.parameters(
        ({"epochs": 0}, "epochs: 0 is below the minimum 1"),
        ({"batch_size": -3}, "batch_size: -3 is below the minimum 1"),
        ({"learning_rate": 0.0}, "learning_rate: 0 must be greater than 0"),
        ({"projection": "mds"}, "projection: 'mds' is not one of umap, tsne, pca"),
    )
    def test_configs_check_their_values_in_python_too(self, values, message):
        from tfml.workflows import autoencoder_retrieval

        with pytest.raises(ConfigError, match=message):
            autoencoder_retrieval.Config(**values)
