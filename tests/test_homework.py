"""The homework: its grader (every way a submission can fail), its tiers, and the student version."""
import json
import keyword
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from lecture_utils import exercises
from lecture_utils.exercises import ExerciseError, check_homework_model, check_parameter_count
from lecture_utils.exercises.homework import HOMEWORK_MODEL, PARAMETER_COUNT
from lecture_utils.grade import NOT_GRADED, OVER_BUDGET, SubmissionError, grade, main, measure
from lecture_utils.homework import BUDGET, TIER_NAMES, load_tiers
from tools.notebooks import NOTEBOOK_DIR

HOMEWORK_DIR = NOTEBOOK_DIR / "homework"
REPO = NOTEBOOK_DIR.parent
from lecture_utils.measure import count_budget
from tools.notebooks import notebook_paths
from tools.answers import ANSWERS
from tools.student import BEGIN, END, strip_solutions, write_student_version

REFERENCES = HOMEWORK_DIR / "reference_solutions.py"
TINY = """
from torch import nn

def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.ReLU(), nn.Linear(6, 10))
"""


@pytest.fixture
def submission(tmp_path):
    """A small valid submission (4,780 parameters), untrained weights."""
    (tmp_path / "model.py").write_text(TINY)
    namespace = {}
    exec(TINY, namespace)
    torch.manual_seed(0)
    torch.save(namespace["build_model"]().state_dict(), tmp_path / "weights.pt")
    return tmp_path


def _reference_solutions():
    """notebooks/homework/reference_solutions.py as a module (it is a script, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("reference_solutions", REFERENCES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_solutions_reproduce_the_committed_tiers():
    """Every reference's every seed graded again gives the numbers in tiers.json; each tier is the mean
    of its reference's seeds; strong is distilled only if that was clearly better; strong >= 99.2%."""
    from lecture_utils.evidence import Spread
    from lecture_utils.grade import Judge

    solutions, tiers = _reference_solutions(), load_tiers()
    references = tiers["references"]
    assert tiers["budget"] == BUDGET and list(references) == list(solutions.REFERENCES)
    with Judge() as judge:
        for name, ref in references.items():
            assert ref["seeds"] == list(solutions.SEEDS) and len(ref["seeds"]) >= 3
            for seed, accuracy, errors in zip(ref["seeds"], ref["accuracies"], ref["errors"]):
                g = judge.measure(f"{REFERENCES}:{ref['builder']}", solutions.weights_path(name, seed))
                assert (g.accuracy, g.errors, g.parameters) == (accuracy, errors, ref["parameters"]), (name, seed)
                assert g.parameters <= BUDGET
            assert ref["mean"] == round(Spread(ref["accuracies"]).mean, 6) and ref["sd"] == round(Spread(ref["accuracies"]).sd, 6)
    strong = solutions.strong_reference({n: r["accuracies"] for n, r in references.items()})
    assert tiers["tier_reference"] == {"simple": "plain", "medium": "separable", "strong": strong}
    for tier in TIER_NAMES:
        assert tiers["tiers"][tier] == references[tiers["tier_reference"][tier]]["mean"]
        assert tiers["parameters"][tier] == references[tiers["tier_reference"][tier]]["parameters"]
    assert tiers["tiers"]["simple"] < tiers["tiers"]["medium"] < tiers["tiers"]["strong"]
    assert tiers["tiers"]["strong"] >= 0.992  # the bar for the strong tier at 5,000 numbers
    # the distilled reference's teacher is clearly stronger than its students, as committed
    from lecture_utils.pretrained import load_teacher

    assert tiers["teacher"]["test_accuracy"] == load_teacher(solutions.TEACHER, "lecture", train_if_missing=False)[1] >= 0.995


def test_the_strong_tier_is_distilled_only_when_the_seeds_say_so():
    choose = _reference_solutions().strong_reference
    assert choose({"augmented": [0.9920, 0.9921, 0.9922], "distilled": [0.9930, 0.9931, 0.9932]}) == "distilled"
    assert choose({"augmented": [0.9920, 0.9921, 0.9922], "distilled": [0.9919, 0.9925, 0.9931]}) == "augmented"
    assert choose({"augmented": [0.9920, 0.9921, 0.9922], "distilled": [0.9910, 0.9911, 0.9912]}) == "augmented"


def test_a_valid_submission_is_graded(submission, capsys):
    assert main([str(submission / "model.py"), str(submission / "weights.pt")]) == 0
    out = capsys.readouterr().out
    assert "4,780 of 5,000" in out and "tier reached:  none yet" in out
    assert re.search(r"test accuracy: \d+\.\d\d% \(\d+ errors of 10,000\)", out)


def test_a_function_other_than_build_model(submission):
    (submission / "model.py").write_text(TINY.replace("build_model", "make_net"))
    assert measure(f"{submission / 'model.py'}:make_net", submission / "weights.pt").parameters == 4780


def run_main(capsys, model, weights):
    status = main([str(model), str(weights)])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("source,message", [
    (TINY.replace("Linear(784, 6)", "Linear(784, 7)"), "over the budget of 5,000 by 565"),
])
def test_over_budget_exits_2(submission, capsys, source, message):
    (submission / "model.py").write_text(source)
    status, err = run_main(capsys, submission / "model.py", submission / "weights.pt")
    assert status == OVER_BUDGET and message in err and "counted, not bytes" in err


@pytest.mark.parametrize("source,message", [
    ("import not_a_module\n", "importing .* failed: ModuleNotFoundError"),
    ("def build_model(:\n", "importing .* failed: SyntaxError"),
    ("def make():\n    pass\n", r"has no function build_model\(\); it defines: make"),
    ("def build_model():\n    raise NotImplementedError\n", "still raises NotImplementedError"),
    ("def build_model():\n    return 1 / 0\n", "building the model failed: ZeroDivisionError"),
    ("def build_model():\n    return 'a model'\n", "must return a torch.nn.Module, it returned str"),
    (TINY.replace("Linear(6, 10)", "Linear(6, 9)"), "do not fit the network"),
    (TINY.replace("nn.ReLU()", "nn.Unflatten(1, (5, 5))"), "failed on a batch of MNIST images"),
])
def test_broken_models_exit_1_with_a_message(submission, capsys, source, message):
    (submission / "model.py").write_text(source)
    status, err = run_main(capsys, submission / "model.py", submission / "weights.pt")
    assert status == NOT_GRADED and re.search(message, err), err


def test_wrong_output_shape(submission, capsys):
    (submission / "model.py").write_text(TINY.replace("nn.Linear(6, 10))", "nn.Linear(6, 10), nn.Flatten(0))"))
    status, err = run_main(capsys, submission / "model.py", submission / "weights.pt")
    assert status == NOT_GRADED and "shape (2, 10)" in err


def test_missing_files_exit_1(submission, capsys):
    status, err = run_main(capsys, submission / "nope.py", submission / "weights.pt")
    assert status == NOT_GRADED and "no model file" in err
    status, err = run_main(capsys, submission / "model.py", submission / "nope.pt")
    assert status == NOT_GRADED and "no weights file" in err


class Pickled(nn.Module):
    pass


def test_bad_weights_exit_1(submission, capsys):
    (submission / "garbage.pt").write_bytes(b"not a checkpoint")
    status, err = run_main(capsys, submission / "model.py", submission / "garbage.pt")
    assert status == NOT_GRADED and "weights_only=True" in err
    torch.save(Pickled(), submission / "whole_model.pt")  # a pickled module: refused, never executed
    status, err = run_main(capsys, submission / "model.py", submission / "whole_model.pt")
    assert status == NOT_GRADED and "Save the state dict, not the model" in err
    torch.save([torch.zeros(3)], submission / "list.pt")
    status, err = run_main(capsys, submission / "model.py", submission / "list.pt")
    assert status == NOT_GRADED and "does not hold a state dict" in err


def test_the_command_line_works_as_a_module(submission):
    result = subprocess.run([sys.executable, "-m", "lecture_utils.grade", str(submission / "model.py"), "missing.pt"],
                            capture_output=True, text=True, cwd=submission)
    assert result.returncode == NOT_GRADED and "no weights file" in result.stderr


def test_tiers_file_for_another_budget_is_refused(tmp_path):
    path = tmp_path / "tiers.json"
    path.write_text(json.dumps({"budget": 123, "tiers": {n: 0.9 for n in TIER_NAMES}}))
    with pytest.raises(ValueError, match="another budget"):
        load_tiers(path)
    with pytest.raises(FileNotFoundError, match="make checkpoints"):
        load_tiers(tmp_path / "missing.json")


# ---- the homework's exercises -----------------------------------------------------------------

def test_homework_checks_pass_on_the_reference(capsys):
    check_parameter_count(count_budget)
    namespace = {}
    exec(TINY, namespace)
    check_homework_model(namespace["build_model"])
    assert capsys.readouterr().out.count("✓") == 2


def _hint_id(mistake) -> str:
    return re.sub(r"\W+", "-", re.sub(r"\{[^}]*\}", "", mistake.hint)).strip("-")[:40] if mistake else "valid"


@pytest.mark.parametrize("mistake,example", [*zip(PARAMETER_COUNT.catalogue, ANSWERS[PARAMETER_COUNT.name].examples)],
                         ids=[_hint_id(m) for m in PARAMETER_COUNT.catalogue])
def test_parameter_count_hints(mistake, example):
    with pytest.raises(ExerciseError) as info:
        check_parameter_count(example)
    assert info.value.mistake is mistake and max(re.split(r"\{[^}]*\}", mistake.hint), key=len) in str(info.value)


# Each catalogued mistake gets its own hint; a network without ReLU is still a valid homework model.
@pytest.mark.parametrize("mistake,example", [*zip(HOMEWORK_MODEL.catalogue, ANSWERS[HOMEWORK_MODEL.name].examples),
                                             (None, None)], ids=[_hint_id(m) for m in [*HOMEWORK_MODEL.catalogue, None]])
def test_homework_model_hints(mistake, example):
    if mistake is None:
        check_homework_model(lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.Linear(6, 10)))
        return
    with pytest.raises(ExerciseError) as info:
        check_homework_model(example)
    assert info.value.mistake is mistake and max(re.split(r"\{[^}]*\}", mistake.hint), key=len) in str(info.value)


# ---- the student version --------------------------------------------------------------------

def test_strip_solutions_keeps_the_indentation_and_the_rest():
    source = f"def f(x):\n    {BEGIN}\n    y = x + 1\n    return y\n    {END}\n\n\ncheck(f)"
    assert strip_solutions(source) == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n\n\ncheck(f)"
    with pytest.raises(ValueError, match="unbalanced"):
        strip_solutions(f"{BEGIN}\nx = 1\n")


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    write_student_version(out)
    return out


def test_the_student_version_is_not_written_while_the_stored_values_are_out_of_date(tmp_path, monkeypatch):
    import tools.answers

    monkeypatch.setattr(tools.answers, "out_of_date", lambda: ["binarize: 2 cases stored, 3 now"])
    with pytest.raises(RuntimeError, match=r"out of date \(binarize: 2 cases stored, 3 now\): run `make expected`"):
        write_student_version(tmp_path / "student")
    assert not (tmp_path / "student").exists()


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_generator_is_deterministic(student, tmp_path):
    write_student_version(tmp_path / "again")
    assert _files(student) == _files(tmp_path / "again")


def test_student_version_has_every_notebook_without_outputs_or_solutions(student):
    for path in notebook_paths():
        relative = path.relative_to(HOMEWORK_DIR.parent)
        solution = nbformat.read(path, as_version=4)
        handout = nbformat.read(student / "notebooks" / relative, as_version=4)
        stubs = [c for c in handout.cells if "raise NotImplementedError" in c.source and "# YOUR CODE HERE" in c.source]
        assert len(stubs) >= 2, f"{relative}: fewer than two exercises"
        assert not any(BEGIN in c.source or END in c.source for c in handout.cells)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in handout.cells if c.cell_type == "code")
        assert "widgets" not in handout.metadata
        # no line of any solution appears in the handout (beyond trivial lines like "return y")
        handout_text = "\n".join(c.source for c in handout.cells)
        for cell in solution.cells:
            for region in re.findall(rf"{BEGIN}\n(.*?){END}", cell.source, re.S):
                for line in region.strip().splitlines():
                    line = line.strip()
                    if len(line) > 20 and not line.startswith("#"):
                        assert line not in handout_text, f"{relative}: solution line leaked: {line!r}"


def test_teachers_only_files_stay_out_and_support_files_go_in(student):
    files = _files(student)
    assert not any("reference_solutions" in f or f.startswith("notebooks/homework/reference/") for f in files)
    assert "lecture_utils/weights/homework_tiers.json" in files
    for needed in ("lecture_utils/grade.py", "pyproject.toml", "Makefile", "lecture_utils/weights/teacher.pt", "README.md",
                   "lecture_utils/exercises/expected.pt"):
        assert needed in files, needed
    assert not any("__pycache__" in f for f in files)
    assert not any(f.startswith(("tools/", "tests/", "sources/")) for f in files)  # the answers are in tools/


def test_in_the_student_version_each_check_fails_with_its_hint_and_passes_on_the_solution(student):
    """With the student version's own package, in a fresh process (tests/student_version_checks.py):
    each exercise's reference passes, each known mistake gets its hint and a stub the
    NotImplementedError hint; each exercise cell passes with its solution and, as handed out,
    fails with the NotImplementedError hint."""
    script = Path(__file__).with_name("student_version_checks.py")
    run = subprocess.run([sys.executable, str(script), str(student), str(REPO)], cwd=student,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert result["wrong"] == [], "\n".join(result["wrong"])
    assert result["exercises"] == len(exercises.EXERCISES)
    # two exercises in every notebook besides its design task (the homework model: a %%writefile cell, checked apart)
    assert result["cells"]["not implemented"] >= 2 * len(notebook_paths()) - 1
    assert result["cells"]["passed"] >= result["cells"]["not implemented"]
    # only the design tasks need the notebook's own tensors (nbval runs them there); no other cell is skipped
    assert result["cells"]["needs the notebook"] == len(exercises.DESIGN_TASKS)


def test_the_student_version_checks_nothing_but_what_it_has(tmp_path):
    """The script above notices checks that are not the student version's, and the teachers' tools."""
    script = Path(__file__).with_name("student_version_checks.py")  # tmp_path: a "student version" without lecture_utils
    run = subprocess.run([sys.executable, str(script), str(tmp_path), str(REPO)], cwd=tmp_path,
                         capture_output=True, text=True)
    wrong = json.loads(run.stdout.splitlines()[-1])["wrong"]
    assert any("not from the student version" in w for w in wrong)


# ---- no answer in the student version's package ----------------------------------------------

TOKEN = re.compile(r"""[A-Za-z_]\w*|\d+(?:\.\d*)?|"[^"\n]*"|'[^'\n]*'""")
REGION = re.compile(rf"{BEGIN}[^\n]*\n(.*?){END}", re.S)


def _solution_lines() -> set[str]:
    """Every line of the notebooks' solutions (sources/) with at least two meaningful tokens (names
    that are not keywords, numbers, strings), without its comment."""
    lines = set()
    for path in sorted((REPO / "sources").rglob("*.py")):
        for region in REGION.findall(path.read_text()):
            for line in region.splitlines():
                code = line.split("  #")[0].strip()
                if not code.startswith("#") and len([t for t in TOKEN.findall(code) if not keyword.iskeyword(t)]) >= 2:
                    lines.add(code)
    return lines


def test_no_line_of_a_solution_is_in_the_student_package(student):
    """No solution line of two or more meaningful tokens appears verbatim in any .py file of the
    student version: not in the checks, and not in the lecture's own tools that the notebooks call
    (no exercise asks for what a library function computes)."""
    lines = _solution_lines()
    assert len(lines) > 40
    leaked = [f"{path.relative_to(student)}:{lineno}: {solution}"
              for path in sorted(student.rglob("*.py"))
              for lineno, line in enumerate(path.read_text().splitlines(), 1)
              for solution in sorted(s for s in lines if s in line)]
    assert not leaked, "solution lines in the student version:\n" + "\n".join(leaked)


# Exercises whose answer the library computes under another form (README: the student version): the
# notebooks call these functions, so the student version has them. Not a verbatim line (the test above),
# but a student who opens them reads how the lecture does what the exercise asks.
LIBRARY_COUNTERPARTS = {
    "uniform quantization": "quantization.quantize_uniform",
    "binarize": "binary.binarize",
    "straight-through estimator": "binary.BinaryLinear",
    "convolution costs": "architecture.conv_costs",
    "depthwise separable block": "architecture.DepthwiseSeparableConv2d",
    "counting parameters": "measure.count_budget",
}


def test_the_exercises_with_a_library_counterpart_are_the_ones_listed():
    """Every exercise whose teachers' answer is a library function is listed above, each listed
    counterpart exists, and the README names every one of them."""
    import importlib

    from tools.answers import ANSWERS

    by_library = {name for name, answers in ANSWERS.items()
                  if getattr(answers.reference, "__module__", "").startswith("lecture_utils")}
    assert by_library <= set(LIBRARY_COUNTERPARTS), by_library - set(LIBRARY_COUNTERPARTS)
    assert set(LIBRARY_COUNTERPARTS) <= set(ANSWERS)
    readme = (REPO / "README.md").read_text()
    for where in LIBRARY_COUNTERPARTS.values():
        module, name = where.split(".")
        assert hasattr(importlib.import_module(f"lecture_utils.{module}"), name), where
        assert f"`{where}`" in readme, f"README does not name {where}"


def test_the_homework_handout_model_file_gets_its_hint(student, tmp_path):
    cell = next(c for c in nbformat.read(student / "notebooks/homework/homework.ipynb", as_version=4).cells
                if c.source.startswith("%%writefile my_model.py"))
    (tmp_path / "my_model.py").write_text(cell.source.split("\n", 1)[1])
    namespace = {}
    exec((tmp_path / "my_model.py").read_text(), namespace)
    with pytest.raises(ExerciseError, match="NotImplementedError"):
        check_homework_model(namespace["build_model"])
    with pytest.raises(SubmissionError, match="still raises NotImplementedError"):
        grade(str(tmp_path / "my_model.py"), tmp_path / "none.pt")


def test_readme_tier_table_matches_tiers_json():
    readme = (HOMEWORK_DIR.parent.parent / "README.md").read_text()
    tiers = load_tiers()
    for name in TIER_NAMES:
        row = next(line for line in readme.splitlines() if line.startswith(f"| {name} |"))
        assert f"{100 * tiers['tiers'][name]:.2f}%" in row and f"{tiers['parameters'][name]:,}" in row, row


def test_every_target_of_the_student_makefile_works_there(student, tmp_path):
    """The student version's Makefile offers only what runs without the teachers' checkout: each
    advertised target's commands (dry run) name modules and files that the student version has."""
    student = Path(shutil.copytree(student, tmp_path / "student"))
    makefile = (student / "Makefile").read_text()
    targets = re.findall(r'@echo "make (\w[\w-]*)', makefile)
    assert set(targets) == {"lab", "grade"}, targets
    (student / ".venv" / "bin").mkdir(parents=True)
    (student / ".venv" / ".installed").touch()  # a dry run that skips the install step
    for target in ["help", *targets]:
        run = subprocess.run(["make", "-n", "-C", str(student), target], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        for module in re.findall(r"-m ([\w.]+)", run.stdout):
            path = student / Path(*module.split("."))
            assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), f"make {target}: {module}"
