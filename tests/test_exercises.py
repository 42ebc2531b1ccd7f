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
from lecture_utils import binarize, distillation_loss
from lecture_utils.distillation import best_bias_shift
from lecture_utils.exercises import EXERCISES, ExerciseError, check_homework_model
from lecture_utils.exercises.harness import EXPECTED_FILE, NOT_IMPLEMENTED, load_expected
from lecture_utils.fitnets import hidden_activations
from lecture_utils.huffman import canonical_code
from lecture_utils.measure import count_budget
from lecture_utils.quantization import pack_bits
from tools.answers import ANSWERS, expected_values, out_of_date

SOURCES = Path(__file__).resolve().parent.parent / "sources"
BY_NAME = {e.name: e for e in EXERCISES}

# The notebooks import these, with these parameters: none may disappear or change.
SIGNATURES = {name: ["fn"] for name in [
    "check_softmax_with_temperature", "check_distillation_loss", "check_drop_digit", "check_best_bias_shift",
    "check_ensemble_probabilities", "check_average_state_dicts", "check_logit_matching_loss",
    "check_hidden_activations", "check_quantize_uniform", "check_pack_bits", "check_kmeans_step",
    "check_huffman_decode", "check_binarize", "check_straight_through", "check_conv_parameter_formula",
    "check_separable_block", "check_low_rank_parameters", "check_truncated_svd", "check_sum_of_exit_losses",
    "check_first_confident_exit", "check_gaps_with_escape", "check_canonical_code", "check_parameter_count",
]}
SIGNATURES["check_homework_model"] = ["build_fn", "budget"]
# Design tasks: the student's function, and what it is measured on.
DESIGN_SIGNATURES = {"check_exit_threshold": ["fn", "validation", "test", "macs"],
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
    softmax = BY_NAME["softmax with temperature"]
    with pytest.raises(ValueError, match="a new exercise: no answers in tools/answers.py"):
        expected_values((dataclasses.replace(softmax, name="a new exercise"),))
    with pytest.raises(ValueError, match="softmax with temperature: 7 examples for 6 known mistakes"):
        expected_values((dataclasses.replace(softmax, mistakes=softmax.mistakes[:-1]),))


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

    def wrong_softmax(stored):
        stored["softmax with temperature"][0]["want"] = stored["softmax with temperature"][0]["want"].flip(-1)

    def wrong_mistake(stored):
        stored["softmax with temperature"][0]["mistakes"][5] = torch.zeros(2, 3)

    assert out_of_date(stored_with(lambda s: None)) == []
    assert out_of_date(stored_with(wrong_softmax)) == ["softmax with temperature, case 0: the right answer's result differs"]
    assert out_of_date(stored_with(wrong_mistake)) == ["softmax with temperature, case 0: mistake 5's result differs"]
    assert out_of_date(stored_with(lambda s: s["pack bits"].pop())) == ["pack bits: 2 cases stored, 3 now"]
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
MEASURED_BY = {("homework.py", "count_budget"): "the homework model is counted as the grader counts it"}


def test_the_checks_use_no_answer():
    """No exercise module defines or imports a function that is an answer (the library's included)."""
    named = {a.reference.__name__ for a in ANSWERS.values()} - {"<lambda>"}
    assert {"softmax_with_temperature", "kmeans_step", "count_budget"} <= named
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

def _soft_cross_entropy(s, te, y, t, a):
    soft = -(torch.softmax(te / t, -1) * torch.log_softmax(s / t, -1)).sum(-1).mean()
    return a * t * t * soft + (1 - a) * F.cross_entropy(s, y)


def _decode_by_prefixes(bits, code):
    out = []
    while bits:
        symbol, prefix = next((s, c) for s, c in code.items() if bits.startswith(c))
        out.append(symbol)
        bits = bits[len(prefix):]
    return out


def _svd_with_other_signs(w, k):
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    return -s[:k, None] * vh[:k], -u[:, :k]  # singular vectors are defined up to their sign


def _first_passing(c, t):
    passes = c >= t
    passes[-1] = True
    return passes.long().argmax(0)


ALSO_RIGHT = [  # other ways of being right, as students write them
    ("distillation loss", _soft_cross_entropy),  # soft cross-entropy: KL plus a constant, the same gradient
    ("distillation loss", lambda s, te, y, t, a: distillation_loss(s.double(), te.double(), y, t, a)),
    ("drop a digit", lambda x, y, d: [x[y != d], y[y != d]]),
    ("choose the bias shift", lambda z, y, c, s: best_bias_shift(z, y, c, s)[0]),
    ("choose the bias shift", lambda z, y, c, s: torch.tensor(best_bias_shift(z, y, c, s)[0])),
    ("Huffman decoding", _decode_by_prefixes),
    ("binarize", lambda w, s: torch.where(torch.rand_like(w) < ((w + 1) / 2).clamp(0, 1), 1.0, -1.0) if s
     else torch.where(w >= 0, 1.0, -1.0)),
    ("convolution parameters", lambda i, o, k: [k * k * i * o, k * k * i + i * o]),
    ("depthwise separable block", lambda i, o, k: nn.Sequential(nn.Conv2d(i, i, k, groups=i, bias=False),
                                                                nn.Conv2d(i, o, 1, bias=False))),
    ("low-rank parameters", lambda n, m, k: (n * m, k * (n + m))),
    ("truncated SVD", _svd_with_other_signs),
    ("first confident exit", _first_passing),
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
    ("softmax with temperature", lambda z, t: torch.softmax(z / t, -1).flip(-1)),
    ("distillation loss", lambda s, te, y, t, a: F.cross_entropy(s, y)),
    ("drop a digit", lambda x, y, d: (x[y != d].flip(0), y[y != d].flip(0))),
    ("choose the bias shift", lambda z, y, c, s: 99.0),
    ("ensemble by averaging", lambda zs: torch.softmax(zs[0], 1)),
    ("average parameters", lambda sds: sds[0]),
    ("logit matching", lambda z, v: ((z - v) ** 2).mean()),
    ("hidden activations", lambda m, x: (m(x), [2 * h for h in hidden_activations(m, x)[1]])),
    ("uniform quantization", _zero_point_not_rounded),
    ("pack bits", lambda c, b: pack_bits(c, b)[::-1]),
    ("Huffman decoding", lambda bits, code: list(bits)),
    ("binarize", lambda w, s: torch.where(w > 0, 1.0, -1.0)),
    ("convolution parameters", lambda i, o, k: (k * k * i * o, k * k * i)),
    ("low-rank parameters", lambda n, m, k: (n * m, k * (n + m) + 1)),
    ("truncated SVD", lambda w, k: (w[:k], torch.eye(w.shape[0], k, dtype=w.dtype))),
    ("sum of exit losses", lambda outputs, y: 2 * sum(F.cross_entropy(z, y) for z in outputs)),
    ("first confident exit", lambda c, t: [len(c) - 1] * c.shape[1]),
    ("relative positions (gaps)", lambda p, m: list(p)),
    ("canonical Huffman code", lambda lengths: {s: c.translate(str.maketrans("01", "10"))
                                                for s, c in canonical_code(lengths).items()}),
    ("counting parameters", lambda m: sum(p.numel() for p in m.parameters()) + 1),
]


@pytest.mark.parametrize("name,fn", UNRECOGNISED, ids=[n for n, _ in UNRECOGNISED])
def test_unrecognised_wrong_answers_get_the_generic_hint(name, fn):
    exercise = BY_NAME[name]
    error = failure(exercise, fn)
    assert error.mistake is None and has_hint(error, exercise.hint), str(error)


ALSO_SPOTTED = [  # other wrong answers that make a catalogued mistake: (exercise, answer, a piece of its hint)
    ("uniform quantization", lambda w, b: torch.round(w * 100) / 100, "2^bits different values"),
    ("relative positions (gaps)", lambda p, m: [b - a for a, b in zip([-1, *p[:-1]], p)], "p - q - 1"),
    ("binarize", lambda w, s: torch.where(torch.rand_like(w) < 0.5, 1.0, -1.0) if s else binarize(w), "share of +1"),
    ("straight-through estimator", lambda w: w + 0 * w.detach(), "the value must be"),
    ("hidden activations", lambda m, x: (m(x), [m[1](m[0](x)), m[3](m[2](m[1](m[0](x))))]), "one output per ReLU"),
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
    assert {t.name for t in exercises.DESIGN_TASKS} == {"exit threshold (design)", "clusters for a 3-bit index (design)",
                                                        "ranks for a budget (design)"}
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
