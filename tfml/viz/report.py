"""report.html: one self-contained page (summary, notes, tables, figures inlined as base64 PNG,
all metrics and the configuration)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Sequence

import pandas as pd

from tfml.training.saving import write_text

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#eef}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #ddd}
figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}pre{background:#f6f6f6;padding:.6em;overflow:auto}
.summary{background:#f4f8ff;border-left:4px solid #2a4d7a;padding:.4em 1em;margin:1em 0}"""


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(float_format=lambda v: f"{v:.4g}", border=0, na_rep="")


def write_report(
    run_dir,
    title: str,
    metrics: dict,
    summary: Sequence[str] = (),
    tables: dict[str, pd.DataFrame] | None = None,
    figures: dict[str, str | Path] | None = None,
    notes: Sequence[str] | str = (),
) -> Path:
    """Writes ``run_dir/report.html``: the summary (what was run, what the numbers say), notes, the
    tables, every figure (inlined), all flat metrics and config.json. Summary and notes are HTML
    paragraphs written by the study; figures are paths relative to run_dir (or absolute); a missing
    figure file is an error."""
    run_dir = Path(run_dir)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if summary:
        parts.append("<div class='summary'>" + "".join(f"<p>{paragraph}</p>" for paragraph in summary) + "</div>")
    for paragraph in ([notes] if isinstance(notes, str) and notes else list(notes)):
        parts.append(f"<p>{paragraph}</p>")
    for name, frame in (tables or {}).items():
        parts.append(f"<h2>{html.escape(name)}</h2>{_table(frame)}")
    for caption, figure in (figures or {}).items():
        path = Path(figure) if Path(figure).is_absolute() else run_dir / figure
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(f"<figure><figcaption>{html.escape(caption)}</figcaption><img src='data:image/png;base64,{data}' "
                     f"alt='{html.escape(caption)}'></figure>")
    flat = pd.DataFrame({"value": metrics}).rename_axis("metric")
    parts.append(f"<h2>All metrics (metrics.json)</h2>{_table(flat)}")
    config = run_dir / "config.json"
    if config.exists():
        parts.append(f"<h2>Configuration (config.json)</h2><pre>{html.escape(json.dumps(json.loads(config.read_text()), indent=2))}</pre>")
    parts.append("</body></html>")
    return write_text(run_dir / "report.html", "\n".join(parts))
