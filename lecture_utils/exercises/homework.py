"""Exercises of the homework: counting a model's numbers as the grader does (``count_budget``), a
model within the budget, and a design task: a recipe that makes the short demonstration run count."""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

import torch
from torch import nn

from ..homework import BUDGET, load_tiers, train_submission
from ..measure import count_budget, count_parameters
from ..training import evaluate
from .harness import Case, DesignTask, Exercise, Mistake, as_number, call_student, call_with_copies, own_random_state

# ---- counting (C20): every number in parameters and buffers, not bytes; batch norm's running statistics aside

class _WeightsInABuffer(nn.Module):
    """A linear layer whose weights are a buffer, not a parameter (the budget counts them all the same)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("weight", torch.zeros(10, 20))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        return x @ self.weight.T + self.bias


def _tied():
    """Two layers sharing one weight matrix (counted once)."""
    first, second = nn.Linear(8, 8), nn.Linear(8, 8, bias=False)
    second.weight = first.weight
    return nn.Sequential(first, nn.ReLU(), second)


def _count_cases():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    return [Case((model,), "a convolution, batch norm and a linear layer"),
            Case((_WeightsInABuffer(),), "weights kept in a buffer"),
            Case((nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5, affine=False)),),
                 "batch norm without a learned scale and shift (affine=False)"),
            Case((_tied(),), "two layers sharing one weight matrix")]


EXPECTED = "expected {want:,}, got {got!r}: "


def _as_number(fn, case):
    got = call_with_copies(fn, case)
    return as_number(got)


PARAMETER_COUNT = Exercise(
    name="counting parameters", cases=_count_cases,
    hint=EXPECTED + "count every number in every parameter tensor of the model (and in its buffers, "
                    "batch norm's running statistics aside).",
    passed="numbers counted as the grader does, buffers, affine=False batch norm and shared tensors included.",
    run=_as_number,
    mistakes=(
        Mistake(EXPECTED + "that is 4 bytes per parameter; the homework counts parameters, not bytes (C20)."),
        Mistake(EXPECTED + "you counted only the weights; biases and batch norm's scale and shift are parameters too."),
        Mistake(EXPECTED + "you counted batch norm's running statistics too (running mean, variance and "
                "step count); they are the one kind of buffer the budget leaves out: measured, not learned."),
        Mistake(EXPECTED + "that is the number of parameter *tensors*; count the numbers inside each one (numel)."),
        Mistake(EXPECTED + "a batch norm with affine=False learns no scale and shift, so the rule's exception does "
                "not apply: its running statistics are the model's numbers and count."),
        Mistake(EXPECTED + "buffers count too (`model.buffers()`): a number kept with register_buffer is carried like "
                "any weight; only batch norm's running statistics are left out."),
        Mistake(EXPECTED + "a tensor shared by two layers is one tensor: count it once."),
    ),
)


def check_parameter_count(fn) -> None:
    """Exercise (homework): ``fn(model)`` -> the numbers the budget counts in ``model`` (``count_budget``:
    parameters and buffers, batch norm's running statistics aside)."""
    PARAMETER_COUNT.check(fn)


# ---- the homework model: at most BUDGET numbers counted, 10 scores per 28 x 28 image -----------------

class Network(NamedTuple):
    """What the homework-model exercise looks at in a student's network."""

    counted: int  # count_budget: parameters and buffers, batch norm's running statistics aside
    parameters: int  # count_parameters: zero means nothing to train
    output: object  # the output's shape, or what was returned instead of a tensor
    error: str | None  # why the network failed on a batch, if it did


def _try_network(build_fn, case):
    """Build the student's network and run it on a batch; anything but a module comes back as it is."""
    model = build_fn()
    if not isinstance(model, nn.Module):
        return model
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, 1, 28, 28))
    except Exception as exc:  # the student's network: say why it failed, as a hint
        return Network(count_budget(model), count_parameters(model), None, f"{type(exc).__name__}: {exc}")
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    return Network(count_budget(model), count_parameters(model), shape, None)


def homework_model_exercise(budget: int = BUDGET) -> Exercise:
    """The homework-model exercise for a budget of ``budget`` numbers (``count_budget``)."""
    return Exercise(
        name="the homework model", cases=lambda: [Case((), "", {"budget": budget})],
        hint="the network breaks one of the homework's rules.",
        passed="{got.counted:,} numbers counted (budget {budget:,}); it gives 10 scores per image. Now train it.",
        run=_try_network, result=Network,
        same=lambda got, want: True,  # any network that keeps the rules below is a right answer
        form=(
            Mistake("build_model() must return a torch.nn.Module, it returned {type}.",
                    lambda got, want, case: not isinstance(got, Network)),
            Mistake("{got.counted:,} numbers counted (parameters and buffers), over the budget of {budget:,}. "
                    "Fewer channels, or depthwise separable convolutions (notebook 08: a 3x3 convolution from "
                    "I to O channels costs 9*I*O, separable 9*I + I*O).", lambda got, want, case: got.counted > budget),
            Mistake("the model failed on a batch of shape (2, 1, 28, 28): {got.error}",
                    lambda got, want, case: got.error is not None),
            Mistake("for 2 images the output must have shape (2, 10), one score per class; got {got.output}. "
                    "End with a linear layer to 10 outputs (after flattening).",
                    lambda got, want, case: got.output != (2, 10)),
            Mistake("the network has no parameters, so there is nothing to train (buffers do not learn): give it "
                    "layers with weights, such as nn.Conv2d and nn.Linear.", lambda got, want, case: got.parameters == 0),
        ),
    )


HOMEWORK_MODEL = homework_model_exercise()


def check_homework_model(build_fn, budget: int | None = None) -> None:
    """Exercise (homework): ``build_fn()`` -> a network of at most ``budget`` numbers counted
    (``count_budget``; the homework's BUDGET if None), with parameters, giving 10 scores per image."""
    (HOMEWORK_MODEL if budget is None else homework_model_exercise(budget)).check(build_fn)


# ---- design: the short demonstration run, made to count ----------------------------------------------

SCHEDULES = ("constant", "cosine", "one-cycle")


def _is_number(value, low=None, high=None, whole=False) -> bool:
    kind = numbers.Integral if whole else numbers.Real
    return (isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
            and (low is None or value >= low) and (high is None or value <= high))


# What each setting of a recipe may be, and how to say so.
RECIPE_RULES = {
    "lr": (lambda v: _is_number(v) and v > 0, "a number above 0"),
    "schedule": (lambda v: v in SCHEDULES, f"one of {list(SCHEDULES)}"),
    "temperature": (lambda v: _is_number(v) and v > 0, "a number above 0"),
    "alpha": (lambda v: _is_number(v, 0, 1), "a number from 0 to 1"),
    "jitter": (lambda v: _is_number(v, 0, 4, whole=True), "a whole number of pixels from 0 to 4"),
    "teacher": (lambda v: isinstance(v, bool), "True or False"),
}


def require_recipe(recipe) -> dict:
    """``recipe`` checked: a dict of ``train_submission`` settings (the run's length is the notebook's), or a
    ValueError that says what is wrong and what is allowed."""
    if not isinstance(recipe, dict) or not set(recipe) <= set(RECIPE_RULES):
        raise ValueError(f"return a dict with some of the keys {list(RECIPE_RULES)} (the length of the run is the "
                         f"demonstration's), got {recipe!r}")
    for key, value in recipe.items():
        allowed, what = RECIPE_RULES[key]
        if not allowed(value):
            raise ValueError(f"{key} must be {what}, got {key}={value!r}")
    if not recipe.get("teacher") and {"temperature", "alpha"} & set(recipe):
        raise ValueError('temperature and alpha shape the distillation loss: they act only with "teacher": True')
    return recipe


def _demo_numbers(fn, model, teacher, epochs, train_size, test) -> dict:
    """The recipe ``fn`` chooses, measured: ``model`` (untrained, within the budget) trained with it in
    place by ``train_submission`` for ``epochs`` epochs on the first ``train_size`` training images
    (seed 0; ``"teacher": True`` distils from ``teacher``), then its accuracy on ``test``, against the
    simple tier."""
    recipe = require_recipe(call_student(fn))
    counted = count_budget(model)
    if counted > BUDGET:
        raise ValueError(f"the model carries {counted:,} numbers, over the budget of {BUDGET:,}: make it fit first "
                         "(exercise 2)")
    settings = {k: v for k, v in recipe.items() if k != "teacher"}
    with own_random_state():  # training seeds: the notebook's own random state is left as it was
        train_submission(model, teacher if recipe.get("teacher") else None, epochs=epochs, train_size=train_size,
                         seed=0, verbose=False, **settings)
    return {"recipe": recipe, "epochs": epochs, "images": train_size,
            "accuracy": 100 * evaluate(model, *test).accuracy, "simple": 100 * load_tiers()["tiers"]["simple"]}


DEMO_RECIPE = DesignTask(
    name="a short run that reaches a tier (design)",
    goal="the simple tier's test accuracy, from the short demonstration run",
    measure=_demo_numbers,
    met=lambda n: n["accuracy"] >= n["simple"],
    report="recipe {recipe}: {accuracy:.2f}% test accuracy after {epochs} epochs on {images:,} images (simple tier "
           "{simple:.2f}%)",
    hint="a short run needs large steps early and small steps late: look at the learning rate and its schedule, and "
         "compare recipes on training images the run does not use.",
)


def check_demo_recipe(fn, model, teacher, epochs, train_size, test) -> None:
    """Design task (homework): ``fn()`` returns a recipe, a dict of ``train_submission``'s settings (``lr``,
    ``schedule``, ``jitter``, and ``"teacher": True`` with ``temperature`` and ``alpha`` to distil from
    ``teacher``); the check trains ``model`` with it, in place, for ``epochs`` epochs on ``train_size``
    images; met when it reaches the simple tier's accuracy on ``test``. Met or not, ``model`` is trained."""
    DEMO_RECIPE.check(fn, model, teacher, epochs, train_size, test)


EXERCISES = (PARAMETER_COUNT, HOMEWORK_MODEL)
DESIGN_TASKS = (DEMO_RECIPE,)
