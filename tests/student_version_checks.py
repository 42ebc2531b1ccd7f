"""Grade with the student version's own checks: ``python student_version_checks.py STUDENT REPO``.

Run by tests/test_homework.py in a fresh process, so that ``lecture_utils`` is the copy in the
student version STUDENT (not this checkout's) and the teachers' answers cannot be imported from
it. Then, with the answers taken from the teachers' checkout REPO: every exercise's reference
passes, each known mistake gets its own hint, a stub gets the not-implemented hint; and each
exercise cell of the notebooks passes with its solution (REPO's notebook) and fails with the
not-implemented hint as handed out (STUDENT's); a cell whose check needs the notebook's own tensors
(a design task's) is counted as needing the notebook (nbval runs it there), one that only goes on with
them after its check passed is graded like the others. Prints one JSON object: what went wrong, and counts
(only what went wrong when the checks are not the student version's own).
"""
import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path

student, repo = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
sys.path.insert(0, str(student))

import nbformat  # noqa: E402
import torch  # noqa: E402

import lecture_utils.exercises as exercises  # noqa: E402
from lecture_utils.exercises import EXERCISES, ExerciseError  # noqa: E402
from lecture_utils.exercises.harness import NOT_IMPLEMENTED  # noqa: E402

BEGIN = "### BEGIN SOLUTION"
wrong = []
if not Path(exercises.__file__).resolve().is_relative_to(student):
    wrong.append(f"the checks were imported from {exercises.__file__}, not from the student version")
if importlib.util.find_spec("tools") is not None:
    wrong.append("the student version has the teachers' tools")
if wrong:  # not the student version's own checks: nothing to grade with
    print(json.dumps({"wrong": wrong}))
    sys.exit()
sys.path.append(str(repo))  # now the answers, which use the student version's library
from tools.answers import ANSWERS  # noqa: E402


def outcome(check, fn):
    """'passed', or the ExerciseError raised; anything else raised is a failure of the check itself."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            check(fn)
        except ExerciseError as error:
            return error
    return "passed" if out.getvalue().startswith("✓") else f"printed {out.getvalue()!r}"


def stub(*args):
    raise NotImplementedError


for exercise in EXERCISES:
    answers = ANSWERS[exercise.name]
    if outcome(exercise.check, answers.reference) != "passed":
        wrong.append(f"{exercise.name}: the reference does not pass")
    got = outcome(exercise.check, stub)
    if str(got) != f"{exercise.name}: not yet. {NOT_IMPLEMENTED}":
        wrong.append(f"{exercise.name}: a stub gets {got}")
    for mistake, example in zip(exercise.catalogue, answers.examples):
        got = outcome(exercise.check, example)
        if getattr(got, "mistake", None) is not mistake:
            wrong.append(f"{exercise.name}: the example of {mistake.hint[:40]!r} gets {got}")

checks = {name: getattr(exercises, name) for name in dir(exercises) if name.startswith("check_")}
cells = {"passed": 0, "not implemented": 0, "needs the notebook": 0}
for path in sorted((repo / "notebooks").rglob("*.ipynb")):
    if ".ipynb_checkpoints" in path.parts:
        continue
    relative = path.relative_to(repo / "notebooks")
    pairs = zip(nbformat.read(path, as_version=4).cells,
                nbformat.read(student / "notebooks" / relative, as_version=4).cells)
    for solution_cell, student_cell in pairs:
        if solution_cell.cell_type != "code" or BEGIN not in solution_cell.source or solution_cell.source.startswith("%%"):
            continue
        namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional, "np": __import__("numpy"), **checks}
        with contextlib.redirect_stdout(io.StringIO()) as out:
            try:
                exec(solution_cell.source, dict(namespace))
            except NameError:  # the cell goes on with the notebook's own tensors, or a design task is measured on them
                if "✓" not in out.getvalue():  # the check itself needs the notebook: nbval runs it there
                    cells["needs the notebook"] += 1
                    continue
            except ExerciseError as error:  # a design task whose function uses the notebook's names
                if "raised NameError" not in str(error):
                    wrong.append(f"{relative}: a solution fails: {type(error).__name__}: {error}")
                    continue
                cells["needs the notebook"] += 1
                continue
            except Exception as error:  # noqa: BLE001 - reported, not raised
                wrong.append(f"{relative}: a solution fails: {type(error).__name__}: {error}")
        cells["passed"] += out.getvalue().count("✓")
        try:
            exec(student_cell.source, dict(namespace))
            wrong.append(f"{relative}: a stubbed exercise raised nothing")
        except Exception as error:  # noqa: BLE001 - reported, not raised
            if isinstance(error, ExerciseError) and NOT_IMPLEMENTED in str(error):
                cells["not implemented"] += 1
            else:
                wrong.append(f"{relative}: a stubbed exercise gets {type(error).__name__}: {error}")

print(json.dumps({"wrong": wrong, "exercises": len(EXERCISES), "cells": cells}))
