# What the lecture's Makefile and the student version's share: the environment, `make lab` and
# `make grade`. The including Makefile sets INSTALL (what pip installs) before `include lecture.mk`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
INSTALL ?= -e .

# A relative LECTURE_DATA_DIR would be read from notebooks/ by the kernels: make it absolute.
ifdef LECTURE_DATA_DIR
export LECTURE_DATA_DIR := $(abspath $(LECTURE_DATA_DIR))
endif

# The environment: made once, reinstalled only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is needed; set PYTHON=python3.x")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(INSTALL)
	touch $(STAMP)

# Extra arguments for JupyterLab, e.g. `make lab LAB_ARGS=--no-browser`; root (a container) needs --allow-root.
LAB_ARGS ?=
ROOT_ARG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

# JupyterLab serves the repository (in the lecture's, jupytext then finds jupytext.toml: saving a notebook also saves
# its source in sources/) and opens on notebooks/.
lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_ARG) --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks $(LAB_ARGS)

MODEL   ?= notebooks/homework/my_model.py
WEIGHTS ?= notebooks/homework/my_weights.pt
grade: $(STAMP)
	$(PY) -m lecture_utils.grade $(MODEL) $(WEIGHTS)
