"""2-D projections separate clusters; bad input is a clear error."""

import numpy as np
import pytest
from absl.testing import parameterized

from tests.helpers import TestCase
from tfml.viz import project_2d


class ProjectionTest(parameterized.TestCase, TestCase):
    """project_2d."""

    @parameterized.parameters("pca", "tsne")
    def test_projection_separates_two_clusters(self, method):
        rng = np.random.default_rng(0)
        x = np.concatenate([rng.normal(0, 1, (40, 5)), rng.normal(12, 1, (40, 5))])
        points = project_2d(x, method, seed=0)
        assert points.shape == (80, 2)
        centre_gap = np.linalg.norm(points[:40].mean(0) - points[40:].mean(0))
        assert centre_gap > 3 * max(points[:40].std(0).max(), points[40:].std(0).max())

    def test_projection_bad_input(self):
        with pytest.raises(ValueError, match="unknown projection 'mds'"):
            project_2d(np.zeros((5, 2)), "mds")
        with pytest.raises(ValueError, match="NaN or inf"):
            project_2d(np.full((5, 2), np.nan), "pca")
        with pytest.raises(ValueError, match="at least 3"):
            project_2d(np.zeros((2, 2)), "pca")
