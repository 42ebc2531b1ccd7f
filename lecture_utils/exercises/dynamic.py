"""Exercises of notebook 10: what training the exits together does to the first block, whether
confidence tells right answers from wrong ones, and a design task: the exit threshold."""
from __future__ import annotations

import copy

import torch

from ..dynamic import EarlyExitNet, require_threshold, threshold_outcome
from .harness import Case, DesignTask, Exercise, Mistake, as_number, call_student, close, list_form, list_result

# ---- notebook 10 · trained together: how hard each exit's loss pulls on the first block ------------------

def _exit_gradient_cases():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(8)
        net = EarlyExitNet(channels=(2, 3, 4, 4)).eval()  # eval mode: batch norm uses its stored statistics
        images, labels = torch.rand(6, 1, 28, 28), torch.randint(0, 10, (6,))
    return [Case((net, images, labels), "", {"exits": net.num_exits})]


def _exit_gradients(fn, case):
    """The student's list, as plain floats (tensors of one number are numbers too)."""
    got = fn(*copy.deepcopy(case.args))
    if isinstance(got, torch.Tensor):
        got = got.tolist()
    return [float(g) for g in got] if isinstance(got, (list, tuple)) else got


EXIT_GRADIENTS = Exercise(
    name="each exit's pull on the first block", cases=_exit_gradient_cases, run=_exit_gradients,
    hint="expected {want}, got {got}: for each exit, the norm of the gradient that its loss alone sends to the "
         "first block's parameters.",
    passed="the gradient each exit's loss alone sends to the first block, for all 4 exits.",
    same=close(atol=1e-6, rtol=1e-4),
    form=(Mistake("return a list of {exits} numbers, one per exit.",
                  lambda got, want, case: not isinstance(got, list) or len(got) != len(want)),),
    mistakes=(
        Mistake("the numbers grow exit after exit: clear the gradients before each exit's backward pass, or each "
                "one adds to the ones before."),
        Mistake("every exit got the same number: backpropagate each exit's loss on its own, not their sum."),
        Mistake("only the last exits pull: that is the gradient on the last block, which the early exits never "
                "reach. Measure the first block."),
        Mistake("those look like squared norms: take the norm itself (the square root of the sum of squares)."),
    ),
)


def check_exit_gradients(fn) -> None:
    """Exercise (notebook 10): ``fn(net, images, labels)`` returns, for each exit of the early-exit
    ``net``, the norm of the gradient of that exit's cross-entropy alone with respect to all the
    parameters of the first block."""
    EXIT_GRADIENTS.check(fn)


# ---- notebook 10 · is confidence a stopping signal? accuracy by confidence bin ------------------------
# An image's confidence is its largest softmax probability; bin i holds edges[i] < confidence <= edges[i + 1].

def _calibration_cases():
    probabilities = torch.tensor([[0.50, 0.30, 0.20],  # confidence exactly on an edge: the bin below it
                                  [0.60, 0.30, 0.10],
                                  [0.20, 0.65, 0.15],
                                  [0.10, 0.25, 0.65],
                                  [0.95, 0.03, 0.02],
                                  [0.02, 0.96, 0.02],
                                  [0.03, 0.02, 0.95],
                                  [0.00, 0.00, 1.00]])  # confidence 1: the last bin
    labels = torch.tensor([1, 0, 2, 2, 0, 0, 2, 2])
    edges = [0.0, 0.5, 0.7, 0.9, 1.0]
    return [Case((probabilities, labels, edges), f"bins {edges}"),
            Case((probabilities, labels, [0.0, 0.4, 0.45, 1.0]), "bins [0.0, 0.4, 0.45, 1.0] (two empty)")]


def _same_or_both_empty(got, want) -> bool:
    got, want = torch.as_tensor(got, dtype=torch.float64), torch.as_tensor(want, dtype=torch.float64)
    return got.shape == want.shape and torch.allclose(got, want, atol=1e-9, equal_nan=True)


ACCURACY_BY_CONFIDENCE = Exercise(
    name="accuracy by confidence", cases=_calibration_cases,
    hint="expected {want}, got {got}.",
    passed="the accuracy in each confidence bin, empty bins included.",
    run=list_result, same=_same_or_both_empty,
    form=(*list_form("accuracies", "one accuracy per bin, len(edges) - 1 numbers"),
          Mistake("a bin with no image has no accuracy: give it float('nan'), not 0.",
                  lambda got, want, case: any(w != w and g == 0 for g, w in zip(got, want)))),
    mistakes=(
        Mistake("the confidence is what the network knows when it must decide: its largest probability, not the "
                "label's."),
        Mistake("each bin holds the images *between* its two edges, not every image above its lower edge."),
        Mistake("divide by the number of images in the bin, not by all the images."),
        Mistake("an image whose confidence equals an edge belongs to the bin below it (edges[i] < c <= edges[i + 1]): "
                "a confidence of 1 must land in the last bin."),
    ),
)


def check_accuracy_by_confidence(fn) -> None:
    """Exercise (notebook 10): ``fn(probabilities, labels, edges)``: for each bin
    edges[i] < confidence <= edges[i + 1], where an image's confidence is its largest probability, the
    share of the bin's images whose top class is the label (nan for an empty bin)."""
    ACCURACY_BY_CONFIDENCE.check(fn)


# ---- notebook 10 · design: a threshold that saves at least half the computation, at little accuracy ---

MAX_POINTS_LOST, MIN_SAVED = 0.3, 0.5


def _threshold_numbers(fn, validation, test, macs) -> dict:
    """The threshold ``fn`` chooses from the validation split, measured on the test images against
    always answering at the last exit. ``validation`` and ``test``: (every exit's softmax outputs, labels)."""
    threshold = as_number(call_student(fn, *validation, list(macs)))
    outcome = threshold_outcome(*test, macs, require_threshold(threshold))
    probabilities, labels = test
    last = probabilities[-1].argmax(dim=1).eq(labels).double().mean().item()  # always answering at the last exit
    return {"threshold": outcome["threshold"], "saved": 100 * outcome["saved"], "accuracy": 100 * outcome["accuracy"],
            "last": 100 * last, "lost": 100 * (last - outcome["accuracy"])}


EXIT_THRESHOLD = DesignTask(
    name="exit threshold (design)",
    goal=f"at least {MIN_SAVED:.0%} of the multiply-accumulates saved, at most {MAX_POINTS_LOST} points of test accuracy "
         "lost against always answering at the last exit",
    measure=_threshold_numbers,
    met=lambda n: n["saved"] >= 100 * MIN_SAVED and n["lost"] <= MAX_POINTS_LOST,
    report="threshold {threshold:.3f}: {saved:.0f}% of the multiply-accumulates saved, test accuracy {accuracy:.2f}% "
           "({lost:+.2f} points lost against {last:.2f}% at the last exit)",
    hint="no threshold of this network may meet both: say so, with the closest you found.",
    hints=(
        (lambda n: n["saved"] < 100 * MIN_SAVED and n["lost"] <= MAX_POINTS_LOST,
         "too few images stop early: a lower threshold lets more of them leave at the cheap exits."),
        (lambda n: n["lost"] > MAX_POINTS_LOST and n["saved"] >= 100 * MIN_SAVED,
         "too many images leave early and wrong: a higher threshold keeps the doubtful ones going deeper."),
    ),
)


def check_exit_threshold(fn, validation, test, macs) -> None:
    """Design task (notebook 10): ``fn(probabilities, labels, macs)`` chooses a threshold from the
    validation split (every exit's softmax outputs, the labels, each exit's multiply-accumulates);
    does it save at least half of the multiply-accumulates on the test images while losing at most
    0.3 points of test accuracy? ``validation``, ``test``: (exit probabilities, labels)."""
    EXIT_THRESHOLD.check(fn, validation, test, macs)


EXERCISES = (EXIT_GRADIENTS, ACCURACY_BY_CONFIDENCE)
DESIGN_TASKS = (EXIT_THRESHOLD,)
