"""Exercises of notebooks 08-09: depthwise separable convolutions and low-rank factorization."""
from __future__ import annotations

import numbers
from typing import NamedTuple

import torch
from torch import nn

from ..architecture import conv_net, low_rank_model, separable_filters
from ..measure import multiply_accumulates
from ..models import count_parameters
from ..training import evaluate
from .harness import Case, DesignTask, Exercise, Mistake, as_list, call_student, close, not_a_pair, number_result

# ---- notebook 08 · depthwise separable convolution: k*k*I*O against k*k*I + I*O parameters -------

def _sizes(names: str, sizes) -> list[Case]:
    """One case per tuple of sizes, labelled with their names ("I=2, O=4, k=3")."""
    names = names.split()
    return [Case(s, ", ".join(f"{n}={v}" for n, v in zip(names, s))) for s in sizes]


def _wrong_parameters(got, want, case) -> bool:
    return got[:2] != want[:2]


CONV_COSTS = Exercise(
    name="convolution costs",
    cases=lambda: _sizes("I O k size", [(2, 4, 3, 5), (32, 64, 3, 14), (3, 64, 5, 28), (16, 8, 1, 7)]),
    hint="expected (normal, separable parameters, normal, separable multiply-accumulates) = {want}, got {got}.",
    passed="parameters and multiply-accumulates right for 4 layers, including the lecture's 72 and 26.",
    run=lambda fn, case: as_list(fn(*case.args)),
    form=(Mistake("return four numbers: (normal parameters, separable parameters, normal MACs, separable MACs).",
                  lambda got, want, case: not isinstance(got, list) or len(got) != 4),),
    mistakes=(
        Mistake("those multiply-accumulates are the parameter counts: in a convolution every weight is used once "
                "at every output position.", lambda got, want, case: got[2:] == want[:2]),
        Mistake("the depthwise part has one k x k filter per input channel, not per output channel."),
        Mistake("the pointwise part is 1 x 1: at each position, one multiply-accumulate per weight, not k x k."),
        Mistake("the parameter counts are off: a normal convolution has O filters, each k x k and as deep as the "
                "input.", _wrong_parameters),
    ),
)


def check_conv_costs(fn) -> None:
    """Exercise (notebook 08): ``fn(I, O, k, size)`` returns the parameters (no biases) and the
    multiply-accumulates on a ``size`` x ``size`` output of a normal k x k convolution and of its
    depthwise separable version: ``(normal, separable, normal_macs, separable_macs)``."""
    CONV_COSTS.check(fn)


class Block(NamedTuple):
    """What the separable-block exercise looks at in a student's module."""

    convolutions: int
    groups: int | None
    second: tuple | None  # (kernel size, output channels) of the second convolution
    parameters: int


def _describe_block(fn, case):
    """Build the student's block and describe it; anything but a module comes back as it is."""
    block = fn(*case.args)
    if not isinstance(block, nn.Module):
        return block
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    block(torch.zeros(2, case.args[0], 10, 10))  # it must run on a batch
    return Block(len(convs), convs[0].groups if convs else None,
                 (convs[1].kernel_size, convs[1].out_channels) if len(convs) > 1 else None, count_parameters(block))


SEPARABLE_BLOCK = Exercise(
    name="depthwise separable block",
    cases=lambda: [Case((8, 16, 3), "I=8, O=16, k=3")],
    hint="expected {want}, got {got}.",
    passed="{want.parameters} parameters, groups={want.groups}, then a 1 x 1 convolution.",
    run=_describe_block, result=Block,
    form=(
        Mistake("return an nn.Module (an nn.Sequential of two nn.Conv2d), not {type}.",
                lambda got, want, case: not isinstance(got, Block)),
        Mistake("expected two convolutions (depthwise, then pointwise), found {got.convolutions}.",
                lambda got, want, case: got.convolutions != 2),
    ),
    mistakes=(
        Mistake("the first convolution has groups={got.groups}: in a depthwise convolution each filter sees one "
                "input channel only (see the groups argument of nn.Conv2d).",
                lambda got, want, case: got.groups != want.groups),
        Mistake("the second convolution must be 1 x 1, from I to O channels; its (kernel size, channels) "
                "are {got.second}.", lambda got, want, case: got.second != want.second),
        Mistake("{got.parameters} parameters, expected {want.parameters}: no biases, and nothing but the two "
                "convolutions.", lambda got, want, case: got.parameters != want.parameters),
    ),
)


def check_separable_block(fn) -> None:
    """Exercise (notebook 08): ``fn(I, O, k)`` builds a depthwise separable block from two nn.Conv2d:
    a k x k depthwise convolution (groups=I), then a 1 x 1 pointwise one, without biases."""
    SEPARABLE_BLOCK.check(fn)


# ---- notebook 09 · how many ranks a layer needs: the smallest K whose top K values hold a share of sum s² ----

def _energy_cases():
    g = torch.Generator().manual_seed(7)
    q1, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.double))
    q2, _ = torch.linalg.qr(torch.randn(6, 5, generator=g, dtype=torch.double))
    known = q1 @ torch.diag(torch.tensor([4.0, 2.0, 1.0, 0.5, 0.1], dtype=torch.double)) @ q2.T  # singular values known
    other = torch.randn(8, 5, generator=g, dtype=torch.double)
    return [Case((known, share), f"singular values 4, 2, 1, 0.5, 0.1, share {share}") for share in (0.9, 0.5, 0.99)] + [
        Case((other, 0.8), "a random 8 x 5 matrix, share 0.8")]


RANK_FOR_ENERGY = Exercise(
    name="how many ranks a layer needs", cases=_energy_cases,
    hint="expected rank {want}, got {got}.",
    passed="the smallest rank that keeps the share asked for, on 4 cases.",
    run=number_result, same=lambda got, want: got == want,
    form=(Mistake("return the rank, a whole number, not {type}.",
                  lambda got, want, case: not isinstance(got, numbers.Integral) or isinstance(got, bool)),),
    mistakes=(
        Mistake("the error of a truncated SVD is the sum of the *squared* singular values left out: the share is one "
                "of squared singular values."),
        Mistake("a rank counts singular values: keeping the first K values is rank K, not the index of the last one "
                "kept."),
    ),
)


def check_rank_for_energy(fn) -> None:
    """Exercise (notebook 09): ``fn(W, share)``: the smallest rank K whose truncated SVD keeps at least
    ``share`` of W's squared norm (the sum of the K largest squared singular values over all of them)."""
    RANK_FOR_ENERGY.check(fn)


# ---- notebook 08 · design: a separable CNN for a budget of multiply-accumulates ---------------------------

MAC_SHARE, MIN_LAST_CHANNELS = 0.25, 96  # of the normal CNN's MACs per image; channels of the last convolution


def _width_numbers(fn) -> dict:
    """The channels ``fn`` chooses for a depthwise separable ``conv_net``, measured: its parameters
    and multiply-accumulates per 28 x 28 image, beside the normal CNN's (channels 16, 32, 32)."""
    channels = call_student(fn)
    if not (isinstance(channels, (tuple, list)) and len(channels) == 3
            and all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and 1 <= c <= 1024 for c in channels)):
        raise ValueError(f"return three whole numbers of channels from 1 to 1024, got {channels!r}")
    channels = tuple(int(c) for c in channels)
    normal, separable = conv_net(False), conv_net(True, channels=channels)
    return {"channels": channels, "parameters": count_parameters(separable),
            "macs": multiply_accumulates(separable, (1, 1, 28, 28)), "last": channels[2],
            "normal_parameters": count_parameters(normal),
            "mac_budget": int(MAC_SHARE * multiply_accumulates(normal, (1, 1, 28, 28)))}


SEPARABLE_WIDTHS = DesignTask(
    name="a separable CNN for a MAC budget (design)",
    goal=f"at most a quarter of the normal CNN's multiply-accumulates per image, at most its parameters, and at least "
         f"{MIN_LAST_CHANNELS} channels in the last convolution",
    measure=_width_numbers,
    met=lambda n: (n["macs"] <= n["mac_budget"] and n["parameters"] <= n["normal_parameters"]
                   and n["last"] >= MIN_LAST_CHANNELS),
    report="channels {channels}: {macs:,} multiply-accumulates per image (budget {mac_budget:,}), {parameters:,} "
           "parameters (budget {normal_parameters:,})",
    hint="count a few choices with the tools above.",
    hints=(
        (lambda n: n["last"] < MIN_LAST_CHANNELS, "the last convolution is too narrow: widen it."),
        (lambda n: n["macs"] > n["mac_budget"],
         "too many multiply-accumulates: find the layers that work on the largest images, and thin those."),
        (lambda n: n["parameters"] > n["normal_parameters"],
         "too many parameters: find the layers with the most channels in and out, and thin those."),
    ),
)


def check_separable_widths(fn) -> None:
    """Design task (notebook 08): ``fn()`` returns the channels ``(c1, c2, c3)`` of a depthwise
    separable ``conv_net``; met when it needs at most a quarter of the normal CNN's multiply-accumulates
    per image, has at most its parameters, and its last convolution has at least 96 channels."""
    SEPARABLE_WIDTHS.check(fn)


# ---- notebook 09 · a separable convolution is a low-rank factorization: per input channel, rank one -------

def _separable_cases():
    g = torch.Generator().manual_seed(9)
    return [Case((torch.randn(o, i, k, k, generator=g, dtype=torch.double),), f"W of shape {(o, i, k, k)}",
                 {"shape": (o, i, k, k), "d_shape": (i, k, k), "p_shape": (o, i)})
            for o, i, k in [(5, 3, 3), (4, 2, 2)]]


def _separable_shapes_wrong(got, want, case) -> bool:
    return tuple(got[0].shape) != case.info["d_shape"] or tuple(got[1].shape) != case.info["p_shape"]


SEPARABLE_APPROXIMATION = Exercise(
    name="the best separable approximation", cases=_separable_cases,
    hint="P[o, i] D[i] is further from W than the best possible: fit each input channel on its own, as well as a "
         "rank-one matrix can.",
    passed="P[o, i] D[i] is the best separable approximation of W, for two filter banks.",
    same=lambda got, want: close(atol=1e-6, rtol=0)(separable_filters(*got).double(), separable_filters(*want)),
    form=(
        Mistake("return a pair (D, P): the depthwise filters D and the pointwise weights P.", not_a_pair),
        Mistake("D must be I x k x k ({d_shape}) and P O x I ({p_shape}).", _separable_shapes_wrong),
    ),
    mistakes=(
        Mistake("the filters point the right way but are too small: a rank-one approximation keeps the largest "
                "singular value, not only its vectors."),
        Mistake("one fit for the whole layer gives every input channel the same pointwise weights: fit each input "
                "channel's O x k² matrix on its own."),
        Mistake("averaging the filters over the output channels is a fit, but not the best one: for each input "
                "channel, the best rank-one approximation of its filters comes from the truncated SVD (exercise 1)."),
    ),
)


def check_separable_approximation(fn) -> None:
    """Exercise (notebook 09): ``fn(W)`` for a normal convolution's filters W (O, I, k, k) returns
    ``(D, P)``, depthwise filters (I, k, k) and pointwise weights (O, I), whose filters P[o, i] D[i]
    are as close to W as a depthwise separable convolution can be."""
    SEPARABLE_APPROXIMATION.check(fn)


# ---- notebook 09 · design: ranks for a parameter budget, at little accuracy ---------------------------

RANK_BUDGET, MAX_RANK_LOSS = 100_000, 0.5  # parameters of the whole network; points of test accuracy


def _rank_numbers(fn, model, chosen_on, test) -> dict:
    """The ranks ``fn`` chooses from ``chosen_on`` (images, labels), measured: the factorized network's
    parameters and the test accuracy it loses against ``model``."""
    ranks = call_student(fn, model, *chosen_on)
    if not isinstance(ranks, dict) or not ranks:
        raise TypeError(f"return a dict from layer name to rank, e.g. {{'1': 10}}, got {ranks!r}")
    factorized = low_rank_model(model, ranks)
    full, reduced = evaluate(model, *test).accuracy, evaluate(factorized, *test).accuracy
    return {"ranks": ranks, "parameters": count_parameters(factorized), "budget": RANK_BUDGET,
            "lost": 100 * (full - reduced), "accuracy": 100 * reduced}


RANK_BUDGET_TASK = DesignTask(
    name="ranks for a budget (design)",
    goal=f"at most {RANK_BUDGET:,} parameters in the whole network, at most {MAX_RANK_LOSS} points of test accuracy lost",
    measure=_rank_numbers,
    met=lambda n: n["parameters"] <= RANK_BUDGET and n["lost"] <= MAX_RANK_LOSS,
    report="ranks {ranks}: {parameters:,} parameters, test accuracy {accuracy:.2f}% ({lost:+.2f} points lost)",
    hint="measure a few splits of the budget on the images you were given.",
    hints=(
        (lambda n: n["parameters"] > RANK_BUDGET,
         "over the budget: lower a rank, starting where a rank costs most (a rank costs N + M parameters)."),
        (lambda n: n["lost"] > MAX_RANK_LOSS,
         "within the budget but too inaccurate: move rank to the layer whose accuracy suffers most per rank removed."),
    ),
)


def check_rank_budget(fn, model, chosen_on, test) -> None:
    """Design task (notebook 09): ``fn(model, images, labels)`` returns ranks per linear layer
    (``{"1": K1, "3": K2}``), chosen on ``chosen_on``; met when the factorized network
    (``low_rank_model``) has at most 100,000 parameters and loses at most 0.5 points on ``test``."""
    RANK_BUDGET_TASK.check(fn, model, chosen_on, test)


EXERCISES = (CONV_COSTS, SEPARABLE_BLOCK, RANK_FOR_ENERGY, SEPARABLE_APPROXIMATION)
DESIGN_TASKS = (SEPARABLE_WIDTHS, RANK_BUDGET_TASK)
