"""report.html: one self-contained page per run (what was run and what the numbers say, notes,
tables, figures inlined as base64 PNG, all metrics and the configuration).

Studies write their prose as plain text with a little Markdown: ``**bold**``, ``*emphasis*`` and
```code```; everything else is shown as written (``<`` and ``&`` included), so a movie title or a
file name can never break the page.

>>> markdown_paragraph("**Best**: `a<b` & *c*")
'<p><b>Best</b>: <code>a&lt;b</code> &amp; <em>c</em></p>'
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from tfml.io import write_text

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#eef}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd}
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}pre{background:#f6f6f6;padding:.6em;overflow:auto}
.summary{background:#f4f8ff;border-left:4px solid #2a4d7a;padding:.4em 1em;margin:1em 0}"""
_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<b>\1</b>"),
    (re.compile(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])"), r"<em>\1</em>"),
]


def markdown_paragraph(text: str) -> str:
    """One paragraph of the Markdown subset above as HTML (the text escaped first)."""
    escaped = html.escape(text, quote=False)
    for pattern, replacement in _INLINE:
        escaped = pattern.sub(replacement, escaped)
    return f"<p>{escaped}</p>"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(float_format=lambda v: f"{v:.4g}", border=0, na_rep="")


def write_report(
    run_dir,
    title: str,
    metrics: dict,
    summary: Sequence[str] = (),
    tables: dict[str, pd.DataFrame] | None = None,
    figures: dict[str, str | Path] | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Writes ``run_dir/report.html``: the summary paragraphs, notes, the tables, every figure
    (inlined), all flat metrics and config.json. Figures are paths relative to run_dir (or
    absolute); a missing figure file is an error."""
    run_dir = Path(run_dir)
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
    ]
    if summary:
        parts.append("<div class='summary'>" + "".join(map(markdown_paragraph, summary)) + "</div>")
    parts.extend(map(markdown_paragraph, notes))
    for name, frame in (tables or {}).items():
        parts.append(f"<h2>{html.escape(name)}</h2>{_table(frame)}")
    for caption, figure in (figures or {}).items():
        path = Path(figure) if Path(figure).is_absolute() else run_dir / figure
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(
            f"<figure><figcaption>{html.escape(caption)}</figcaption><img src='data:image/png;base64,{data}' "
            f"alt='{html.escape(caption)}'></figure>"
        )
    flat = pd.DataFrame({"value": metrics}).rename_axis("metric")
    parts.append(f"<h2>All metrics (metrics.json)</h2>{_table(flat)}")
    config = run_dir / "config.json"
    if config.exists():
        parts.append(
            "<h2>Configuration "
            f"(config.json)</h2><pre>{html.escape(json.dumps(json.loads(config.read_text()), indent=2))}</pre>"
        )
    parts.append("</body></html>")
    return write_text(run_dir / "report.html", "\n".join(parts))
