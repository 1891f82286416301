"""CIFAR-10 from a named source: the embedded sample, a JPEG archive, tfds (mocked) and keras.datasets."""

import numpy as np
import pytest

from tests.helpers import TestCase, shared_file
from tfml.data import cifar10, load_cifar10


def check_contract(data, n_train, n_test):
    assert data.x_train.shape == (n_train, 32, 32, 3) and data.x_test.shape == (n_test, 32, 32, 3)
    assert data.y_train.shape == (n_train, 1) and data.y_test.shape == (n_test, 1)
    assert data.x_train.dtype == np.uint8 and data.x_test.dtype == np.uint8  # images stay uint8 until the model
    assert len(data.ids_train) == n_train and len(data.ids_test) == n_test and len(set(data.ids_test)) == n_test
    assert data.class_names == cifar10.CLASS_NAMES


class Cifar10Test(TestCase):
    """Every source gives the same contract; offline is a fast, clear error."""

    def test_embedded_sample(self):
        data = load_cifar10("sample")
        check_contract(data, 2000, 500)
        assert np.bincount(data.y_train[:, 0]).tolist() == [200] * 10
        assert data.source.endswith("cifar10-sample.tar.gz")
        # the seeded shuffle: not grouped by class, and reproducible
        assert len(set(data.y_train[:10, 0].tolist())) > 3
        np.testing.assert_array_equal(load_cifar10("sample").y_test, data.y_test)

    def test_full_cifar10_from_the_shared_jpeg_archive(self):
        data = load_cifar10(shared_file("cifar10-jpg.tar.gz"))
        check_contract(data, 50000, 10000)
        assert np.bincount(data.y_test[:, 0]).tolist() == [1000] * 10

    def test_download_source_through_tfds_is_mocked_offline(self):
        monkeypatch = self.monkeypatch
        tfds = pytest.importorskip("tensorflow_datasets")
        monkeypatch.setattr(cifar10, "_reachable", lambda host: True)  # as if online; mock_data serves the examples
        with tfds.testing.mock_data(num_examples=12):
            data = load_cifar10("cifar10")
        assert data.source == "tfds:cifar10"
        check_contract(data, 12, 12)
        assert data.ids_test[3] == "cifar10:test/3"

    def test_keras_datasets_is_the_second_download_route_and_says_so(self):
        monkeypatch = self.monkeypatch
        caplog = self.caplog
        import keras
        import tensorflow_datasets as tfds

        monkeypatch.setattr(cifar10, "_reachable", lambda host: True)
        monkeypatch.setattr(tfds, "load", lambda *a, **k: (_ for _ in ()).throw(OSError("no network")))
        fake = np.zeros((4, 32, 32, 3), np.uint8), np.arange(4).reshape(4, 1)
        monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: (fake, fake))
        data = load_cifar10("cifar10")
        assert data.source == "keras.datasets:cifar10"
        check_contract(data, 4, 4)
        fallbacks = [r.message for r in caplog.records if "trying keras.datasets" in r.message]
        assert fallbacks == ["tensorflow-datasets could not load cifar10 (OSError: no network); trying keras.datasets"]

    def test_without_tensorflow_datasets_the_keras_route_says_how_to_install_it(self):
        monkeypatch = self.monkeypatch
        caplog = self.caplog
        import sys

        import keras

        monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # not installed
        fake = np.zeros((2, 32, 32, 3), np.uint8), np.arange(2).reshape(2, 1)
        monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: (fake, fake))
        assert load_cifar10("cifar10").source == "keras.datasets:cifar10"
        assert any("pip install 'tfml[tfds]'" in r.message for r in caplog.records)

    def test_offline_download_is_a_fast_clear_error_suggesting_the_other_sources(self):
        monkeypatch = self.monkeypatch
        import keras
        import tensorflow_datasets as tfds

        def offline(*args, **kwargs):
            raise OSError("Temporary failure in name resolution")

        monkeypatch.setattr(cifar10, "_reachable", lambda host: False)  # tfds would retry for minutes: not even tried
        monkeypatch.setattr(tfds, "load", lambda *a, **k: pytest.fail("tfds.load was called offline"))
        monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
        with pytest.raises(
            RuntimeError, match="could not download CIFAR-10.*cannot be reached.*--data sample.*--data PATH"
        ):
            load_cifar10("cifar10")

    def test_missing_source_names_the_path(self):
        with pytest.raises(FileNotFoundError, match="no/such.tar.gz does not exist"):
            load_cifar10("no/such.tar.gz")
