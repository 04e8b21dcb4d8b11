# bertviz_kit: `make demo` runs the case study, `make test` runs every check (the docs site included).
# Each target creates .venv and installs what it needs (torch 2.13.0 CPU first).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo student test lint docs unit notebooks notebooks-kernels notebooks-sync bench-smoke browser browser-deps lab app model clean

# `make demo` installs only what the demo needs (the package and the notebook widgets).
DEMO_STAMP := $(VENV)/.installed-demo
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[widgets]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev,widgets,distributed,docs]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" > /dev/null
	touch $(STAMP)

install: $(STAMP)

demo: $(DEMO_STAMP)
	$(VENV)/bin/bertviz-kit demo --out out

# the exercises' student version (solutions removed, answer placeholders in): out/student/
student: install
	$(PY) .ci/student_notebook.py

test: lint docs unit notebooks notebooks-kernels bench-smoke browser

lint: install
	$(VENV)/bin/ruff check .

# The documentation site, docs/_build/html/index.html: Sphinx with myst-nb (the notebooks from their
# stored outputs, never executed) and numpydoc (the API reference). The source folder is the
# repository root (conf.py in docs/), so notebooks/*.ipynb are read in place. Warnings are errors,
# cross-references nitpicky; the known docstring issues are listed in docs/conf.py. First: every
# relative link and anchor in README.md, CHANGELOG.md and docs/ resolves.
DOCS_OUT := docs/_build
docs: install
	$(PY) .ci/check_links.py
	rm -rf $(DOCS_OUT)/html $(DOCS_OUT)/doctrees docs/generated
	$(PY) -m sphinx -E -W --keep-going -n -q -c docs -d $(DOCS_OUT)/doctrees -b html . $(DOCS_OUT)/html
	@echo "docs: $(DOCS_OUT)/html/index.html"

unit: install
	$(PY) -m pytest tests --ignore=tests/browser -q

# Stored outputs reproduce on any x86 CPU and kernel choice: notebooks print what the noise
# supports and check rounding-edge values with tolerances in assertion cells.
notebooks: install
	$(PY) .ci/check_notebook_pairs.py
	timeout 20m $(PY) -m pytest --nbval notebooks -p no:cacheprovider -q \
	  --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=300

# The stored outputs hold on other kernels too: the notebooks again with the float32 linear
# layers on the kernels cpu_linear="auto" did not pick here (in effect another CPU's rounding).
OTHER_KERNELS = $(PY) -c "from bertviz_kit.kernels import choose_cpu_linear as c, onednn_available as a; \
	print('onednn' if a() and c()[0] == 'torch' else 'torch')"
notebooks-kernels: install
	BERTVIZ_KIT_CPU_LINEAR=$$($(OTHER_KERNELS)) timeout 20m $(PY) -m pytest --nbval notebooks -p no:cacheprovider -q \
	  --nbval-sanitize-with notebooks/sanitize.cfg --nbval-cell-timeout=300

# the streaming-extraction memory benchmark on two tiny corpora: runs end to end in seconds
bench-smoke: install
	timeout 5m $(PY) benchmarks/extract_memory.py --sizes 20,40
	timeout 5m $(PY) benchmarks/throughput.py --smoke --dtypes float32
	timeout 5m $(PY) benchmarks/encode_profile.py --n 200 --profile-n 50 --layers 2 --dim 64
	timeout 5m $(PY) benchmarks/search_memory.py --smoke
	timeout 5m $(PY) benchmarks/search_speed.py --smoke

# re-run every notebook and store fresh outputs in its .ipynb (NB=notebooks/05_explorer.py for one)
notebooks-sync: install
	$(PY) .ci/sync_notebooks.py $(NB)

# Debian's Chromium and fonts for the real-browser tests (skipped when already installed).
BROWSER_PKGS := chromium fonts-dejavu-core fonts-liberation
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps:
	@if dpkg -s $(BROWSER_PKGS) > /dev/null 2>&1 && [ -x /usr/bin/chromium ]; then \
		echo "browser-deps: $(BROWSER_PKGS) already installed"; \
	else \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(BROWSER_PKGS); \
	fi

# JupyterLab and Voila in headless Chromium (Playwright drives /usr/bin/chromium).
browser: install browser-deps
	$(PY) -m pytest tests/browser -q

# JupyterLab refuses to start as root unless told; add the flag only there.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
lab: install
	$(VENV)/bin/jupyter lab notebooks $(ROOT_FLAG)

# The tutorial's model, fetched once into models/ (needs network, so downloads are allowed here only);
# then: export BERTVIZ_KIT_MODEL=$$PWD/models/bert-base-cased
MODEL ?= bert-base-cased
model: install
	HF_HUB_OFFLINE=0 TRANSFORMERS_OFFLINE=0 $(VENV)/bin/bertviz-kit download $(MODEL) --to models

# The explorer notebook as a read-only web app (no code shown), on http://localhost:8866
app: install
	cd notebooks && $(abspath $(VENV))/bin/voila 05_explorer.ipynb --no-browser

clean:
	rm -rf $(VENV) out artifacts .pytest_cache .ruff_cache $(DOCS_OUT) docs/generated
