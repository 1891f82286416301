"""Runs the examples as notebooks: each ``examples/*.py`` (a py:percent script) is read by jupytext
and executed top to bottom by nbclient in a fresh kernel, with the project root as its folder.

An example's cell tagged ``parameters`` holds plain assignments (its sizes, ``RUN_DIR``, and
``DATA`` when it needs a data set outside the project); ``execute(path, overrides)`` runs it with a
cell of overrides injected after that one (the tests run every example on small data this way).
``python examples/execute.py OUT`` writes every executed example to ``OUT/<name>.ipynb`` for the
documentation; an example whose ``DATA`` is absent is written unexecuted, with a first cell that
says so.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parent
PROJECT_ROOT = EXAMPLES.parent


def examples() -> list[Path]:
    """The example scripts, in the order of their names."""
    return sorted(path for path in EXAMPLES.glob("*.py") if path.name != Path(__file__).name)


def parameters(notebook) -> tuple[int, dict]:
    """(index, values) of the cell tagged ``parameters``."""
    for index, cell in enumerate(notebook.cells):
        if "parameters" in cell.metadata.get("tags", []):
            values: dict = {}
            exec(cell.source, {}, values)
            return index, values
    raise ValueError("the example has no cell tagged 'parameters'")


def missing_data(path: Path) -> str | None:
    """Why the example cannot run here (its DATA is absent), or None."""
    data = parameters(jupytext.read(path))[1].get("DATA")
    if data is not None and not (PROJECT_ROOT / data).exists():
        return f"needs {data}, which is absent here"
    return None


def execute(path: Path, overrides: dict | None = None, timeout: int = 1800):
    """The executed notebook of example ``path``, with ``overrides`` assigned after its parameters."""
    notebook = jupytext.read(path)
    index, _ = parameters(notebook)
    if overrides:
        source = "\n".join(f"{name} = {value!r}" for name, value in overrides.items())
        notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the kernel inherits it
    NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(PROJECT_ROOT)}},
        extra_arguments=["--IPKernelApp.capture_fd_output=False"],  # TensorFlow's C++ start-up lines stay out
    ).execute()
    return notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the executed notebooks")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for path in examples():
        start = time.perf_counter()
        reason = missing_data(path)
        if reason:
            notebook = jupytext.read(path)
            notebook.cells.insert(
                0, nbformat.v4.new_markdown_cell(f"!!! note\n    Not executed in this build: {reason}.")
            )
        else:
            notebook = execute(path)
        nbformat.write(notebook, out / f"{path.stem}.ipynb")
        what = f"not executed ({reason})" if reason else f"executed in {time.perf_counter() - start:.0f} s"
        print(f"{path.name}: {what}", file=sys.stderr)


if __name__ == "__main__":
    main()
