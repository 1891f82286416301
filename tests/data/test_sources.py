"""Any named image source as one labelled set with stable ids."""

import numpy as np

from tests.helpers import TestCase
from tfml.data import load_cifar10, load_labelled_images


class LabelledImagesTest(TestCase):
    """load_labelled_images."""

    def test_labelled_images_concatenate_train_then_test_with_ids(self):
        data = load_labelled_images("sample")
        assert data.images.shape == (2500, 32, 32, 3) and data.images.dtype == np.uint8
        sample = load_cifar10("sample")
        assert data.ids[0] == sample.ids_train[0] and data.ids[2000] == sample.ids_test[0]
        assert data.ids[2000].startswith("test/") and data.ids[2000].endswith(
            ".jpg"
        )  # the archive member, not a position
        np.testing.assert_array_equal(data.images[:2000], sample.x_train)
