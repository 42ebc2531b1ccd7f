"""Exercises of notebooks 01-04: the temperature for a top probability, what soft targets say beyond the label,
where the teacher hides an unseen digit and where a bias shift flips an answer, how many members
get each image wrong and matching hidden units (ensembles), the soft-target gradient and how much
of the teacher's logits a student reproduces, and their design tasks."""
from __future__ import annotations

import numbers

import torch

from ..data import make_loader
from ..distillation import bias_shift_outcome, distillation_loss, mimic_gradient_gap
from ..ensembles import cascade
from ..models import MLP
from ..seeds import train_recipes
from ..training import evaluate
from .harness import (TENSOR_FORM, Case, DesignTask, Exercise, Mistake, as_number, call_student, close, list_form,
                      list_result, not_a_real, number_result, own_random_state, same_whole_numbers)

# ---- notebook 01 · the temperature for a given top probability: softmax(z / T).max() = p -----------------
# It falls from 1 towards 1 / classes as T grows, so bisection finds T.

def _temperature_cases():
    return [Case((torch.tensor(logits), top), f"logits {logits}, top probability {top}")
            for logits, top in [([0.5, 2.5, 2.0, -1.0], 0.45), ([3.0, 1.0, 0.2], 0.7), ([100.0, 10.0, 1.0], 0.5)]]


def _same_temperature(got, want) -> bool:
    return abs(got - want) <= 1e-4 * want


def _top_probability(scaled_logits) -> float:
    return torch.softmax(scaled_logits.double(), dim=-1).max().item()


TEMPERATURE_FOR = Exercise(
    name="the temperature for a top probability", cases=_temperature_cases,
    hint="expected T = {want}, got {got}: the top probability falls as T grows, so a bisection between a small and "
         "a large T finds it (on a log scale: T spans many orders of magnitude).",
    passed="the temperature that gives each top probability, on 3 cases (the lecture's logits among them).",
    run=number_result, same=_same_temperature,
    form=(Mistake("return the temperature, one positive number, not {type}.",
                  lambda got, want, case: not isinstance(got, numbers.Real) or not got > 0),),
    mistakes=(
        Mistake("that T gives the probability asked for to softmax(logits * T): divide the logits by T.",
                lambda got, want, case: abs(_top_probability(case.args[0] * got) - case.args[1]) < 1e-4),
    ),
)


def check_temperature_for(fn) -> None:
    """Exercise (notebook 01): ``fn(logits, top)``: the temperature T at which softmax(logits / T) gives
    its top class the probability ``top`` (between 1 / classes and 1)."""
    TEMPERATURE_FOR.check(fn)


# ---- notebook 01 · what the soft targets say beyond the label -------------------------------------
# The mean, over images, of the teacher's probability at temperature T for every class but the label:
# the part of a soft target that the label does not carry.

def _dark_knowledge_cases():
    g = torch.Generator().manual_seed(0)
    teacher = torch.randn(8, 10, generator=g) * 4
    labels = teacher.argmax(dim=1)
    labels[:2] = (labels[:2] + 1) % 10  # two images on which the teacher's top class is not the label
    return [Case((teacher, labels, t), f"at T = {t:g}") for t in (4.0, 1.0, 20.0)]


DARK_KNOWLEDGE = Exercise(
    name="what the soft targets say beyond the label", cases=_dark_knowledge_cases,
    hint="expected {want}, got {got}.",
    passed="the teacher's mean probability off the label, at T = 4, 1 and 20.",
    run=number_result, same=close(atol=1e-6, rtol=1e-5),
    form=(Mistake("return one number (the mean over the images), not {type}.", not_a_real),),
    mistakes=(
        Mistake("soften the teacher's outputs with the temperature before reading its probabilities."),
        Mistake("that is the probability off the teacher's own top class: the mass beyond the *label* is asked for "
                "(on two of the check's images the teacher's top class is not the label)."),
        Mistake("that is the probability of the label itself: the question is how much goes to the other classes."),
        Mistake("that is a sum over the images: take the mean, so that the number does not grow with the batch."),
    ),
)


def check_dark_knowledge(fn) -> None:
    """Exercise (notebook 01): ``fn(teacher_logits, labels, temperature)``: the mean, over the images, of
    the probability the teacher gives at temperature T to the classes other than the label."""
    DARK_KNOWLEDGE.check(fn)


# ---- notebook 02 · a digit the student never saw -------------------------------------------------

def _mass_cases():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(12, 10, generator=g) * 3
    labels = torch.tensor([1, 2, 1, 9, 2, 4, 1, 9, 0, 4, 2, 9])  # no 7s, as in the transfer set
    return [Case((logits, labels, digit, t), f"digit {digit} at T = {t:g}", {"digit": digit, "classes": sorted(set(labels.tolist()))})
            for digit, t in [(7, 4.0), (7, 1.0), (3, 8.0)]]


def _as_float_dict(value) -> dict:
    return {int(k): float(v) for k, v in value.items()}


def _same_mass(got, want) -> bool:
    got, want = _as_float_dict(got), _as_float_dict(want)
    return got.keys() == want.keys() and all(abs(got[k] - want[k]) <= 1e-6 + 1e-5 * abs(want[k]) for k in want)


DIGIT_MASS = Exercise(
    name="where the teacher hides a digit", cases=_mass_cases, same=_same_mass,
    hint="expected {want}, got {got}.",
    passed="the teacher's mean probability of the digit, class by class, at T = 4, 1 and 8.",
    form=(
        Mistake("return a dict {{class: mean probability}}, not {type}.", lambda got, want, case: not isinstance(got, dict)),
        Mistake("one entry per class that occurs among the labels ({classes}), no more and no fewer.",
                lambda got, want, case: set(map(int, got)) != set(map(int, want))),
    ),
    mistakes=(
        Mistake("soften the teacher's outputs with the temperature before reading the digit's probability."),
        Mistake("every class got the same number: average over the images of each class separately."),
        Mistake("those are the probabilities of each image's own class: read the probability of digit {digit}."),
        Mistake("that counts the images whose top answer is the digit: average its probability instead, which is "
                "never exactly 0."),
    ),
)


def check_digit_mass(fn) -> None:
    """Exercise (notebook 02): ``fn(teacher_logits, labels, digit, T)`` returns, for each class among
    ``labels``, the teacher's mean probability of ``digit`` at temperature T on that class's images."""
    DIGIT_MASS.check(fn)


# ---- notebook 02 · the shift at which an answer flips: max over the other classes of z_j, minus z_cls -----

def _flip_cases():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 10, generator=g) * 3
    logits[0, 7] = logits[0].max() + 1.0  # an image already read as a 7
    small = torch.tensor([[2.0, 0.0, 1.0], [0.5, 2.0, 0.0], [1.5, 0.0, 0.2], [0.0, 1.0, 1.9], [3.0, 0.0, 0.0]])
    return [Case((logits, 7), "10 classes, cls = 7"), Case((small, 2), "3 classes, cls = 2")]


FLIP_SHIFTS = Exercise(
    name="the shift that flips an answer", cases=_flip_cases,
    hint="expected {want}, got {got}.",
    passed="each image's flip point, on 11 images, including ones already read as the class.",
    same=close(atol=1e-6, rtol=1e-6), form=TENSOR_FORM,
    mistakes=(
        Mistake("an image already read as the class must get a negative number: it stays that class until the shift "
                "goes below it, and the class is not its own rival."),
        Mistake("the sign is reversed: a positive number is what must be *added* to the class's logit."),
        Mistake("the bias is added to a logit, so compare logits, not softmax probabilities."),
    ),
)


def check_flip_shifts(fn) -> None:
    """Exercise (notebook 02): ``fn(logits, cls)``: for each image, the shift of class ``cls``'s logit
    above which the image is read as ``cls``: the largest logit of the other classes minus ``cls``'s."""
    FLIP_SHIFTS.check(fn)


# ---- notebook 03 · why averaging helps: how many members get each image wrong ------------------------

def _overlap_cases():
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 4, (12,), generator=g)
    probs = torch.softmax(torch.randn(3, 12, 4, generator=g) * 2 + 3 * torch.nn.functional.one_hot(labels, 4), dim=2)
    two = torch.softmax(torch.randn(2, 6, 3, generator=g) * 3, dim=2)
    return [Case((probs, labels), "3 members, 12 images", {"members": 3}),
            Case((two, torch.tensor([0, 1, 2, 0, 1, 2])), "2 members, 6 images", {"members": 2})]


ERROR_OVERLAP = Exercise(
    name="how many members get each image wrong", cases=_overlap_cases,
    hint="expected {want}, got {got}.",
    passed="the images counted by how many members get them wrong.",
    run=list_result,
    same=same_whole_numbers,
    form=list_form("counts", "one count for each k from 0 to the number of members ({members} + 1 numbers)"),
    mistakes=(
        Mistake("those are the images counted by how many members get them *right*: count the wrong answers."),
        Mistake("those count the images that *at least* k members get wrong: count exactly k."),
    ),
)


def check_error_overlap(fn) -> None:
    """Exercise (notebook 03): ``fn(member_probs, labels)``, ``member_probs`` ``(members, images,
    classes)``: for k = 0 .. members, the number of images that exactly k members get wrong."""
    ERROR_OVERLAP.check(fn)


# ---- notebook 03 · why averaging parameters fails: matching hidden units ------------------------------

def _match_cases():
    g = torch.Generator().manual_seed(3)
    reference = torch.randn(5, 3, generator=g)
    shuffled = reference[[2, 0, 4, 1, 3]] + 0.01 * torch.randn(5, 3, generator=g)  # the same units, reordered
    scales = torch.tensor([0.3, 0.5, 1.0, 2.0, 4.0, 0.2])[:, None]
    independent = torch.randn(6, 4, generator=g) * scales, torch.randn(6, 4, generator=g) * scales.flip(0)
    return [Case((reference, shuffled), "the same 5 units in another order"),
            Case(independent, "two unrelated layers of 6 units")]


UNIT_MATCH = Exercise(
    name="matching hidden units", cases=_match_cases,
    hint="expected {want}, got {got}.",
    passed="each reference unit matched with the nearest unit of the other layer.",
    run=list_result,
    same=same_whole_numbers,
    form=list_form("indices", "one index per unit of the reference layer (a unit is a row: its incoming weights)"),
    mistakes=(
        Mistake("that matches each unit of the *other* layer with the reference: the answer is, for reference unit "
                "i, which row of the other layer is nearest to it."),
        Mistake("the largest dot product favours long rows: the nearest unit is the one at the smallest distance."),
    ),
)


def check_unit_match(fn) -> None:
    """Exercise (notebook 03): ``fn(w_reference, w_other)``, two ``(units, inputs)`` weight matrices: for
    each reference unit (row) i, the index of the row of ``w_other`` nearest to it (Euclidean distance)."""
    UNIT_MATCH.check(fn)


# ---- notebook 04 · how much of the teacher's logits a student reproduces: 1 - sum (z - v)² / sum v², zero-meaned ----

def _agreement_cases():
    g = torch.Generator().manual_seed(4)
    teacher = torch.randn(6, 10, generator=g) * 2
    offsets = torch.randn(6, 1, generator=g) * 5  # a constant per example: the softmax ignores it
    close_student = 0.8 * teacher + 0.3 * torch.randn(6, 10, generator=g) + offsets
    return [Case((close_student, teacher + 3.0), "a student close to the teacher, other offsets"),
            Case((torch.randn(6, 10, generator=g) * 2, teacher), "a student unrelated to the teacher")]


LOGIT_AGREEMENT = Exercise(
    name="how much of the teacher's logits a student reproduces", cases=_agreement_cases,
    hint="expected {want}, got {got}.",
    passed="the share of the teacher's zero-meaned logits that the student reproduces, on 2 cases.",
    run=number_result, same=close(atol=1e-6, rtol=1e-5),
    form=(Mistake("return one number, not {type}.", not_a_real),),
    mistakes=(
        Mistake("subtract each example's mean logit first, the student's and the teacher's: adding a constant to "
                "one example's logits changes nothing after a softmax, so it is not a disagreement."),
        Mistake("the mean to subtract is each example's own, over its classes, not each class's over the batch."),
        Mistake("that is the share the student misses: subtract it from 1."),
    ),
)


def check_logit_agreement(fn) -> None:
    """Exercise (notebook 04): ``fn(student_logits, teacher_logits)``: 1 - sum (z - v)² / sum v², with
    every example's logits zero-meaned (z the student's, v the teacher's)."""
    LOGIT_AGREEMENT.check(fn)


# ---- notebook 04 · the gradient of the soft-target loss T² KL(p || q), q = softmax(z / T) ----------

def _gradient_cases():
    g = torch.Generator().manual_seed(7)
    z, v = torch.randn(5, 10, generator=g) * 3, torch.randn(5, 10, generator=g) * 3
    return [Case((z, v, t), f"at T = {t:g}") for t in (4.0, 20.0, 1.0)]


SOFT_TARGET_GRADIENT = Exercise(
    name="soft-target gradient", cases=_gradient_cases,
    hint="your gradient differs from autograd's: go through the derivative of the KL divergence term by term, "
         "and mind where T enters.",
    passed="the same as autograd's at T = 4, 20 and 1.",
    same=close(atol=1e-6, rtol=1e-4),
    form=TENSOR_FORM,
    mistakes=(
        Mistake("the sign is reversed: descending this gradient would move the student away from the teacher."),
        Mistake("each example's gradient is the batch size times too large: the loss is averaged over the batch."),
        Mistake("that is the gradient of the unscaled KL divergence: the loss here is T² times it."),
        Mistake("one factor of T too many: the chain rule through z / T brings a 1/T that the T² partly cancels."),
        Mistake("soften both distributions with the temperature before comparing them."),
    ),
)


def check_soft_target_gradient(fn) -> None:
    """Exercise (notebook 04): ``fn(student_logits, teacher_logits, T)`` is the gradient of
    T² KL(softmax(v/T) || softmax(z/T)), averaged over the batch, with respect to z, by its formula."""
    SOFT_TARGET_GRADIENT.check(fn)


# ---- notebook 04 · design: the temperature at which distillation trains like logit matching -----------

MAX_GRADIENT_GAP = 0.002


def _mimic_numbers(fn, chosen_on, test) -> dict:
    """The temperature ``fn`` chooses from ``chosen_on`` (student and teacher logits), measured on
    ``test``'s logits: how far the two gradients are apart there (``mimic_gradient_gap``)."""
    temperature = as_number(call_student(fn, *chosen_on))
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"return a temperature, a number above 0; got {temperature!r}")
    return {"temperature": temperature, "gap": mimic_gradient_gap(*test, temperature)}


MIMIC_TEMPERATURE = DesignTask(
    name="distillation as logit matching (design)",
    goal=f"the two gradients within {MAX_GRADIENT_GAP:.1%} of each other on the test images' logits",
    measure=_mimic_numbers,
    met=lambda n: n["gap"] <= MAX_GRADIENT_GAP,
    report="T = {temperature:,g}: the gradients differ by {gap:.4%}",
    hint="measure the gap at temperatures spread over several powers of ten, on the logits you were given.",
)


def check_mimic_temperature(fn, chosen_on, test) -> None:
    """Design task (notebook 04): ``fn(student_logits, teacher_logits)`` returns a temperature, chosen
    on ``chosen_on`` (the two networks' logits for some images); met when on ``test`` (their logits
    for other images) the T²-scaled soft-target gradient is within 0.2% of the mimic loss's
    (``mimic_gradient_gap``)."""
    MIMIC_TEMPERATURE.check(fn, chosen_on, test)


# ---- notebook 01 · design: a temperature for the small student on soft targets alone ------------------

MAX_STUDENT_ERRORS, STUDENT_SEEDS = 520, (0, 1, 2)


def _temperature_numbers(fn, validation, transfer, test, hidden, epochs, lr) -> dict:
    """The temperature ``fn`` chooses from ``validation`` (the sweep's validation errors by T), measured:
    the MLP student of widths ``hidden`` distilled at that T on the soft targets alone (alpha = 1) on
    ``transfer`` (images, teacher logits, labels), 3 seeds as notebook 01 trains its students, with Adam."""
    temperature = as_number(call_student(fn, validation))

    def loss(student_logits, teacher_logits, labels):
        return distillation_loss(student_logits, teacher_logits, labels, temperature, 1.0)

    loss(torch.zeros(1, 10), torch.zeros(1, 10), torch.zeros(1, dtype=torch.long))  # a bad temperature says so now
    with own_random_state():  # training seeds: the notebook's own random state is left as it was
        students = train_recipes(lambda: MLP(hidden=hidden), {"yours": loss}, list(STUDENT_SEEDS),
                                 make_loader(*transfer, seed=0), epochs=epochs, lr=lr, verbose=False)["yours"]
    errors = [evaluate(m, *test).errors for m in students]
    return {"temperature": temperature, "errors": sum(errors) / len(errors), "each": errors}


DISTILLATION_TEMPERATURE = DesignTask(
    name="a temperature for soft targets alone (design)",
    goal=f"at most {MAX_STUDENT_ERRORS} test errors on average over {len(STUDENT_SEEDS)} seeds",
    measure=_temperature_numbers,
    met=lambda n: n["errors"] <= MAX_STUDENT_ERRORS,
    report="T = {temperature:g}: {errors:.0f} test errors on average (seeds: {each})",
    hint="read the validation errors: which temperatures are best there, and which are too cold or too hot?",
)


def check_distillation_temperature(fn, validation, transfer, test, hidden, epochs, lr) -> None:
    """Design task (notebook 01): ``fn(validation)`` returns a temperature, chosen from the sweep's
    validation errors by temperature; the check distils the student (widths ``hidden``) at that
    temperature on the soft targets alone, on ``transfer`` (images, teacher logits, labels), seeds 0-2,
    ``epochs`` epochs of Adam at ``lr``; met when it makes at most 520 test errors on average."""
    DISTILLATION_TEMPERATURE.check(fn, validation, transfer, test, hidden, epochs, lr)


# ---- notebook 02 · design: a bias shift where a false answer is costly -------------------------------

MAX_FALSE_SHARE, MIN_FOUND = 0.5, 80.0  # % of the other digits' images taken for cls; % of cls's images right


def _shift_numbers(fn, cls, chosen_on, test) -> dict:
    """The shift ``fn`` chooses from ``chosen_on`` (logits, labels), measured on ``test``: the share of
    ``cls``'s images answered right, and of the other images taken for ``cls``."""
    shift = as_number(call_student(fn, *chosen_on, cls))
    if isinstance(shift, bool) or not isinstance(shift, numbers.Real):
        raise TypeError(f"return the shift, a number; got {shift!r}")
    outcome = bias_shift_outcome(*test, cls, shift)
    return {"shift": shift, "cls": cls, "false": outcome["false_cls"],
            "false_share": 100 * outcome["false_cls"] / (outcome["n"] - outcome["n_cls"]),
            "found": 100 * (1 - outcome["errors_on_cls"] / outcome["n_cls"])}


COSTLY_FALSE_ALARMS = DesignTask(
    name="a shift where false answers are costly (design)",
    goal=f"at most {MAX_FALSE_SHARE}% of the other digits' test images taken for the digit, at least {MIN_FOUND:.0f}% of "
         "its test images right",
    measure=_shift_numbers,
    met=lambda n: n["false_share"] <= MAX_FALSE_SHARE and n["found"] >= MIN_FOUND,
    report="shift {shift:+.2f}: {found:.1f}% of the test {cls}s right, {false} other images taken for a {cls} "
           "({false_share:.2f}% of them)",
    hint="measure both shares over a range of shifts on the images you were given.",
    hints=(
        (lambda n: n["false_share"] > MAX_FALSE_SHARE, "too many false answers: a smaller shift."),
        (lambda n: n["found"] < MIN_FOUND, "too few of the digit's images found: a larger shift."),
    ),
)


def check_costly_false_alarms(fn, cls, chosen_on, test) -> None:
    """Design task (notebook 02): ``fn(logits, labels, cls)`` returns a shift of class ``cls``'s logit,
    chosen on ``chosen_on`` (a validation split's logits and labels); met when on ``test`` at most
    0.5% of the other digits' images are taken for ``cls`` and at least 80% of ``cls``'s are right."""
    COSTLY_FALSE_ALARMS.check(fn, cls, chosen_on, test)


# ---- notebook 03 · design: an ensemble that runs only when needed -----------------------------------

MAX_PASSES, MAX_EXTRA_ERRORS = 2.5, 5  # forward passes per image on average; test errors above the whole ensemble


def _cascade_numbers(fn, chosen_on, test) -> dict:
    """The threshold ``fn`` chooses from ``chosen_on`` (member probabilities, labels), measured on
    ``test``: the cascade's forward passes per image and its errors against the whole ensemble's."""
    probs, labels = test
    threshold = as_number(call_student(fn, *chosen_on))
    predictions, passes = cascade(probs, threshold)
    return {"threshold": threshold, "passes": passes.double().mean().item(), "members": len(probs),
            "errors": int((predictions != labels).sum()), "ensemble": int((probs.mean(0).argmax(1) != labels).sum())}


CASCADE_THRESHOLD = DesignTask(
    name="an ensemble only when needed (design)",
    goal=f"at most {MAX_PASSES} forward passes per image on average, at most {MAX_EXTRA_ERRORS} test errors more "
         "than the whole ensemble",
    measure=_cascade_numbers,
    met=lambda n: n["passes"] <= MAX_PASSES and n["errors"] <= n["ensemble"] + MAX_EXTRA_ERRORS,
    report="threshold {threshold:.3f}: {passes:.2f} forward passes per image (the whole ensemble {members}), "
           "{errors} test errors (the whole ensemble {ensemble})",
    hint="measure a few thresholds on the images you were given.",
    hints=(
        (lambda n: n["passes"] > MAX_PASSES, "too many images run every member: a lower threshold."),
        (lambda n: n["errors"] > n["ensemble"] + MAX_EXTRA_ERRORS,
         "too many images are left to the first member alone: a higher threshold."),
    ),
)


def check_cascade_threshold(fn, chosen_on, test) -> None:
    """Design task (notebook 03): ``fn(member_probs, labels)`` returns the threshold of ``cascade``,
    chosen on ``chosen_on`` (each member's probabilities, (members, images, classes), and labels); met
    when on ``test`` the cascade needs at most 2.5 forward passes per image on average and makes at
    most 5 errors more than the whole ensemble."""
    CASCADE_THRESHOLD.check(fn, chosen_on, test)


EXERCISES = (TEMPERATURE_FOR, DARK_KNOWLEDGE, DIGIT_MASS, FLIP_SHIFTS, ERROR_OVERLAP,
             UNIT_MATCH, SOFT_TARGET_GRADIENT, LOGIT_AGREEMENT)
DESIGN_TASKS = (DISTILLATION_TEMPERATURE, COSTLY_FALSE_ALARMS, CASCADE_THRESHOLD, MIMIC_TEMPERATURE)
