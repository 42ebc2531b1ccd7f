"""Exercises of notebooks 01-04: softmax with temperature, the distillation loss, an unseen digit,
ensembles, logit matching and hidden activations."""
from __future__ import annotations

import torch

from ..models import MLP
from .harness import (TENSOR_FORM, Case, Exercise, Mistake, Traced, call_with_copies, close, not_a_pair, not_one_number,
                      tensor_like, with_gradient)

# ---- notebook 01 · softmax with temperature: p_i = exp(y_i / T) / sum_j exp(y_j / T) ----------------

def _softmax_cases():
    lecture = torch.tensor([100.0, 10.0, 1.0])
    small = torch.tensor([[1.0, 2.0, 3.0], [3.0, 0.0, -1.0]])  # first: there a wrong answer shows what is wrong
    return [Case((logits, t), f"logits {logits.tolist()} at T = {t}")
            for logits, t in [(small, 2.0), (lecture, 1.0), (lecture, 100.0), (lecture, 0.5),
                              (torch.tensor([1e4, 0.0, -1e4]), 1.0)]]


def _overflows(got, want, case) -> bool:
    return not torch.isfinite(got).all()


def _rows_do_not_sum_to_one(got, want, case) -> bool:
    sums = got.double().sum(-1)
    return not torch.allclose(sums, torch.ones_like(sums), atol=1e-6)


def _columns_sum_to_one(got, want, case) -> bool:
    sums = got.double().sum(0)
    return _rows_do_not_sum_to_one(got, want, case) and torch.allclose(sums, torch.ones_like(sums), atol=1e-6)


SOFTMAX_WITH_TEMPERATURE = Exercise(
    name="softmax with temperature", cases=_softmax_cases,
    hint="expected {want}, got {got}.",
    passed="correct on 5 cases, including the lecture's logits (100, 10, 1) and logits of 1e4.",
    same=close(atol=1e-6, rtol=0),
    form=TENSOR_FORM,
    mistakes=(
        Mistake("exp() overflowed (in float32 exp(89) is already inf). Adding the same number to every logit "
                "does not change a softmax: shift the scaled logits so that the largest is 0 before exp().",
                _overflows),
        Mistake("each row must sum to 1: normalise over the last dimension (dim=-1), not dim=0.", _columns_sum_to_one),
        Mistake("the probabilities do not sum to 1: normalise by the sum over the classes.", _rows_do_not_sum_to_one),
        Mistake("you get softmax(logits * T): divide the logits by T, do not multiply."),
        Mistake("you get the plain softmax: the temperature is not used."),
    ),
)


def check_softmax_with_temperature(fn) -> None:
    """Exercise (notebook 01): ``fn(logits, temperature)`` = softmax(logits / T) over the last dimension."""
    SOFTMAX_WITH_TEMPERATURE.check(fn)


# ---- notebook 01 · the distillation loss ---------------------------------------------------------
# alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, labels),
# compared by its gradient with respect to the student's logits, which is what training uses:
# KL divergence and soft cross-entropy (they differ by the teacher's entropy, a constant) both pass.

def _distillation_cases():
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(8, 10, generator=g) * 3, torch.randn(8, 10, generator=g) * 3
    labels = torch.randint(0, 10, (8,), generator=g)
    return [Case((student, teacher, labels, t, alpha), f"at T = {t}, alpha = {alpha}")
            for t, alpha in [(4.0, 0.9), (1.0, 0.5), (20.0, 1.0), (2.0, 0.0)]]


def _gradients_close(got: Traced, want: Traced) -> bool:
    return close(atol=1e-6, rtol=1e-4)(got.gradient, want.gradient)


DISTILLATION_LOSS = Exercise(
    name="distillation loss", cases=_distillation_cases,
    hint="the gradient with respect to the student's logits differs from the reference's: compare your code "
         "with the loss's formula, term by term.",
    passed="its gradient matches the reference at 4 settings of T and alpha.",
    run=with_gradient, same=_gradients_close, result=Traced,
    form=(
        Mistake("the loss must be a single number (a 0-dim tensor), averaged over the batch.",
                lambda got, want, case: not_one_number(got.value, want, case)),
        Mistake("the loss does not depend on the student's logits (did you detach them or use .item()?).",
                lambda got, want, case: got.gradient is None),
    ),
    mistakes=(
        Mistake("the soft term is not multiplied by T²: its gradient shrinks like 1/T², so it needs that factor."),
        Mistake("alpha and 1 - alpha are swapped: alpha weighs the soft targets, 1 - alpha the labels."),
        Mistake("the losses are summed over the batch: average them instead."),
        Mistake("both the teacher's and the student's logits must be divided by T before the softmax."),
    ),
)


def check_distillation_loss(fn) -> None:
    """Exercise (notebook 01): ``fn(student_logits, teacher_logits, labels, temperature, alpha)`` =
    alpha * T² * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels), averaged over the batch."""
    DISTILLATION_LOSS.check(fn)


# ---- notebook 02 · a digit the student never saw -------------------------------------------------

def _drop_digit_cases():
    g = torch.Generator().manual_seed(1)
    labels = torch.tensor([7, 1, 7, 3, 9, 7, 0, 1])
    images = torch.rand(len(labels), 1, 4, 4, generator=g)
    return [Case((images, labels, digit), f"with digit = {digit}", {"digit": digit}) for digit in (7, 1, 5)]


def _pair_of_tensors(got, want) -> bool:
    return all(isinstance(x, torch.Tensor) for x in got) and all(map(torch.equal, got, want))


DROP_DIGIT = Exercise(
    name="drop a digit", cases=_drop_digit_cases, same=_pair_of_tensors,
    hint="expected labels {want[1]}, got {got[1]} (keep the order).",
    passed="correct for digits 7, 1 and 5 (5 is absent: nothing removed).",
    form=(
        Mistake("return a pair (images, labels).", not_a_pair),
        Mistake("return tensors, not lists.", lambda got, want, case: not all(isinstance(v, torch.Tensor) for v in got)),
    ),
    mistakes=(
        Mistake("the labels still contain {digit}: keep only the examples of the other digits.",
                lambda got, want, case: bool((got[1] == case.args[2]).any())),
        Mistake("there are not as many images as labels: keep the images of the labels you keep.",
                lambda got, want, case: len(got[0]) != len(got[1])),
        Mistake("the labels are right but the images are not the ones that go with them: select both with "
                "the same rule.", lambda got, want, case: torch.equal(got[1], want[1])),
    ),
)


def check_drop_digit(fn) -> None:
    """Exercise (notebook 02): ``fn(images, labels, digit)`` returns the pair without that digit."""
    DROP_DIGIT.check(fn)


def _shift_cases():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.5, 2.0, 0.0], [1.5, 0.0, 0.2], [0.0, 1.0, 0.9], [3.0, 0.0, 0.0]])
    shifts = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
    return [Case((logits, torch.tensor([2, 1, 2, 2, 0]), 2, shifts), "", {"shifts": shifts})]


def _the_shift(fn, case):
    """The student may return (shift, accuracies) as ``distillation.best_bias_shift`` does: grade the shift."""
    got = call_with_copies(fn, case)
    return got[0] if isinstance(got, tuple) else got


def _not_a_number(got, want, case) -> bool:
    try:
        float(got)
    except (TypeError, ValueError):
        return True
    return False


BEST_BIAS_SHIFT = Exercise(
    name="choose the bias shift", cases=_shift_cases,
    hint="expected one of the shifts {shifts}, got {got}.",
    passed="picks {want}, the shift with the highest validation accuracy.",
    run=_the_shift, same=lambda got, want: float(got) == want,
    form=(Mistake("return the shift (a number), not {type}.", _not_a_number),),
    mistakes=(
        Mistake("shift {got} is one of the shifts, but not the one with the highest accuracy: measure the "
                "accuracy each shift gives and keep the best (the first one on ties).",
                lambda got, want, case: float(got) in case.args[3]),
    ),
)


def check_best_bias_shift(fn) -> None:
    """Exercise (notebook 02): ``fn(logits, labels, cls, shifts)``: the shift of class ``cls``'s logit
    with the highest accuracy (the first one on ties)."""
    BEST_BIAS_SHIFT.check(fn)


# ---- notebook 03 · an ensemble as the teacher ------------------------------------------------------

def _ensemble_cases():
    g = torch.Generator().manual_seed(2)
    return [Case(([torch.randn(5, 4, generator=g) * 3 for _ in range(3)],))]


ENSEMBLE_PROBABILITIES = Exercise(
    name="ensemble by averaging", cases=_ensemble_cases,
    hint="expected {want[0]} for the first image, got {got[0]}.",
    passed="the mean of the members' probabilities.",
    same=close(atol=1e-6, rtol=0),
    form=TENSOR_FORM,
    mistakes=(
        Mistake("you averaged the logits, then took the softmax: average the members' probabilities instead."),
        Mistake("you summed the probabilities: the result must be a mean (each row sums to 1)."),
    ),
)


def check_ensemble_probabilities(fn) -> None:
    """Exercise (notebook 03): ``fn(list_of_logits)`` = (1/M) sum_m softmax(z_m), the members' mean probabilities."""
    ENSEMBLE_PROBABILITIES.check(fn)


def _state_dict_cases():
    g = torch.Generator().manual_seed(3)
    return [Case(([{"w": torch.randn(3, 2, generator=g), "b": torch.randn(3, generator=g)} for _ in range(4)],))]


def _entrywise(same):
    """Compare two state dicts entry by entry with ``same``."""
    return lambda got, want: all(same(got[k], want[k]) for k in want)


AVERAGE_STATE_DICTS = Exercise(
    name="average parameters", cases=_state_dict_cases,
    hint="each entry should be the element-wise mean of the 4 tensors.",
    passed="the element-wise mean of 4 state dicts.",
    same=_entrywise(close(atol=1e-6, rtol=0)),
    form=(
        Mistake("return a dict with the same keys as each state dict ('w' and 'b' here).",
                lambda got, want, case: not isinstance(got, dict) or set(got) != set(want)),
        Mistake("each value must be a tensor shaped like the ones averaged.",
                lambda got, want, case: not all(map(tensor_like, got.values(), want.values()))),
    ),
    mistakes=(
        Mistake("you summed the tensors: the result must be their mean."),
    ),
)


def check_average_state_dicts(fn) -> None:
    """Exercise (notebook 03): ``fn(list_of_state_dicts)`` returns their element-wise mean (checkpoint averaging)."""
    AVERAGE_STATE_DICTS.check(fn)


# ---- notebook 04 · logit matching and hidden activations (FitNets) ---------------------------------

def _logit_cases():
    g = torch.Generator().manual_seed(4)
    return [Case((torch.randn(6, 10, generator=g) * 2, torch.randn(6, 10, generator=g) * 2 + 5))]


LOGIT_MATCHING_LOSS = Exercise(
    name="logit matching", cases=_logit_cases,
    hint="expected {want}, got {got}.",
    passed="the squared distance between zero-meaned logits.",
    same=close(atol=0, rtol=1e-5),
    form=(Mistake("return a single number (a 0-dim tensor).", not_one_number),),
    mistakes=(
        Mistake("subtract each example's mean logit first: adding a constant to all logits changes nothing after a "
                "softmax, so the student should not be asked to match it."),
        Mistake("the loss is twice too large: mind the 1/2 in front (its gradient is then z - v)."),
        Mistake("sum the squares over the classes, then average over the batch (F.mse_loss averages over both)."),
    ),
)


def check_logit_matching_loss(fn) -> None:
    """Exercise (notebook 04): ``fn(student_logits, teacher_logits)`` = 1/2 mean_batch sum_i (z_i - v_i)²
    on zero-meaned logits (Ba & Caruana)."""
    LOGIT_MATCHING_LOSS.check(fn)


def _mlp_cases():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        mlp, images = MLP(hidden=(6, 5, 4), in_features=16), torch.rand(3, 1, 4, 4)
    return [Case((mlp, images), "", {"layers": 3})]


def _same_activations(got, want) -> bool:
    same = close(atol=1e-6, rtol=0)
    return same(got[0], want[0]) and all(map(same, got[1], want[1]))


HIDDEN_ACTIVATIONS = Exercise(
    name="hidden activations", cases=_mlp_cases, same=_same_activations,
    hint="the hidden outputs differ from the reference's.",
    passed="logits and all 3 hidden layers match.",
    form=(
        Mistake("return a pair (logits, list of hidden outputs).",
                lambda got, want, case: not_a_pair(got, want, case) or not isinstance(got[1], (list, tuple))),
        Mistake("this MLP has {layers} hidden layers: return one output per ReLU, not one per Linear.",
                lambda got, want, case: len(got[1]) != len(want[1])),
        Mistake("each hidden output must be a tensor shaped like that layer's output.",
                lambda got, want, case: not all(map(tensor_like, got[1], want[1]))),
    ),
    mistakes=(
        Mistake("some hidden outputs are negative: take each layer's output after its ReLU, not after the Linear.",
                lambda got, want, case: any(bool((h < 0).any()) for h in got[1])),
        Mistake("the hidden layers are right but the logits differ: run every layer, and return the last output.",
                lambda got, want, case: _same_activations((want[0], got[1]), want)),
    ),
)


def check_hidden_activations(fn) -> None:
    """Exercise (notebook 04): ``fn(mlp, images)`` returns ``(logits, [each hidden layer's output after its ReLU])``."""
    HIDDEN_ACTIVATIONS.check(fn)


EXERCISES = (SOFTMAX_WITH_TEMPERATURE, DISTILLATION_LOSS, DROP_DIGIT, BEST_BIAS_SHIFT, ENSEMBLE_PROBABILITIES,
             AVERAGE_STATE_DICTS, LOGIT_MATCHING_LOSS, HIDDEN_ACTIVATIONS)
