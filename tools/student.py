"""The student version of the lecture: ``make student`` (``python -m tools.student``).

Writes into ``build/student/`` a copy that runs on its own (``make lab`` there), in which every
notebook has each region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` replaced by

    # YOUR CODE HERE
    raise NotImplementedError

(indented like the region) and all outputs cleared; in a markdown cell (the teachers' answer to a
"what did you see?" question) the region becomes "*Your answer here.*". Each exercise's ``check_...`` call then
fails with its hint until the student fills the function in. The checks compare with the values
stored in ``lecture_utils/exercises/expected.pt``; the answers that give them (``tools/answers.py``)
stay out with every other tool, and the version is not written while those values are out of
date (``make expected``). The homework's reference solutions and their weights are left out; its
measured tiers go along. The same sources always give the same bytes (deterministic), so the
output can be diffed and versioned by a teacher.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from lecture_utils.files import atomic_write_bytes
from .notebooks import NOTEBOOK_DIR, notebook_paths

REPO = NOTEBOOK_DIR.parent
DEFAULT_OUT = REPO / "build" / "student"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = "# YOUR CODE HERE\nraise NotImplementedError"
# A "what did you see?" question's answer, in a markdown cell between the same markers: the student writes there.
ANSWER_STUB = "*Your answer here.*"
# Copied as they are: what a student needs to run the notebooks.
SUPPORT = ["lecture_utils", "pyproject.toml", "environment.yml", ".gitignore", "lecture.mk"]
# The students' Makefile: only what works without the teachers' checkout (no tests, tools or sources);
# its rules are the lecture's own, from lecture.mk.
STUDENT_MAKEFILE = """\
# `make lab` sets everything up and opens the lecture; `make grade` grades your homework.
INSTALL := -e .
include lecture.mk

.PHONY: lab grade help
.DEFAULT_GOAL := help
help:
\t@echo "make lab    create .venv if needed, install, open JupyterLab on notebooks/"
\t@echo "make grade  grade the homework: MODEL=notebooks/homework/my_model.py WEIGHTS=notebooks/homework/my_weights.pt"
"""
# Never handed out: the homework's reference solutions and their trained weights.
TEACHERS_ONLY = ["homework/reference_solutions.py", "homework/reference"]

SOLUTION = re.compile(rf"^([ \t]*){re.escape(BEGIN)}[^\n]*\n.*?^[ \t]*{re.escape(END)}[^\n]*$", re.M | re.S)


def strip_solutions(source: str, stub_text: str = STUB) -> str:
    """Replace each solution region of a cell's source by the stub, at the region's indentation."""
    def stub(match):
        indent = match.group(1)
        return "\n".join(indent + line for line in stub_text.splitlines())

    if source.count(BEGIN) != source.count(END):
        raise ValueError(f"unbalanced solution markers in a cell starting {source[:60]!r}")
    return SOLUTION.sub(stub, source)


def student_notebook(nb):
    """A copy of notebook ``nb`` with solutions stubbed and every output and widget state removed."""
    import copy

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = strip_solutions(cell.source, ANSWER_STUB)
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    return nb


def _ignored(path: Path) -> bool:
    return any(part in ("__pycache__", ".ipynb_checkpoints") for part in path.parts)


def _copy(src: Path, dst: Path) -> None:
    if src.is_dir():
        for f in sorted(src.rglob("*")):
            if f.is_file() and not _ignored(f.relative_to(src)):
                _copy(f, dst / f.relative_to(src))
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dst, src.read_bytes())


STUDENT_README = """# Network compression, the interactive lecture (student version)

```bash
make lab    # first time: creates .venv and installs everything (a few minutes), then opens JupyterLab on notebooks/
```

Work through the notebooks in order. Each exercise is a function with `# YOUR CODE HERE` and
`raise NotImplementedError`: replace those two lines with your code and run the cell. The
`check_...` call below it runs your function on small examples and says either that it is right
or what is wrong.

The homework is in `notebooks/homework/`: build the most accurate MNIST classifier that carries at most
{budget:,} numbers (parameters and buffers; batch norm's running statistics aside), save its weights, and grade it yourself:

```bash
.venv/bin/python -m lecture_utils.grade notebooks/homework/my_model.py notebooks/homework/my_weights.pt
```

Without internet, put MNIST's four files in `DIR/MNIST/raw/` and set `LECTURE_DATA_DIR=DIR`.
"""


def write_student_version(out: Path = DEFAULT_OUT) -> list[Path]:
    """Write the student version into ``out`` (emptied first); return the notebooks written. Refused
    (RuntimeError) while the exercises' stored values are out of date."""
    import nbformat

    from lecture_utils.homework import BUDGET
    from .answers import out_of_date

    stale = out_of_date()
    if stale:
        raise RuntimeError(f"the exercises' stored values are out of date ({stale[0]}"
                           f"{f' and {len(stale) - 1} more' if len(stale) > 1 else ''}): run `make expected` first")
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    written = []
    for path in notebook_paths():
        relative = path.relative_to(NOTEBOOK_DIR)
        nb = student_notebook(nbformat.read(path, as_version=4))
        target = out / "notebooks" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, (nbformat.writes(nb) + "\n").encode())
        written.append(target)
    for extra in sorted(NOTEBOOK_DIR.rglob("*")):
        relative = extra.relative_to(NOTEBOOK_DIR)
        if (extra.is_file() and extra.suffix != ".ipynb" and not _ignored(relative)
                and not any(relative.as_posix().startswith(t) for t in TEACHERS_ONLY)
                and not relative.name.startswith("my_")):
            _copy(extra, out / "notebooks" / relative)
    for name in SUPPORT:
        _copy(REPO / name, out / name)
    atomic_write_bytes(out / "Makefile", STUDENT_MAKEFILE.encode())
    atomic_write_bytes(out / "README.md", STUDENT_README.format(budget=BUDGET).encode())
    return written


def main(argv=None) -> None:
    """The command line (``make student``): write the student version into ``--out``."""
    parser = argparse.ArgumentParser(description="Write the student version of every notebook and the homework.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write it (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        written = write_student_version(args.out)
    except RuntimeError as error:
        sys.exit(f"make student: {error}")
    print(f"wrote {len(written)} student notebooks and what they need into {args.out}")


if __name__ == "__main__":
    main()
