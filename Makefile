# Two commands do all the set-up:  `make lab` (the lecture) and `make test` (every test).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# A relative LECTURE_DATA_DIR would be read from notebooks/ by the kernels: make it absolute.
ifdef LECTURE_DATA_DIR
export LECTURE_DATA_DIR := $(abspath $(LECTURE_DATA_DIR))
endif

.PHONY: lab test test-browser screenshots handouts checkpoints notebooks bench bench-write student grade help

help:
	@echo "make lab          create .venv if needed, install, open JupyterLab on notebooks/"
	@echo "make test         unit tests, nbval over every notebook, and the sliders in a real browser (skipped without Chromium)"
	@echo "make test-browser only the browser tests, failing (not skipping) when Chromium is missing"
	@echo "make screenshots  the browser tests, then copy their slider screenshots into docs/ for the README"
	@echo "make handouts     every notebook as HTML, with an index page, in build/handouts/"
	@echo "make checkpoints  retrain the committed teachers and the homework's reference solutions (minutes on a CPU)"
	@echo "make notebooks    execute every notebook in a fresh kernel and save it with its outputs"
	@echo "make bench        notebook wall times and slider latencies against their budgets"
	@echo "make bench-write  the same, and store the table in benchmarks/README.md"
	@echo "make student      write the student version (solutions stubbed, outputs cleared) into build/student/"
	@echo "make grade        grade the homework: MODEL=notebooks/homework/my_model.py WEIGHTS=notebooks/homework/my_weights.pt"

# The environment: made once, reinstalled only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 is needed; set PYTHON=python3.x")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Extra arguments for JupyterLab, e.g. `make lab LAB_ARGS=--no-browser`; root (a container) needs --allow-root.
LAB_ARGS ?=
ROOT_ARG := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(ROOT_ARG) $(LAB_ARGS) notebooks/

test: $(STAMP)
	$(PY) -m pytest -rs tests notebooks --nbval-lax --nbval-sanitize-with notebooks/nbval_sanitize.cfg

test-browser: $(STAMP)
	LECTURE_REQUIRE_BROWSER=1 $(PY) -m pytest -rs tests/browser

# The README's pictures: made by the browser tests, shrunk to small PNGs.
SHOTS := 01_knowledge_distillation 06_weight_clustering 10_dynamic_computation
screenshots: test-browser
	$(PY) -m tools.screenshots $(SHOTS)

handouts: $(STAMP)
	$(PY) -m tools.handouts

checkpoints: $(STAMP)
	$(PY) -m lecture_utils.pretrained
	$(PY) notebooks/homework/reference_solutions.py

student: $(STAMP)
	$(PY) -m tools.student

MODEL   ?= notebooks/homework/my_model.py
WEIGHTS ?= notebooks/homework/my_weights.pt
grade: $(STAMP)
	$(PY) -m lecture_utils.grade $(MODEL) $(WEIGHTS)

notebooks: $(STAMP)
	$(PY) -m tools.notebooks

bench: $(STAMP)
	$(PY) benchmarks/run.py

bench-write: $(STAMP)
	$(PY) benchmarks/run.py --write
