# Two commands do all the set-up:  `make lab` (the lecture) and `make test` (every test).
# The environment, `make lab` and `make grade` (shared with the student version): lecture.mk.
INSTALL := -e '.[test]'
include lecture.mk
.DEFAULT_GOAL := help

.PHONY: sync lab test test-browser screenshots handouts checkpoints notebooks bench bench-write published student expected grade grade-class help

help:
	@echo "make lab          create .venv if needed, install, open JupyterLab on notebooks/"
	@echo "make test         unit tests, nbval over every notebook, and the sliders in a real browser (skipped without Chromium)"
	@echo "make test-browser only the browser tests, failing (not skipping) when Chromium is missing"
	@echo "make screenshots  the browser tests, then copy their slider screenshots into docs/ for the README"
	@echo "make handouts     every notebook as HTML, with an index page, in build/handouts/"
	@echo "make checkpoints  retrain the committed teachers and the homework's reference solutions (minutes on a CPU)"
	@echo "make notebooks    build every notebook from its source in sources/: execute it and save it with its outputs (NAMES=05 for some)"
	@echo "make sync         after editing a notebook outside make lab: update its source (or the other way round)"
	@echo "make bench        notebook wall times and slider latencies against their budgets"
	@echo "make bench-write  the same, and store the table in benchmarks/README.md"
	@echo "make student      write the student version (solutions stubbed, outputs cleared) into build/student/"
	@echo "make expected     store what the exercises' answers (tools/answers.py) give, for the checks to compare with"
	@echo "make grade        grade the homework: MODEL=notebooks/homework/my_model.py WEIGHTS=notebooks/homework/my_weights.pt"
	@echo "make grade-class  grade a class: DIR=submissions/ (a folder per student), GRADE_ARGS='--test-set private.pt'"

# Two workers (one notebook each at a time, --dist loadfile keeps a notebook's cells together), one
# torch thread each: these small networks gain little from a second thread.
TEST_WORKERS ?= 2
test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -rs -n $(TEST_WORKERS) --dist loadfile tests notebooks \
		--nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg

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

# The values the exercise checks compare with (lecture_utils/exercises/expected.pt), from the
# teachers' answers in tools/answers.py: after changing an exercise or an answer.
expected: $(STAMP)
	$(PY) -m tools.answers


# Every student folder in DIR (my_model.py, my_weights.pt), each in a child process with limits:
# leaderboard.csv and leaderboard.html. GRADE_ARGS: --test-set FILE.pt, --timeout S, --memory-mb M, --out DIR.
GRADE_ARGS ?=
grade-class: $(STAMP)
	$(if $(DIR),,$(error give the submissions folder: make grade-class DIR=path/to/submissions))
	$(PY) -m tools.grade_class $(DIR) $(GRADE_ARGS)

# Build every notebook from its source (sources/NAME.py) in a fresh kernel; NAMES=01 builds some.
notebooks: $(STAMP)
	$(PY) -m tools.notebooks $(NAMES)

# After editing a notebook outside `make lab` (plain Jupyter, VS Code): bring each pair in step.
sync: $(STAMP)
	$(VENV)/bin/jupytext --sync notebooks/*.ipynb notebooks/homework/*.ipynb

bench: $(STAMP)
	$(PY) -m benchmarks.run

bench-write: $(STAMP)
	$(PY) -m benchmarks.run --write

# Notebooks 01 and 02 in Hinton et al.'s MNIST setting (LECTURE_PROFILE=full), beside the published
# numbers, stored in benchmarks/README.md. For a GPU: 20 to 40 minutes there, many hours on a CPU.
published: $(STAMP)
	$(PY) -m benchmarks.published --write
