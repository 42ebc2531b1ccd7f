"""The one harness behind every ``check_...``: an exercise is data, the harness grades it.

An :class:`Exercise` declares its fixed cases, the form a result must have, a catalogue of known
mistakes (each with the hint it deserves), how results are compared, and a hint for any other
wrong answer. What a right answer gives on each case, and what each known mistake gives, is not
computed here: it is stored in ``expected.pt`` beside this file (written by the teachers' tools from
their reference answers, which are not part of this package), so that no solution can be read
here. ``exercise.check(fn)`` runs the student's ``fn`` on every case and prints one ✓ line, or
raises :class:`ExerciseError` with one message:

* ``fn`` still raises NotImplementedError: "replace it with your code";
* ``fn`` raises another error: that error's type and message (no chained traceback);
* the result has the wrong form, or makes a catalogued mistake: that mistake's hint;
* the result is wrong in some other way: the exercise's generic hint.

Hints are templates, filled in with ``{got}`` and ``{want}`` (the student's result and the stored
right one, shortened), ``{type}`` (the type of the student's result), ``{got_shape}``,
``{want_shape}`` and the case's ``info``. A hint says what is wrong and where to look; it never
contains the answer.
"""
from __future__ import annotations

import copy
import functools
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import torch

NOT_IMPLEMENTED = "the function still raises NotImplementedError: replace it with your code."
# What each exercise's right answer and known mistakes give on its cases; remade by `make expected`.
EXPECTED_FILE = Path(__file__).with_name("expected.pt")
REMAKE = "the stored expected values do not fit the exercises: remake them with `make expected`."


class ExerciseError(AssertionError):
    """A wrong answer, with a hint. ``exercise`` is the exercise it answers; ``mistake`` the
    catalogued mistake it makes (None when it raised, or is wrong in an unknown way)."""

    def __init__(self, message: str, exercise: "Exercise | None" = None, mistake: "Mistake | None" = None):
        super().__init__(message)
        self.exercise = exercise
        self.mistake = mistake


@dataclass(frozen=True)
class Case:
    """One fixed input: ``args`` for the student's function, ``label`` naming the case in a
    message ("at T = 2"), ``info`` for a hint's template, and ``same``, this case's own
    comparison where the exercise's does not fit (a random result, say)."""

    args: tuple
    label: str = ""
    info: Mapping[str, Any] = field(default_factory=dict)
    same: Callable[[Any, Any], bool] | None = None


@dataclass(frozen=True)
class Mistake:
    """A known wrong answer: ``hint`` says what is wrong without giving the answer. The mistake is
    recognised by ``spot(got, want, case)`` if given, else when the student's result is the one a
    function making this mistake gives on the case (stored in ``expected.pt``)."""

    hint: str
    spot: Callable[[Any, Any, Case], bool] | None = None

    def made_by(self, got, want, case: Case, same: Callable[[Any, Any], bool], mistaken=None) -> bool:
        """Whether the result ``got`` makes this mistake: ``spot`` says so, or ``got`` is the same
        (by ``same``) as ``mistaken``, the mistake's stored result. A result too odd to test is not."""
        try:
            if self.spot is not None:
                return bool(self.spot(got, want, case))
            return mistaken is not None and bool(same(got, mistaken))
        except Exception:  # a result too odd for this test is not this mistake
            return False


def call_with_copies(fn, case: Case):
    """The default way to run an answer: ``fn(*case.args)`` on copies, so no answer can change the inputs."""
    return fn(*copy.deepcopy(case.args))


def equal(got, want) -> bool:
    """Exactly the same value (tensors: same shape and values)."""
    if isinstance(want, torch.Tensor):
        return isinstance(got, torch.Tensor) and got.shape == want.shape and torch.equal(got.double(), want.double())
    return bool(got == want)


def close(atol: float = 1e-6, rtol: float = 1e-5) -> Callable[[Any, Any], bool]:
    """The same shape and values within ``atol + rtol * |want|`` (floating-point rounding differs between formulas)."""
    def same(got, want) -> bool:
        got, want = torch.as_tensor(got).double(), torch.as_tensor(want).double()
        return got.shape == want.shape and torch.allclose(got, want, atol=atol, rtol=rtol)
    return same


@dataclass(frozen=True)
class Exercise:
    """An exercise as data; ``check(fn)`` grades a student's ``fn`` against it.

    ``cases`` builds the fixed inputs; ``run(fn, case)`` gives what is compared (default:
    ``fn(*case.args)``); ``form`` lists the mistakes checked on every result before comparing (a
    list instead of a tensor, say), ``mistakes`` those looked for once a result is wrong, first
    match first; ``same`` compares a result with the right one; ``hint`` is said when no known
    mistake matches; ``passed`` is said when every case is right. ``result`` is the NamedTuple that
    ``run`` returns, if it returns one (it is stored as a plain tuple).
    """

    name: str
    cases: Callable[[], Sequence[Case]]
    hint: str
    passed: str
    form: tuple[Mistake, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    same: Callable[[Any, Any], bool] = equal
    run: Callable[[Callable, Case], Any] = call_with_copies
    result: type | None = None

    @property
    def catalogue(self) -> tuple[Mistake, ...]:
        """Every known mistake, form first."""
        return self.form + self.mistakes

    def expected(self, stored: list[dict] | None = None) -> list[dict]:
        """For each case, its stored results (``stored``, default this exercise's in ``expected.pt``):
        ``want``, a right answer's, and ``mistakes``, catalogue index -> what that mistake gives (for
        the mistakes without a ``spot``)."""
        def restore(value):
            return value if self.result is None else self.result(*value)

        stored = load_expected().get(self.name) if stored is None else stored
        if stored is None:
            raise RuntimeError(f"{self.name}: {REMAKE}")
        return [{"want": restore(s["want"]), "mistakes": {i: restore(v) for i, v in s["mistakes"].items()}}
                for s in stored]

    def check(self, fn) -> None:
        """Grade ``fn``: print a ✓ line, or raise ExerciseError with one hint."""
        cases, expected = self.cases(), self.expected()
        if len(cases) != len(expected):
            raise RuntimeError(f"{self.name}: {REMAKE}")
        fields: dict = {}
        for case, stored in zip(cases, expected):
            got = self._observe(fn, case)
            want, same = stored["want"], case.same or self.same
            fields = _fields(got, want, case)
            index = next((i for i, m in enumerate(self.catalogue)  # the first known mistake it makes, form first
                          if m.made_by(got, want, case, same, stored["mistakes"].get(i))), None)
            if (index is None or index >= len(self.form)) and _holds(same, got, want):
                continue  # right, in the right form
            mistake = None if index is None else self.catalogue[index]
            hint = _fill(self.hint if mistake is None else mistake.hint, fields)
            raise self._error(case, hint, mistake) from None
        print(f"✓ {self.name}: {_fill(self.passed, fields)}")

    def _observe(self, fn, case: Case):
        try:
            return self.run(fn, case)
        except NotImplementedError:
            raise ExerciseError(f"{self.name}: not yet. {NOT_IMPLEMENTED}", self) from None
        except Exception as exc:  # the student's bug: one message with its type and text, no traceback chain
            raise self._error(case, f"your function raised {type(exc).__name__}: {exc}") from None

    def _error(self, case: Case, text: str, mistake: Mistake | None = None) -> ExerciseError:
        where = f"{case.label}: " if case.label else ""
        return ExerciseError(f"{self.name}: not yet. {where}{text}", self, mistake)


@functools.cache
def load_expected(path: Path = EXPECTED_FILE) -> dict:
    """The stored results, by exercise name: for each case ``{"want": ..., "mistakes": {index: ...}}``."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing: {REMAKE}")
    return torch.load(path, weights_only=True)


# ---- pieces several exercises share ------------------------------------------------------------

class Traced(NamedTuple):
    """What an answer returned, and the gradient that reached its first argument (None if none did)."""

    value: Any
    gradient: torch.Tensor | None


def with_gradient(fn, case: Case, upstream: torch.Tensor | None = None) -> Traced:
    """Call ``fn`` with a copy of ``case.args[0]`` that requires a gradient, then backpropagate
    ``upstream`` (1 for a single number) through its result, if the result allows it."""
    first, *rest = copy.deepcopy(case.args)
    leaf = first.detach().clone().requires_grad_(True)
    value = fn(leaf, *rest)
    if isinstance(value, torch.Tensor) and value.requires_grad:
        (value if upstream is None else value * upstream).sum().backward()
    return Traced(value, leaf.grad)


def tensor_like(value, reference: torch.Tensor) -> bool:
    """``value`` is a tensor with ``reference``'s shape."""
    return isinstance(value, torch.Tensor) and value.shape == reference.shape


def not_a_tensor(got, want, case) -> bool:
    """A ``spot`` for ``Mistake``: the result is not a torch.Tensor."""
    return not isinstance(got, torch.Tensor)


def not_one_number(got, want, case) -> bool:
    """A ``spot``: the result is not a tensor holding exactly one number (a loss, say)."""
    return not isinstance(got, torch.Tensor) or got.numel() != 1


def not_shaped_like_want(got, want, case) -> bool:
    """A ``spot``: the result's shape differs from the right one's (checked after ``not_a_tensor``)."""
    return tuple(got.shape) != tuple(want.shape)


def not_a_pair(got, want, case) -> bool:
    """A ``spot``: the result is not a tuple or list of two things."""
    return not (isinstance(got, (tuple, list)) and len(got) == 2)


# The two form mistakes of an answer that must be a tensor shaped like the right one.
TENSOR_FORM = (Mistake("return a torch.Tensor, not {type}.", not_a_tensor),
               Mistake("the result has shape {got_shape}; expected {want_shape}.", not_shaped_like_want))


def not_a_real(got, want, case) -> bool:
    """A ``spot``: the result (a one-number tensor already made a number by ``number_result``) is not one real number."""
    return not isinstance(got, numbers.Real)


def list_form(items: str, count: str) -> tuple[Mistake, Mistake]:
    """The form of an answer that is a sequence (``list_result`` makes a tensor or tuple a list): a list, not
    something else, of as many ``items`` as the right one; ``count`` says how many, in words."""
    return (Mistake(f"return the {items} as a list (or a tensor), not {{type}}.",
                    lambda got, want, case: not isinstance(got, list)),
            Mistake(f"{count}; got {{got}}.", lambda got, want, case: len(got) != len(want)))


def same_whole_numbers(got, want) -> bool:
    """A list of whole numbers equal to the right one (numbers of any type: ints, tensors' items)."""
    return [int(g) for g in got] == want


def as_number(value):
    """A tensor holding one number as that Python number (a student may return either); anything else as it is."""
    return value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value


def as_list(value):
    """A tensor, tuple or list as a plain list, to compare with one; anything else as it is."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return list(value) if isinstance(value, (tuple, list)) else value


def number_result(fn, case: Case):
    """A ``run`` for answers that are one number: the answer on copies, a one-number tensor as that number."""
    return as_number(call_with_copies(fn, case))


def list_result(fn, case: Case):
    """A ``run`` for answers that are a sequence: the answer on copies, a tensor or tuple as a plain list."""
    return as_list(call_with_copies(fn, case))


# ---- messages ---------------------------------------------------------------------------------

def show(value):
    """``value`` as a student reads it: tensors as lists, floats to 4 significant digits, long lists cut."""
    if isinstance(value, torch.Tensor):
        value = value.detach().tolist()
    if isinstance(value, (bytes, bytearray)):
        value = list(value)
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if hasattr(value, "_fields"):  # a NamedTuple keeps its field names
        return type(value)(*map(show, value))
    if isinstance(value, dict):
        return {k: show(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if len(value) > 16:
            return f"[{', '.join(str(show(v)) for v in value[:6])}, ... ({len(value)} values)]"
        return type(value)(show(v) for v in value)
    return value


def _fields(got, want, case: Case) -> dict:
    def shape(x):
        return tuple(x.shape) if hasattr(x, "shape") else None
    return {**case.info, "got": show(got), "want": show(want), "type": type(got).__name__,
            "got_shape": shape(got), "want_shape": shape(want)}


def _fill(template: str, fields: dict) -> str:
    try:
        return template.format_map(fields)
    except (KeyError, IndexError, AttributeError, TypeError, ValueError):  # an odd result: the hint without numbers
        return template


def _holds(same, got, want) -> bool:
    try:
        return bool(same(got, want))
    except Exception:  # a result that cannot even be compared is wrong
        return False


# ---- design tasks: a decision with a measurable goal --------------------------------------------

@dataclass(frozen=True)
class DesignTask:
    """A design decision with a goal that can be measured: the check measures what the student's
    function chose or built (not their code) and says, with the numbers, whether the goal is met.

    ``measure(fn, *context)`` calls the student's ``fn`` as the task says (through ``call_student``: on
    copies, its own errors marked as its own) and returns the measured numbers as a dict; a choice that is not allowed raises ``ValueError`` or ``TypeError`` saying
    what is. ``met(numbers)`` says whether the goal is reached; ``report`` is a template over the
    numbers, shown either way; ``hints`` are ``(applies(numbers), hint)`` pairs, the first that
    applies is said when the goal is missed (else ``hint``). A hint says which way to move, never
    the answer.
    """

    name: str
    goal: str
    measure: Callable[..., dict]
    met: Callable[[dict], bool]
    report: str
    hint: str
    hints: tuple[tuple[Callable[[dict], bool], str], ...] = ()

    def check(self, fn, *context) -> dict:
        """Measure what ``fn`` chooses; print a ✓ line with the numbers and return them, or raise
        ExerciseError with the numbers and one hint."""
        try:
            numbers = self.measure(fn, *context)
        except NotImplementedError:
            raise ExerciseError(f"{self.name}: not yet. {NOT_IMPLEMENTED}", self) from None
        except StudentRaised as raised:
            raise ExerciseError(f"{self.name}: not yet. your function raised {raised}", self) from None
        except (ValueError, TypeError) as exc:  # a choice outside what is allowed: say what is
            raise ExerciseError(f"{self.name}: not yet. {exc}", self) from None
        except Exception as exc:  # the student's bug: one message, no chained traceback
            raise ExerciseError(f"{self.name}: not yet. your function raised {type(exc).__name__}: {exc}", self) from None
        measured = _fill(self.report, numbers)
        if self.met(numbers):
            print(f"✓ {self.name}: {measured}; the goal ({self.goal}) is met.")
            return numbers
        hint = next((text for applies, text in self.hints if _applies(applies, numbers)), self.hint)
        raise ExerciseError(f"{self.name}: not yet. {measured}; the goal is {self.goal}. {_fill(hint, numbers)}", self)


class StudentRaised(Exception):
    """What the student's function raised while a design task measured it (``error``): reported as the
    student's bug, not as a choice the task does not allow."""

    def __init__(self, error: Exception):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


def call_student(fn, *args):
    """``fn(*args)`` on copies of ``args``, so that the student's function cannot change what the check
    measures next (the notebook's model or tensors); NotImplementedError passes through, anything else
    it raises comes back as StudentRaised."""
    try:
        return fn(*copy.deepcopy(args))
    except NotImplementedError:
        raise
    except Exception as exc:  # the student's bug, whatever its type
        raise StudentRaised(exc) from None


def own_random_state():
    """A context in which a check may seed and draw (to train, say) and leave the notebook's random state,
    on the CPU and on every GPU, as it found it."""
    return torch.random.fork_rng()


def _applies(condition, numbers) -> bool:
    try:
        return bool(condition(numbers))
    except Exception:
        return False
