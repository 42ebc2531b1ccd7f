"""Checks for the notebooks' exercises.

Each ``check_*`` runs the student's function on small fixed inputs, compares it
with the reference in ``lecture_utils``, and either prints a line saying it is
right or raises ``ExerciseError`` with a hint that says what is wrong.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .distillation import distillation_loss, softmax_with_temperature


class ExerciseError(AssertionError):
    """A wrong answer, with a hint."""


def _fail(exercise: str, hint: str):
    raise ExerciseError(f"{exercise}: not yet. {hint}")


def _call(exercise: str, fn, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        _fail(exercise, "the function still raises NotImplementedError: replace it with your code.")
    except Exception as exc:  # a student's bug: say what it was, with the inputs
        _fail(exercise, f"calling it on {args!r} raised {type(exc).__name__}: {exc}")


def _as_tensor(exercise: str, value, shape) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        _fail(exercise, f"return a torch.Tensor, not {type(value).__name__}.")
    if tuple(value.shape) != tuple(shape):
        _fail(exercise, f"the result has shape {tuple(value.shape)}; expected {tuple(shape)} (the shape of the input).")
    return value.detach().double()


OVERFLOW_HINT = ("exp() overflowed (float32 exp(89) is already inf). Subtract the largest scaled logit m from "
                 "every one first: exp(y_i/T - m) / sum_j exp(y_j/T - m) is the same softmax and never overflows.")


def check_softmax_with_temperature(fn) -> None:
    """Exercise (notebook 01): ``fn(logits, temperature)`` must equal softmax(logits / T) over the last dim."""
    name = "softmax with temperature"
    lecture = torch.tensor([100.0, 10.0, 1.0])
    cases = [  # small logits first: there a wrong answer shows what is wrong with it
        (torch.tensor([[1.0, 2.0, 3.0], [3.0, 0.0, -1.0]]), 2.0),
        (lecture, 1.0), (lecture, 100.0), (lecture, 0.5),
    ]
    for logits, t in cases:
        got = _as_tensor(name, _call(name, fn, logits.clone(), t), logits.shape)
        want = softmax_with_temperature(logits.double(), t)
        if torch.allclose(got, want, atol=1e-6):
            continue
        if not torch.isfinite(got).all():
            _fail(name, f"logits {logits.tolist()} at T = {t} gave {got.tolist()}: {OVERFLOW_HINT}")
        if not torch.allclose(got.sum(-1), torch.ones_like(got.sum(-1)), atol=1e-6):
            if torch.allclose(got.sum(0), torch.ones_like(got.sum(0)), atol=1e-6):
                _fail(name, "each row must sum to 1: normalise over the last dimension (dim=-1), not dim=0.")
            _fail(name, f"the probabilities sum to {got.sum(-1).tolist()}, not 1: divide exp(y_i / T) by the sum over j of exp(y_j / T).")
        if torch.allclose(got, torch.softmax(logits.double() * t, -1), atol=1e-6):
            _fail(name, f"at T = {t} you get softmax(logits * T): divide the logits by T, do not multiply.")
        if torch.allclose(got, torch.softmax(logits.double(), -1), atol=1e-6):
            _fail(name, f"at T = {t} you get the plain softmax: the temperature is not used. Divide the logits by T.")
        _fail(name, f"logits {logits.tolist()} at T = {t}: expected {want.tolist()}, got {got.tolist()}.")
    big = torch.tensor([1e4, 0.0, -1e4])
    got = _as_tensor(name, _call(name, fn, big.clone(), 1.0), big.shape)
    if not torch.isfinite(got).all():
        _fail(name, f"logits [1e4, 0, -1e4] gave {got.tolist()}: {OVERFLOW_HINT}")
    if not torch.allclose(got, torch.tensor([1.0, 0.0, 0.0], dtype=torch.double), atol=1e-6):
        _fail(name, f"logits [1e4, 0, -1e4] at T = 1 should give [1, 0, 0], got {got.tolist()}.")
    print(f"✓ {name}: correct on {len(cases) + 1} cases, including the lecture's logits (100, 10, 1) and logits of 1e4.")


def _student_gradient(loss_fn, student, teacher, labels, t, alpha) -> torch.Tensor:
    s = student.clone().requires_grad_(True)
    loss = loss_fn(s, teacher.clone(), labels.clone(), t, alpha)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise TypeError("the loss must be a single number (a 0-dim tensor), averaged over the batch")
    if not loss.requires_grad:
        raise TypeError("the loss does not depend on the student's logits (did you detach them or use .item()?)")
    loss.backward()
    return s.grad.double()


def check_distillation_loss(fn) -> None:
    """Exercise (notebook 01): ``fn(student_logits, teacher_logits, labels, temperature, alpha)``.

    Compared by its gradient with respect to the student's logits, which is what
    training uses: KL divergence and soft cross-entropy (which differ by a constant,
    the teacher's entropy) both pass.
    """
    name = "distillation loss"
    g = torch.Generator().manual_seed(0)
    student = torch.randn(8, 10, generator=g) * 3
    teacher = torch.randn(8, 10, generator=g) * 3
    labels = torch.randint(0, 10, (8,), generator=g)
    variants = {
        "the soft term is not multiplied by T²: its gradient shrinks like 1/T², so scale it by T ** 2.":
            lambda s, te, y, t, a: distillation_loss(s, te, y, t, a, scale_by_t2=False),
        "alpha and 1 - alpha are swapped: alpha weighs the soft targets, 1 - alpha the labels.":
            lambda s, te, y, t, a: distillation_loss(s, te, y, t, 1 - a),
        "the losses are summed over the batch: average them instead (reduction='batchmean' or .mean()).":
            lambda s, te, y, t, a: len(s) * distillation_loss(s, te, y, t, a),
        "both the teacher's and the student's logits must be divided by T before the softmax.":
            lambda s, te, y, t, a: a * t**2 * F.kl_div(F.log_softmax(s, -1), F.softmax(te / t, -1), reduction="batchmean")
            + (1 - a) * F.cross_entropy(s, y),
    }
    for t, alpha in [(4.0, 0.9), (1.0, 0.5), (20.0, 1.0), (2.0, 0.0)]:
        try:
            got = _student_gradient(fn, student, teacher, labels, t, alpha)
        except NotImplementedError:
            _fail(name, "the function still raises NotImplementedError: replace it with your code.")
        except Exception as exc:
            _fail(name, f"at T = {t}, alpha = {alpha} it raised {type(exc).__name__}: {exc}")
        want = _student_gradient(distillation_loss, student, teacher, labels, t, alpha)
        if torch.allclose(got, want, atol=1e-6, rtol=1e-4):
            continue
        for hint, variant in variants.items():
            if torch.allclose(got, _student_gradient(variant, student, teacher, labels, t, alpha), atol=1e-6, rtol=1e-4):
                _fail(name, f"at T = {t}, alpha = {alpha}: {hint}")
        _fail(name, f"at T = {t}, alpha = {alpha} the gradient with respect to the student's logits differs from "
                    "alpha * T² * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * cross_entropy(student, labels).")
    print(f"✓ {name}: its gradient matches the reference at 4 settings of T and alpha.")
