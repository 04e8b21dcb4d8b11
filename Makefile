# bertviz_kit: `make demo` runs the case study, `make test` runs every check.
# Each target creates .venv and installs what it needs (torch 2.13.0 CPU first).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test lint unit lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,widgets]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/bertviz-kit demo --out out

test: lint unit

lint: install
	$(VENV)/bin/ruff check .

unit: install
	$(PY) -m pytest tests --ignore=tests/browser -q

lab: install
	$(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
