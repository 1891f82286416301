# Two entry points that work in a fresh clone: `make quick` and `make test`.
# Each creates .venv (once) and installs tfml into it in editable mode.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	$(VENV)/bin/pip install -e '.[test,tfds,faiss,beam,text,plot]'
	touch $(STAMP)

.PHONY: install quick test lint bench
install: $(STAMP)

quick: $(STAMP)
	$(VENV)/bin/tfml train autoencoder --quick

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/knn.py
