# Two entry points that work in a fresh clone: `make quick` and `make test` (also `make docs`, `make wheel`).
# Each creates .venv (once) and installs tfml into it in editable mode.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	$(VENV)/bin/pip install -e '.[test,docs,tfds,faiss,beam,text,plot]'
	touch $(STAMP)

.PHONY: install quick test lint bench docs wheel
install: $(STAMP)

quick: $(STAMP)
	$(VENV)/bin/tfml train autoencoder --quick

# two processes (pytest-xdist), each handed the next test when it is free: the suite's long tests are
# mostly single-threaded Python (notebook kernels, figures, data loading), so two keep both cores busy
test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n 2 --dist worksteal

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/knn.py

# The site (build/site): the examples executed into docs/examples/, then MkDocs, any warning an error.
docs: $(STAMP)
	$(VENV)/bin/python examples/execute.py docs/examples
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# The wheel and sdist (dist/), checked by twine, then the wheel alone in a fresh venv (.ci/wheel-smoke).
wheel: $(STAMP)
	rm -rf dist
	$(VENV)/bin/python -m build --outdir dist .
	$(VENV)/bin/twine check --strict dist/*
	.ci/wheel-smoke dist/tfml-*.whl
