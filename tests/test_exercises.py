"""The exercise checks: every exercise in the registry is graded through its own catalogue.

For each exercise: its reference (in the teachers' ``tools/answers.py``) passes; each catalogued
mistake's example fails with exactly its own hint; a stub raising NotImplementedError gets the
not-implemented hint; any other error gives one message (its type and text, no chained
traceback). The values the checks compare with (``expected.pt``) are what the answers give now,
and the checks use no answer. Beyond the catalogues: other right answers pass, some wrong
answers no mistake describes get the generic hint, and no hint contains a line of a notebook's
solution.
"""
import ast
import dataclasses
import inspect
import re
import string
import traceback
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lecture_utils.exercises as exercises
from lecture_utils import binarize
from lecture_utils.exercises import EXERCISES, ExerciseError, check_homework_model
from lecture_utils.exercises.harness import EXPECTED_FILE, NOT_IMPLEMENTED, load_expected
from lecture_utils.measure import count_budget
from tools.answers import ANSWERS, expected_values, out_of_date

SOURCES = Path(__file__).resolve().parent.parent / "sources"
BY_NAME = {e.name: e for e in EXERCISES}

# The notebooks import these, with these parameters (an exercise replaced takes its check with it).
SIGNATURES = {name: ["fn"] for name in [
    "check_temperature_for", "check_dark_knowledge", "check_digit_mass", "check_flip_shifts",
    "check_error_overlap", "check_unit_match", "check_soft_target_gradient", "check_logit_agreement",
    "check_quantize_uniform", "check_sqnr", "check_centroid_gradients",
    "check_prefix_free", "check_binarize", "check_straight_through", "check_conv_costs",
    "check_separable_block", "check_separable_approximation", "check_rank_for_energy", "check_exit_gradients",
    "check_accuracy_by_confidence", "check_gap_bits", "check_coded_sizes", "check_parameter_count",
]}
SIGNATURES["check_homework_model"] = ["build_fn", "budget"]
# Design tasks: the student's function, and what it is measured on.
DESIGN_SIGNATURES = {"check_exit_threshold": ["fn", "validation", "test", "macs"],
                     "check_cascade_threshold": ["fn", "chosen_on", "test"],
                     "check_costly_false_alarms": ["fn", "cls", "chosen_on", "test"],
                     "check_distillation_temperature": ["fn", "validation", "transfer", "test", "hidden", "epochs", "lr"],
                     "check_binary_budget": ["fn", "train", "chosen_on", "test", "epochs"],
                     "check_demo_recipe": ["fn", "model", "teacher", "epochs", "train_size", "test"],
                     "check_mimic_temperature": ["fn", "chosen_on", "test"],
                     "check_bit_budget": ["fn", "model", "chosen_on", "test"],
                     "check_separable_widths": ["fn"],
                     "check_file_budget": ["fn", "model", "config", "chosen_on", "test"],
                     "check_cluster_count": ["fn", "model", "layer", "chosen_on", "test"],
                     "check_rank_budget": ["fn", "model", "chosen_on", "test"]}
CHECKS = {name: getattr(exercises, name) for name in dir(exercises)
          if name.startswith("check_") and name not in DESIGN_SIGNATURES}


def stub(*args):
    raise NotImplementedError


def pattern(template: str) -> str:
    """A regular expression for a hint template: its text literally, each {field} as anything."""
    return "".join(re.escape(text) + (".*?" if name is not None else "")
                   for text, name, _, _ in string.Formatter().parse(template))


def literals(template: str) -> list[str]:
    return [text for text, _, _, _ in string.Formatter().parse(template) if text.strip()]


def failure(exercise, fn) -> ExerciseError:
    """The one ExerciseError that grading ``fn`` raises: its own message, no chained traceback."""
    with pytest.raises(ExerciseError) as info:
        exercise.check(fn)
    error = info.value
    assert error.exercise is exercise
    assert error.__cause__ is None and error.__suppress_context__
    assert str(error).startswith(f"{exercise.name}: not yet. ")
    return error


def has_hint(error: ExerciseError, hint: str) -> bool:
    return re.fullmatch(rf"[^\n]*?: not yet\. (?:[^\n]*?: )?{pattern(hint)}", str(error), re.S) is not None


def ids(values):
    return [f"{e.name}-{i}" for e, i in values]


# ---- the registry and the names the notebooks import -------------------------------------------

def test_every_check_is_exported_with_its_signature():
    assert set(CHECKS) == set(SIGNATURES)
    for name, params in {**SIGNATURES, **DESIGN_SIGNATURES}.items():
        assert list(inspect.signature(getattr(exercises, name)).parameters) == params, name
    assert inspect.signature(check_homework_model).parameters["budget"].default is None
    assert issubclass(ExerciseError, AssertionError)


def test_each_check_grades_one_registered_exercise():
    graded = []
    for name, check in CHECKS.items():
        with pytest.raises(ExerciseError) as info:
            check(stub)
        graded.append(info.value.exercise)
    assert sorted(e.name for e in graded) == sorted(e.name for e in EXERCISES)
    assert all(any(e is r for r in EXERCISES) for e in graded)


# ---- the answers and the stored values they give ----------------------------------------------------

def test_every_exercise_has_its_answers_one_example_per_known_mistake():
    assert set(ANSWERS) == set(BY_NAME) and len(BY_NAME) == len(EXERCISES)
    for exercise in EXERCISES:
        assert len(ANSWERS[exercise.name].examples) == len(exercise.catalogue), exercise.name


def test_an_exercise_without_its_answers_is_named():
    flips = BY_NAME["the shift that flips an answer"]
    with pytest.raises(ValueError, match="a new exercise: no answers in tools/answers.py"):
        expected_values((dataclasses.replace(flips, name="a new exercise"),))
    with pytest.raises(ValueError, match="the shift that flips an answer: 5 examples for 4 known mistakes"):
        expected_values((dataclasses.replace(flips, mistakes=flips.mistakes[:-1]),))


def test_the_stored_values_are_up_to_date():
    problems = out_of_date()
    assert not problems, "expected.pt is out of date, run `make expected`:\n" + "\n".join(problems)


def test_a_stale_stored_value_is_found():
    """Each way of going out of date is reported: a right result, a mistake's result, a case, an exercise."""
    def stored_with(change):
        stored = {name: [{"want": c["want"], "mistakes": dict(c["mistakes"])} for c in cases]
                  for name, cases in load_expected().items()}
        change(stored)
        return stored

    def wrong_want(stored):
        stored["the shift that flips an answer"][0]["want"] = stored["the shift that flips an answer"][0]["want"].flip(-1)

    def wrong_mistake(stored):
        stored["the shift that flips an answer"][0]["mistakes"][4] = torch.zeros(6)

    assert out_of_date(stored_with(lambda s: None)) == []
    assert out_of_date(stored_with(wrong_want)) == ["the shift that flips an answer, case 0: the right answer's result differs"]
    assert out_of_date(stored_with(wrong_mistake)) == ["the shift that flips an answer, case 0: mistake 4's result differs"]
    assert out_of_date(stored_with(lambda s: s["the rounding noise"].pop())) == ["the rounding noise: 3 cases stored, 4 now"]
    assert out_of_date(stored_with(lambda s: s.pop("binarize"))) == ["binarize: nothing stored"]
    assert out_of_date(stored_with(lambda s: s["binarize"][0]["mistakes"].update({0: 1}))) == [
        "binarize, case 0: other mistakes stored"]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_a_stored_result_is_of_the_kind_the_answer_gives(exercise):
    """A NamedTuple result (a gradient traced, a block described) comes back as one: ``result`` is set."""
    case = exercise.cases()[0]
    assert type(exercise.expected()[0]["want"]) is type(exercise.run(ANSWERS[exercise.name].reference, case))


def test_the_stored_values_load_without_pickled_code():
    assert EXPECTED_FILE.parent.name == "exercises" and EXPECTED_FILE.is_file()
    torch.load(EXPECTED_FILE, weights_only=True)


# Answers a check may still call, and why: not to compare with, but as the rule it measures by.
MEASURED_BY = {("homework.py", "count_budget"): "the homework model is counted as the grader counts it",
               ("distillation.py", "distillation_loss"): "notebook 01's design task trains with the lecture's loss"}


def test_the_checks_use_no_answer():
    """No exercise module defines or imports a function that is an answer (the library's included)."""
    named = {a.reference.__name__ for a in ANSWERS.values()} - {"<lambda>"}
    assert {"temperature_for", "centroid_gradients", "count_budget"} <= named
    for path in sorted(Path(exercises.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        used = {name for name in (defined | imported) & named if (path.name, name) not in MEASURED_BY}
        assert not used, f"{path.name} uses the answers {used}"


# ---- grading through each catalogue ------------------------------------------------------------------

@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_the_reference_passes(exercise, capsys):
    exercise.check(ANSWERS[exercise.name].reference)
    out = capsys.readouterr().out
    assert out.count("✓") == 1 and out.startswith(f"✓ {exercise.name}: ") and "{" not in out


MISTAKES = [(e, i) for e in EXERCISES for i in range(len(e.catalogue))]


@pytest.mark.parametrize("exercise,index", MISTAKES, ids=ids(MISTAKES))
def test_each_known_mistake_gets_exactly_its_hint(exercise, index):
    mistake = exercise.catalogue[index]
    error = failure(exercise, ANSWERS[exercise.name].examples[index])
    assert error.mistake is mistake, str(error)
    assert has_hint(error, mistake.hint), str(error)
    assert not any(name and "{" + name in str(error) for _, name, _, _ in string.Formatter().parse(mistake.hint)), \
        f"a field left unfilled: {error}"
    for other in exercise.catalogue:
        if other is not mistake:
            assert max(literals(other.hint), key=len) not in str(error), f"two hints in one message: {error}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_a_stub_gets_the_not_implemented_hint(exercise):
    error = failure(exercise, stub)
    assert str(error) == f"{exercise.name}: not yet. {NOT_IMPLEMENTED}"
    assert "NotImplementedError: replace it with your code" in str(error) and error.mistake is None


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.name)
def test_another_error_gives_one_message_without_a_chained_traceback(exercise):
    def broken(*args):
        raise ValueError("a bug of the student's, 42")

    error = failure(exercise, broken)
    assert str(error).endswith("your function raised ValueError: a bug of the student's, 42")
    shown = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    assert "During handling of the above exception" not in shown and "direct cause" not in shown


# ---- beyond the catalogues -------------------------------------------------------------------

def _temperature_by_halving_t(z, top):
    """Another way to the same T: bisection on T itself (not log T), in float32, returning a 0-dim tensor."""
    low, high = torch.tensor(0.01), torch.tensor(1000.0)
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if torch.softmax(z / middle, -1).max() > top else (low, middle)
    return (low + high) / 2


def _flip_shifts_by_the_top_two(z, c):
    top2 = z.topk(2, dim=1).values  # the best other class is the runner-up where c is on top
    return torch.where(z.argmax(1) == c, top2[:, 1], top2[:, 0]) - z[:, c]


def _prefix_free_by_decoding(code):
    """Prefix-free when no code, read as a bit string, starts with another symbol's whole code."""
    return not any(code[b][:len(code[a])] == code[a] for a in code for b in code if a != b)


def _gap_bits_from_the_symbols(positions, caps):
    """The library's own symbols (as the file writes them), counted: the exercise agrees with the file format."""
    from lecture_utils.deep_compression import gaps_with_escape
    from lecture_utils.measure import fixed_length_bits

    return {m: len(gaps_with_escape(list(positions), m)) * fixed_length_bits(m + 1) for m in caps}


def _exit_gradients_by_backward(net, images, labels):
    norms = []
    for logits in net(images):
        net.zero_grad()
        F.cross_entropy(logits, labels).backward(retain_graph=True)
        norms.append(torch.sqrt(sum((p.grad ** 2).sum() for p in net.blocks[0].parameters())))
    return torch.stack(norms)  # a tensor is a list of numbers too


def _separable_with_the_scale_on_the_depthwise_side(w):
    depthwise, pointwise = [], []
    for i in range(w.shape[1]):
        u, s, vh = torch.linalg.svd(w[:, i].reshape(len(w), -1), full_matrices=False)
        depthwise.append(-s[0] * vh[0].reshape(w.shape[2:]))  # the sign is free too
        pointwise.append(-u[:, 0])
    return torch.stack(depthwise), torch.stack(pointwise, dim=1)


def _costs_counted_by_pytorch(i, o, k, n):
    """What the library measures on real modules (an n x n input, padding k // 2): the counts are the formulas."""
    from lecture_utils.architecture import conv_costs

    costs = conv_costs(i, o, k, size=n)
    return [costs["normal"], costs["separable"], costs["macs_normal"], costs["macs_separable"]]


ALSO_RIGHT = [  # other ways of being right, as students write them
    ("what the soft targets say beyond the label",  # a 0-dim tensor is a number too
     lambda z, y, t: (1 - torch.softmax(z / t, 1).gather(1, y[:, None])).mean()),
    ("what the soft targets say beyond the label",
     lambda z, y, t: torch.softmax(z / t, 1).masked_fill(F.one_hot(y, z.shape[1]).bool(), 0).sum(1).mean().item()),
    ("where the teacher hides a digit", lambda z, y, d, t: {c: torch.softmax(z[y == c] / t, 1)[:, d].mean()
                                                             for c in y.unique()}),  # tensors for keys and values
    ("soft-target gradient", lambda z, v, t: torch.func.grad(
        lambda zz: t**2 * F.kl_div(F.log_softmax(zz / t, 1), F.softmax(v / t, 1), reduction="batchmean"))(z)),
    ("the temperature for a top probability", _temperature_by_halving_t),
    ("the shift that flips an answer", _flip_shifts_by_the_top_two),
    ("how much of the teacher's logits a student reproduces",  # centred by a matrix, a 0-dim tensor
     lambda z, v: 1 - ((z - v) @ (torch.eye(10) - 0.1)).pow(2).sum() / (v @ (torch.eye(10) - 0.1)).pow(2).sum()),
    ("how many members get each image wrong",  # a tensor of counts
     lambda probs, y: torch.bincount((probs.argmax(2) != y).sum(0), minlength=len(probs) + 1)),
    ("matching hidden units", lambda a, b: torch.cdist(a, b).argmin(1)),  # a tensor of indices
    ("matching hidden units", lambda a, b: [int(((b - row) ** 2).sum(1).argmin()) for row in a]),
    ("a prefix code", _prefix_free_by_decoding),
    ("a prefix code", lambda code: __import__("numpy").bool_(_prefix_free_by_decoding(code))),
    ("binarize", lambda w, s: torch.where(torch.rand_like(w) < ((w + 1) / 2).clamp(0, 1), 1.0, -1.0) if s
     else torch.where(w >= 0, 1.0, -1.0)),
    ("convolution costs", _costs_counted_by_pytorch),
    ("depthwise separable block", lambda i, o, k: nn.Sequential(nn.Conv2d(i, i, k, groups=i, bias=False),
                                                                nn.Conv2d(i, o, 1, bias=False))),
    ("the best separable approximation", _separable_with_the_scale_on_the_depthwise_side),
    ("how many ranks a layer needs", lambda w, share: next(  # counting up, a 0-dim tensor
        k for k in range(1, min(w.shape) + 1)
        if torch.linalg.svdvals(w)[:k].pow(2).sum() >= share * torch.linalg.svdvals(w).pow(2).sum())),
    ("the rounding noise", lambda w, b: 10 * torch.log10(  # in float32, a 0-dim tensor
        w.pow(2).mean() * 12 / ((max(w.max().item(), 0) - min(w.min().item(), 0)) / (2**b - 1)) ** 2)),
    ("the gradient of a shared weight", lambda g, i, k: torch.stack([g[i == c].sum() for c in range(k)])),
    ("accuracy by confidence", lambda z, y, e: torch.tensor([  # a tensor, nan for the empty bins
        (z.argmax(1) == y)[(z.max(1).values > lo) & (z.max(1).values <= hi)].double().mean().item()
        for lo, hi in zip(e, e[1:])])),
    ("what the cap on a gap costs", _gap_bits_from_the_symbols),
    ("each exit's pull on the first block", _exit_gradients_by_backward),
    ("counting parameters", lambda m: torch.tensor(count_budget(m))),  # a 0-dim tensor is a number too
    ("the homework model", lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.Linear(6, 10))),
]


@pytest.mark.parametrize("name,fn", ALSO_RIGHT, ids=[n for n, _ in ALSO_RIGHT])
def test_other_right_answers_pass(name, fn, capsys):
    BY_NAME[name].check(fn)
    assert capsys.readouterr().out.startswith("✓")


def _zero_point_not_rounded(w, bits):
    lo, hi = min(w.min().item(), 0.0), max(w.max().item(), 0.0)
    scale = (hi - lo) / (2**bits - 1)
    zero_point = -lo / scale
    return (torch.clamp(torch.round(w / scale + zero_point), 0, 2**bits - 1) - zero_point) * scale


UNRECOGNISED = [  # wrong in a way no catalogued mistake describes: the generic hint
    ("the temperature for a top probability", lambda z, top: 1.0),
    ("what the soft targets say beyond the label", lambda z, y, t: 0.5),
    ("where the teacher hides a digit", lambda z, y, d, t: {c: 0.5 for c in sorted(set(y.tolist()))}),
    ("soft-target gradient", lambda z, v, t: torch.zeros_like(z)),
    ("the shift that flips an answer", lambda z, c: torch.zeros(len(z))),
    ("how many members get each image wrong", lambda probs, y: [0] * (len(probs) + 1)),
    ("matching hidden units", lambda a, b: list(range(len(a)))),
    ("how much of the teacher's logits a student reproduces", lambda z, v: 0.5),
    ("uniform quantization", _zero_point_not_rounded),
    ("the rounding noise", lambda w, b: 42.0),
    ("a prefix code", lambda code: True),
    ("binarize", lambda w, s: torch.where(w > 0, 1.0, -1.0)),
    ("convolution costs", lambda i, o, k, n: (k * k * i * o, k * k * i + i * o, 0, 0)),
    ("the best separable approximation", lambda w: (w[0], torch.ones(w.shape[:2], dtype=w.dtype))),
    ("how many ranks a layer needs", lambda w, share: min(w.shape)),
    ("the gradient of a shared weight", lambda g, i, k: torch.ones(k)),
    ("each exit's pull on the first block", lambda net, x, y: [1.0] * net.num_exits),
    ("accuracy by confidence", lambda z, y, e: [0.5] * (len(e) - 1)),
    ("what the cap on a gap costs", lambda p, caps: {m: 0 for m in caps}),
    ("where the bytes go", lambda w, m: {k: (0, 0) for k in w}),
    ("counting parameters", lambda m: sum(p.numel() for p in m.parameters()) + 1),
]


@pytest.mark.parametrize("name,fn", UNRECOGNISED, ids=[n for n, _ in UNRECOGNISED])
def test_unrecognised_wrong_answers_get_the_generic_hint(name, fn):
    exercise = BY_NAME[name]
    error = failure(exercise, fn)
    assert error.mistake is None and has_hint(error, exercise.hint), str(error)


ALSO_SPOTTED = [  # other wrong answers that make a catalogued mistake: (exercise, answer, a piece of its hint)
    ("uniform quantization", lambda w, b: torch.round(w * 100) / 100, "2^bits different values"),
    ("what the cap on a gap costs", lambda p, caps: {m: len(p) * max(1, m.bit_length()) for m in caps},
     "one escape per cap"),  # the right bits per symbol, no escapes
    ("binarize", lambda w, s: torch.where(torch.rand_like(w) < 0.5, 1.0, -1.0) if s else binarize(w), "share of +1"),
    ("straight-through estimator", lambda w: w + 0 * w.detach(), "the value must be"),
]


@pytest.mark.parametrize("name,fn,hint", ALSO_SPOTTED, ids=[n for n, _, _ in ALSO_SPOTTED])
def test_other_answers_with_a_known_mistake_get_its_hint(name, fn, hint):
    error = failure(BY_NAME[name], fn)
    assert error.mistake is not None and hint in error.mistake.hint and has_hint(error, error.mistake.hint)


def test_the_homework_model_takes_another_budget():
    small = ANSWERS["the homework model"].reference
    with pytest.raises(ExerciseError, match="over the budget of 100"):
        check_homework_model(small, budget=100)
    check_homework_model(small, budget=5000)


def _solution_lines() -> set[str]:
    """Each line of every notebook's solutions, as it could be quoted in a hint."""
    lines = set()
    for path in sorted(SOURCES.rglob("*.py")):
        for region in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", path.read_text(), re.S):
            for line in region.splitlines():
                line = line.split("  #")[0].strip().removeprefix("return ").strip()
                if len(line) >= 12 and not line.startswith("#"):
                    lines.add(line)
    return lines


def test_no_hint_contains_the_answer():
    lines = _solution_lines()
    assert len(lines) > 30
    for exercise in EXERCISES:
        for text in [exercise.hint, exercise.passed, *(m.hint for m in exercise.catalogue)]:
            leaked = [line for line in lines if line in text]
            assert not leaked, f"{exercise.name}: a hint quotes a solution: {leaked}"
        assert exercise.hint and all(m.hint for m in exercise.catalogue)


def test_every_notebook_has_three_exercises_one_of_them_a_design_task_with_its_question():
    """Each notebook (the eleven and the homework) calls at least three checks, at least one a design task, and
    after each design task asks "what did you see?", with the teachers' answer in a solution region."""
    sources = sorted(SOURCES.glob("[01]*.py")) + [SOURCES / "homework" / "homework.py"]
    assert len(sources) == 12
    for path in sources:
        text = path.read_text()
        called = re.findall(r"^(?:\w+ = )?(check_\w+)\(", text, re.M)
        design = [name for name in called if name in DESIGN_SIGNATURES]
        assert len(called) >= 3 and design, f"{path.name}: checks {called}"
        for name in design:
            after = text[text.index(f"{name}("):]
            question = after[:after.index("### END SOLUTION") + 1] if "### END SOLUTION" in after else ""
            assert "**What did you see?**" in question and "# ### BEGIN SOLUTION" in question, path.name


def test_no_notebook_text_gives_a_solution_away():
    """The markdown around an exercise (its statement, its hint) quotes no line of any solution that computes
    something (a bare list of names, such as what a function returns, may be named in its statement)."""
    lines = [line for line in _solution_lines() if any(c in line for c in "()[]=+-*/<>")]
    for path in sorted(SOURCES.rglob("*.py")):
        text = re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", path.read_text(), flags=re.S)
        cells = [cell for cell in text.split("# %%") if cell.startswith(" [markdown]")]
        for cell in cells:
            leaked = [line for line in lines if line in cell]
            assert not leaked, f"{path.name}: the text quotes a solution: {leaked}"


# ---- design tasks: measured, not compared ---------------------------------------------------------

def _exits(confidences, right):
    """Softmax outputs of 2 exits for images whose top probability at exit 1 is ``confidences`` and
    whose exit-1 guess is right where ``right``; the last exit is always right."""
    labels = torch.arange(len(confidences)) % 10
    first = torch.full((len(confidences), 10), 0.0)
    guess = torch.where(torch.tensor(right), labels, (labels + 1) % 10)
    first[torch.arange(len(confidences)), guess] = torch.tensor(confidences)
    first += (1 - first.sum(1, keepdim=True)) / 10
    last = torch.nn.functional.one_hot(labels, 10).double() * 0.9 + 0.01
    return [first.double(), last], labels


def test_the_exit_threshold_design_task_measures_the_choice_on_the_test_split():
    from lecture_utils.exercises import check_exit_threshold
    from lecture_utils.exercises.dynamic import EXIT_THRESHOLD

    # 8 images: 6 confident and right at exit 1, 2 unsure and wrong there; exit 1 costs 10 MACs, exit 2 100
    split = _exits([0.95] * 6 + [0.55] * 2, [True] * 6 + [False] * 2)
    macs = [10, 100]
    numbers = EXIT_THRESHOLD.check(lambda p, y, m: 0.9, split, split, macs)
    assert check_exit_threshold(lambda p, y, m: 0.9, split, split, macs) is None  # a notebook cell shows no dict
    assert numbers["lost"] == 0 and numbers["saved"] == pytest.approx(100 * (1 - (6 * 10 + 2 * 100) / 800))
    seen = []
    check_exit_threshold(lambda p, y, m: seen.append((len(p), len(y), m)) or 0.9, split, split, macs)
    assert seen == [(2, 8, [10, 100])]  # the function gets the validation split and the MACs
    with pytest.raises(ExerciseError, match="too many images leave early and wrong: a higher threshold") as info:
        check_exit_threshold(lambda p, y, m: 0.5, split, split, macs)
    assert "25.00 points lost" in str(info.value) or "+25.00 points lost" in str(info.value)
    with pytest.raises(ExerciseError, match="too few images stop early: a lower threshold"):
        check_exit_threshold(lambda p, y, m: 1.0, split, split, macs)
    with pytest.raises(ExerciseError, match=re.escape(NOT_IMPLEMENTED)) as info:
        check_exit_threshold(stub, split, split, macs)
    assert info.value.exercise is EXIT_THRESHOLD and info.value.__suppress_context__
    with pytest.raises(ExerciseError, match=r"threshold must be a number from 0 to 1.*got threshold=1\.5"):
        check_exit_threshold(lambda p, y, m: 1.5, split, split, macs)
    with pytest.raises(ExerciseError, match="your function raised ZeroDivisionError"):
        check_exit_threshold(lambda p, y, m: 1 / 0, split, split, macs)


def test_every_design_task_is_exported_and_no_hint_names_a_number_to_choose():
    assert {t.name for t in exercises.DESIGN_TASKS} == {
        "a temperature for soft targets alone (design)", "a shift where false answers are costly (design)",
        "a binary network for a small chip (design)", "an ensemble only when needed (design)",
        "distillation as logit matching (design)",
        "bits per layer for a budget (design)", "clusters for a 3-bit index (design)",
        "a separable CNN for a MAC budget (design)", "ranks for a budget (design)", "exit threshold (design)",
        "a file within a budget (design)", "a short run that reaches a tier (design)"}
    for task in exercises.DESIGN_TASKS:
        for text in (task.hint, *(hint for _, hint in task.hints)):
            assert not re.search(r"\d", text), f"{task.name}: a hint with a number: {text!r}"


def test_the_cluster_count_design_task_measures_bits_and_accuracy():
    from lecture_utils.exercises import check_cluster_count
    from lecture_utils.exercises.quantization import CLUSTER_COUNT

    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10))
    with torch.no_grad():  # weights near 4 values: 4 clusters are all but exact
        model[1].weight.copy_(torch.tensor([-1.5, -0.5, 0.5, 1.5])[torch.randint(0, 4, (10, 12), generator=g)]
                              + 1e-4 * torch.randn(10, 12, generator=g))
    x = torch.randn(2000, 1, 3, 4, generator=g)
    data = (x, model(x).argmax(1))  # the float network is right on every image
    numbers = CLUSTER_COUNT.check(lambda m, layer, images, labels: 4, model, "1", data, data)
    assert numbers["bits"] == 2 and numbers["lost"] <= 0.1
    assert check_cluster_count(lambda m, layer, images, labels: 8, model, "1", data, data) is None
    with pytest.raises(ExerciseError, match="the layer lost too much: more clusters"):
        check_cluster_count(lambda m, layer, images, labels: 2, model, "1", data, data)
    with pytest.raises(ExerciseError, match="more bits than allowed: fewer clusters") as info:
        check_cluster_count(lambda m, layer, images, labels: 9, model, "1", data, data)
    assert "9 clusters: 4 bits per index" in str(info.value)
    with pytest.raises(ExerciseError, match="return a whole number of clusters from 1 to 256, got 2.5"):
        check_cluster_count(lambda m, layer, images, labels: 2.5, model, "1", data, data)
    with pytest.raises(ExerciseError, match=re.escape(NOT_IMPLEMENTED)):
        check_cluster_count(stub, model, "1", data, data)


def test_the_rank_budget_design_task_measures_the_factorized_network():
    from lecture_utils.architecture import low_rank_model
    from lecture_utils.exercises import check_rank_budget
    from lecture_utils.exercises.architecture import RANK_BUDGET

    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 10))
    with torch.no_grad():  # a first layer of rank 40: factorized at rank 40 it is the same network
        model[1].weight.copy_(torch.randn(300, 40, generator=g) @ torch.randn(40, 784, generator=g) / 40)
    x = torch.randn(500, 1, 28, 28, generator=g)
    data = (x, model(x).argmax(1))
    from lecture_utils.exercises.architecture import RANK_BUDGET_TASK

    numbers = RANK_BUDGET_TASK.check(lambda m, images, labels: {"1": 40}, model, data, data)
    assert numbers["parameters"] == 40 * (784 + 300) + 300 + 3010 <= RANK_BUDGET and abs(numbers["lost"]) <= 0.2
    assert sum(p.numel() for p in low_rank_model(model, {"1": 40}).parameters()) == numbers["parameters"]
    with pytest.raises(ExerciseError, match="over the budget: lower a rank"):
        check_rank_budget(lambda m, images, labels: {"1": 100}, model, data, data)
    with pytest.raises(ExerciseError, match="too inaccurate: move rank"):
        check_rank_budget(lambda m, images, labels: {"1": 2}, model, data, data)
    with pytest.raises(ExerciseError, match="not a linear layer"):
        check_rank_budget(lambda m, images, labels: {"2": 2}, model, data, data)
    with pytest.raises(ExerciseError, match="return a dict from layer name to rank"):
        check_rank_budget(lambda m, images, labels: 40, model, data, data)


def test_the_cascade_design_task_measures_passes_and_errors_on_the_test_split():
    from lecture_utils.exercises import check_cascade_threshold
    from lecture_utils.exercises.distillation import CASCADE_THRESHOLD

    # 3 members, 10 images of class 0: the first member is sure and right on 8, unsure and wrong on 2,
    # where the other two are right
    probs = torch.full((3, 10, 2), 0.0)
    probs[:, :, 0] = 1.0
    probs[0, :8] = torch.tensor([0.99, 0.01])
    probs[0, 8:] = torch.tensor([0.4, 0.6])
    labels = torch.zeros(10, dtype=torch.long)
    numbers = CASCADE_THRESHOLD.check(lambda p, y: 0.9, (probs, labels), (probs, labels))
    assert numbers["passes"] == pytest.approx((8 * 1 + 2 * 3) / 10) and numbers["errors"] == 0 == numbers["ensemble"]
    seen = []
    check_cascade_threshold(lambda p, y: seen.append((p.shape, len(y))) or 0.9, (probs[:, :4], labels[:4]), (probs, labels))
    assert seen == [((3, 4, 2), 4)]  # the function sees the given images only
    with pytest.raises(ExerciseError, match="too many images run every member: a lower threshold"):
        check_cascade_threshold(lambda p, y: 1.0, (probs, labels), (probs, labels))
    wrong = probs.clone()
    wrong[0, :, :] = torch.tensor([0.3, 0.7])  # the first member sure of nothing and wrong everywhere
    wrong[0, :6] = torch.tensor([0.45, 0.55])
    with pytest.raises(ExerciseError, match="left to the first member alone: a higher threshold"):
        check_cascade_threshold(lambda p, y: 0.5, (wrong, labels), (wrong, labels))
    with pytest.raises(ExerciseError, match=r"threshold must be a number from 0 to 1 \(a softmax probability\), got threshold=2"):
        check_cascade_threshold(lambda p, y: 2, (probs, labels), (probs, labels))
    with pytest.raises(ExerciseError, match=re.escape(NOT_IMPLEMENTED)):
        check_cascade_threshold(stub, (probs, labels), (probs, labels))


def test_the_mimic_temperature_design_task_finds_the_float32_window():
    from lecture_utils.distillation import mimic_gradient_gap
    from lecture_utils.exercises import check_mimic_temperature
    from lecture_utils.exercises.distillation import MIMIC_TEMPERATURE

    g = torch.Generator().manual_seed(0)
    z, v = torch.randn(500, 10, generator=g) * 5, torch.randn(500, 10, generator=g) * 5
    gaps = {t: mimic_gradient_gap(z, v, t) for t in (10, 1e3, 1e4, 1e7)}
    assert gaps[10] > gaps[1e3] > gaps[1e4] < gaps[1e7]  # falls like 1/T, then float32 rounding takes over
    assert MIMIC_TEMPERATURE.check(lambda a, b: 1e4, (z, v), (z, v))["gap"] == pytest.approx(gaps[1e4])
    with pytest.raises(ExerciseError, match="T = 10: the gradients differ by"):
        check_mimic_temperature(lambda a, b: 10, (z, v), (z, v))
    with pytest.raises(ExerciseError, match="T = 1e\\+07"):
        check_mimic_temperature(lambda a, b: 1e7, (z, v), (z, v))
    with pytest.raises(ExerciseError, match="return a temperature, a number above 0; got -1"):
        check_mimic_temperature(lambda a, b: -1, (z, v), (z, v))


def test_the_bit_budget_design_task_measures_the_stored_bytes_and_accuracy():
    from lecture_utils.exercises import check_bit_budget
    from lecture_utils.exercises.quantization import BIT_BUDGET, BIT_BUDGET_TASK
    from lecture_utils.quantization import quantized_model_bytes

    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 40), nn.ReLU(), nn.Linear(40, 10))
    x = torch.randn(300, 1, 28, 28, generator=g)
    data = (x, model(x).argmax(1))
    numbers = BIT_BUDGET_TASK.check(lambda m, images, labels: ({"1": 12, "3": 12}, True), model, data, data)
    assert numbers["bytes"] == len(quantized_model_bytes(model, 12, per_channel=True)) <= BIT_BUDGET
    assert numbers["lost"] <= 0.3 and numbers["scales"] == "per channel"
    with pytest.raises(ExerciseError, match="over the byte budget: fewer bits where the weights are many"):
        check_bit_budget(lambda m, images, labels: (32, False), model, data, data)
    with pytest.raises(ExerciseError, match="too inaccurate: a bit costs little"):
        check_bit_budget(lambda m, images, labels: ({"1": 1, "3": 1}, False), model, data, data)
    with pytest.raises(ExerciseError, match=r"return a pair \(bits, per_channel\)"):
        check_bit_budget(lambda m, images, labels: 8, model, data, data)
    with pytest.raises(ExerciseError, match=r"give bits for exactly the layers \['1', '3'\], got \['1'\]"):
        check_bit_budget(lambda m, images, labels: ({"1": 8}, False), model, data, data)


def test_the_separable_widths_design_task_counts_macs_and_parameters():
    from lecture_utils.exercises import check_separable_widths
    from lecture_utils.exercises.architecture import SEPARABLE_WIDTHS

    numbers = SEPARABLE_WIDTHS.check(lambda: (8, 32, 96))
    assert (numbers["macs"], numbers["parameters"], numbers["mac_budget"]) == (294_016, 12_682, 1_470_528 // 4)
    with pytest.raises(ExerciseError, match="too many multiply-accumulates: find the layers that work on the largest"):
        check_separable_widths(lambda: (16, 80, 96))
    with pytest.raises(ExerciseError, match="too many parameters"):
        check_separable_widths(lambda: (4, 8, 512))
    with pytest.raises(ExerciseError, match="the last convolution is too narrow"):
        check_separable_widths(lambda: (8, 32, 64))
    with pytest.raises(ExerciseError, match="return three whole numbers of channels"):
        check_separable_widths(lambda: (8, 32))


def test_the_file_budget_design_task_writes_and_measures_the_file():
    from lecture_utils.deep_compression import prune_to, make_pruning_permanent
    from lecture_utils.exercises import check_file_budget
    from lecture_utils.exercises.combining import FILE_BUDGET_TASK
    from lecture_utils.models import build_model

    config = {"arch": "mlp", "hidden": [300, 100]}
    torch.manual_seed(0)
    model = build_model(**config)
    dense = build_model(**config)
    prune_to(model, {"1": 0.02, "3": 0.2, "5": 0.5})
    make_pruning_permanent(model)
    x = torch.randn(500, 1, 28, 28)
    data = (x, model(x).argmax(1))  # the pruned network is right on every image
    numbers = FILE_BUDGET_TASK.check(lambda m, images, labels: 16, model, config, data, data)
    assert numbers["bytes"] <= 19_000 and numbers["error"] <= 2.5
    assert not any(hasattr(m, "parametrizations") for m in model.modules())  # the check clusters a copy
    wrong = (x, (data[1] + 1) % 10)  # labels the network never gives
    with pytest.raises(ExerciseError, match="within the budget but too many errors: more clusters"):
        check_file_budget(lambda m, images, labels: 16, model, config, data, wrong)
    with pytest.raises(ExerciseError, match="the file is too large: fewer clusters"):
        check_file_budget(lambda m, images, labels: 2, dense, config, data, data)
    with pytest.raises(ExerciseError, match="a dict \\{layer: clusters\\}; got 0"):
        check_file_budget(lambda m, images, labels: 0, model, config, data, data)
    with pytest.raises(ExerciseError, match=r"give a number of clusters for exactly the layers"):
        check_file_budget(lambda m, images, labels: {"1": 4}, model, config, data, data)


def test_the_distillation_temperature_design_task_trains_three_seeds_on_soft_targets_alone():
    from lecture_utils.exercises import check_distillation_temperature
    from lecture_utils.exercises.distillation import DISTILLATION_TEMPERATURE

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 28, 28, generator=g)
    y = (x.flatten(1)[:, :10]).argmax(1)
    teacher = x.flatten(1)[:, :10] * 5  # a teacher that is right on every image
    seen = []
    numbers = DISTILLATION_TEMPERATURE.measure(lambda v: seen.append(v) or 2.0, {2.0: "sweep"}, (x, teacher, y),
                                               (x, y), (8,), 1, 1e-2)
    assert seen == [{2.0: "sweep"}] and len(numbers["each"]) == 3 and numbers["errors"] == sum(numbers["each"]) / 3
    wrong = (x, (y + 1) % 10)  # labels the students cannot give
    same = DISTILLATION_TEMPERATURE.measure(lambda v: 2.0, {}, (x, teacher, wrong[1]), (x, y), (8,), 1, 1e-2)
    assert same["each"] == numbers["each"]  # alpha = 1: the labels play no part
    with pytest.raises(ExerciseError, match="temperature must be a finite number > 0"):
        check_distillation_temperature(lambda v: 0.0, {}, (x, teacher, y), (x, y), (8,), 1, 1e-2)
    big = (torch.randn(600, 1, 28, 28, generator=g), torch.randint(0, 10, (600,), generator=g))  # labels it cannot know
    with pytest.raises(ExerciseError, match="read the validation errors"):
        check_distillation_temperature(lambda v: 2.0, {}, (x, teacher, y), big, (8,), 1, 1e-2)


def test_the_binary_budget_design_task_trains_and_counts_the_packed_signs():
    from lecture_utils.binary import binary_mlp, weight_bytes
    from lecture_utils.exercises import check_binary_budget
    from lecture_utils.exercises.quantization import BINARY_BUDGET_TASK

    assert weight_bytes(binary_mlp((16,), "deterministic")) == (784 * 16 + 16 * 10) // 8
    assert weight_bytes(binary_mlp((16,), "float")) == 4 * (784 * 16 + 16 * 10)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 1, 28, 28, generator=g)
    y = (x.flatten(1)[:, :10]).argmax(1)
    numbers = BINARY_BUDGET_TASK.measure(lambda images, labels: (16,), (x, y), (x, y), (x, y), 1)
    assert numbers["bytes"] == 1588 and numbers["hidden"] == (16,)
    with pytest.raises(ExerciseError, match="over the budget: narrower layers"):
        check_binary_budget(lambda images, labels: (512, 64), (x, y), (x, y), (x, y), 1)
    with pytest.raises(ExerciseError, match="within the budget but too many errors"):
        check_binary_budget(lambda images, labels: (2,), (x, y), (x, y), (x, (y + 1) % 10), 1)
    with pytest.raises(ExerciseError, match="return the hidden widths"):
        check_binary_budget(lambda images, labels: 128, (x, y), (x, y), (x, y), 1)


def test_the_demo_recipe_design_task_trains_the_given_model_with_a_checked_recipe():
    from lecture_utils.exercises import check_demo_recipe
    from lecture_utils.exercises.homework import DEMO_RECIPE
    from lecture_utils.homework import load_tiers

    def build():
        torch.manual_seed(0)
        return nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(196, 10))  # within the budget

    g = torch.Generator().manual_seed(0)
    test = (torch.rand(50, 1, 28, 28, generator=g), torch.randint(0, 10, (50,), generator=g))
    taught = []

    class Teacher(nn.Module):
        def forward(self, x):
            taught.append(len(x))
            return torch.zeros(len(x), 10)

    model = build()
    numbers = DEMO_RECIPE.measure(lambda: {"lr": 1e-2, "teacher": True, "alpha": 0.5}, model, Teacher(), 1, 100, test)
    assert taught and numbers["simple"] == 100 * load_tiers()["tiers"]["simple"]
    assert not torch.equal(model[2].weight, build()[2].weight)  # trained in place: the notebook keeps it
    again = DEMO_RECIPE.measure(lambda: {"lr": 1e-2, "teacher": True, "alpha": 0.5}, build(), Teacher(), 1, 100, test)
    assert again["accuracy"] == numbers["accuracy"]  # seed 0: the same run twice
    with pytest.raises(ExerciseError, match="large steps early and small steps late") as info:
        check_demo_recipe(lambda: {}, build(), None, 1, 100, test)
    assert "after 1 epochs on 100 images" in str(info.value)
    for recipe, message in [({"epochs": 30}, "return a dict with some of the keys"),
                            ({"lr": "1e-2"}, "lr must be a number above 0, got lr='1e-2'"),
                            ({"schedule": "step"}, r"schedule must be one of \['constant', 'cosine', 'one-cycle'\]"),
                            ({"teacher": "no"}, "teacher must be True or False"),
                            ({"temperature": 4}, 'they act only with "teacher": True')]:
        with pytest.raises(ExerciseError, match=message):
            check_demo_recipe(lambda: recipe, build(), None, 1, 100, test)
    wide = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))  # 7,850 numbers
    with pytest.raises(ExerciseError, match="7,850 numbers, over the budget of 5,000: make it fit first"):
        check_demo_recipe(lambda: {"lr": 1e-2}, wide, None, 1, 100, test)


def test_a_design_task_measures_copies_keeps_the_random_state_and_names_the_students_own_errors():
    from lecture_utils.exercises import check_bit_budget, check_binary_budget, check_cascade_threshold
    from lecture_utils.exercises.quantization import BIT_BUDGET_TASK

    g = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 40), nn.ReLU(), nn.Linear(40, 10))
    x = torch.randn(300, 1, 28, 28, generator=g)
    data = (x, model(x).argmax(1))
    before = [p.clone() for p in model.parameters()]

    def vandal(m, images, labels):  # quantizes the model it is given, in place, to pass as "float"
        with torch.no_grad():
            for p in m.parameters():
                p.zero_()
        images.zero_()
        return {"1": 1, "3": 1}, False

    numbers = BIT_BUDGET_TASK.measure(vandal, model, data, data)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())) and x.abs().sum() > 0
    assert numbers["lost"] > 0.3  # measured against the untouched float network

    def unpack(m, images, labels):
        first, second = (1, 2, 3)  # the student's own bug: a ValueError
        return first, second
    with pytest.raises(ExerciseError, match="your function raised ValueError: too many values to unpack"):
        check_bit_budget(unpack, model, data, data)

    state = torch.random.get_rng_state()
    with pytest.raises(ExerciseError, match="not trained: over the budget"):  # and quickly: nothing is trained
        check_binary_budget(lambda images, labels: (4096, 4096), (x, data[1]), (x, data[1]), (x, data[1]), 1)
    with pytest.raises(ExerciseError):
        check_binary_budget(lambda images, labels: (2,), (x, data[1]), (x, data[1]), (x, (data[1] + 1) % 10), 1)
    assert torch.equal(torch.random.get_rng_state(), state)  # training inside the check left it as it was
    probs = torch.softmax(torch.randn(3, 20, 10, generator=g), -1)
    check_cascade_threshold(lambda p, y: torch.tensor(0.0), (probs, torch.zeros(20, dtype=torch.long)),
                            (probs, probs[0].argmax(1)))  # a one-number tensor is a number
