"""report.html: one self-contained file; the study's prose is escaped Markdown."""

import numpy as np
import pandas as pd
import pytest

from tests.helpers import TestCase
from tfml.training import write_report
from tfml.training.report import markdown_paragraph
from tfml.viz import image_rows


class ReportTest(TestCase):
    """write_report and markdown_paragraph."""

    def setUp(self):
        super().setUp()
        self.images = np.random.default_rng(0).uniform(size=(12, 32, 32, 3)).astype(np.float32)

    def test_report_is_one_self_contained_file(self):
        tmp_path = self.tmp_path
        images = self.images
        image_rows([images[:3]], tmp_path / "figures" / "a.png")
        path = write_report(
            tmp_path,
            "Title <x>",
            {"precision@10/ae": 0.25},
            tables={"table": pd.DataFrame({"v": [1.5]})},
            figures={"Fig A": "figures/a.png"},
        )
        html = path.read_text()
        assert (
            "data:image/png;base64," in html
            and "Title &lt;x&gt;" in html
            and "precision@10/ae" in html
            and "0.25" in html
        )
        assert "src='figures" not in html
        with pytest.raises(FileNotFoundError):
            write_report(tmp_path, "t", {}, figures={"missing": "figures/none.png"})

    def test_prose_is_escaped_and_only_a_little_markdown_is_rendered(self):
        self.assertEqual(
            markdown_paragraph("a <script> & **b** *c* `d < e`"),
            "<p>a &lt;script&gt; &amp; <b>b</b> <em>c</em> <code>d &lt; e</code></p>",
        )
        self.assertEqual(
            markdown_paragraph("2 * 3 * 4"), "<p>2 * 3 * 4</p>"
        )  # lone asterisks are arithmetic, not emphasis
