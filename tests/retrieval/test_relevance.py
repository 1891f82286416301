"""Relevance definitions: labels (the excluded query counted out), graded gains, matches."""

import numpy as np

from tests.helpers import TestCase
from tfml.retrieval import LabelRelevance


class RelevanceTest(TestCase):
    def test_label_relevance_counts_the_excluded_query_out(self):
        relevance = LabelRelevance(query_labels=[0, 1, 2], base_labels=[0, 0, 1, 0])
        assert relevance.n_relevant(np.arange(3)).tolist() == [3, 1, 0]
        assert relevance.n_relevant(np.arange(2), exclude=[0, 0]).tolist() == [2, 1]  # query 0 is base item 0
        assert relevance.ideal(np.arange(2), 3, exclude=[0, -1]).tolist() == [[True, True, False], [True, False, False]]
