"""The codes file: one writer and one reader; a damaged or foreign file is named."""

import numpy as np
import pytest

from tests.helpers import TestCase


class CodesTest(TestCase):
    """save_codes and load_codes."""

    def test_a_damaged_or_foreign_codes_file_is_named(self):
        tmp_path = self.tmp_path
        from tfml.retrieval import Codes, load_codes, save_codes

        codes = Codes(
            np.ones((3, 2)), np.zeros(3, np.int64), ["a.png", "b.png", "c.png"], ["x"], "sample", {"model": "m"}
        )
        whole = save_codes(tmp_path / "codes.npz", codes).read_bytes()
        assert load_codes(tmp_path / "codes.npz").codes.shape == (3, 2)
        (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])
        (tmp_path / "text.npz").write_text("not codes")
        for name, why in (
            ("cut.npz", r"cut.npz is not a readable .npz codes file \(not an .npz archive"),
            ("text.npz", r"text.npz is not a readable .npz codes file \(not an .npz archive"),
        ):
            with pytest.raises(ValueError, match=why):
                load_codes(tmp_path / name)
