"""The exercises' answers, for teachers only: ``make expected`` (``python -m tools.answers``).

For every exercise of ``lecture_utils.exercises``: a right answer (its reference), and one
function making each of its known mistakes, in the order of the exercise's catalogue (form
first). The checks never run these: they compare with what these give on each exercise's fixed
cases, stored in ``lecture_utils/exercises/expected.pt``, so that the package handed to students
(``make student``) holds no solution, while ``tools/`` stays with the teachers.

After changing an exercise (its cases, ``run``, catalogue) or an answer here, run ``make expected``
and commit the file; a test fails while it is out of date. The tests also run every function here
through its check: the reference passes, each example gets exactly its mistake's hint.
"""
from __future__ import annotations

import argparse
import io
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils.architecture import DepthwiseSeparableConv2d
from lecture_utils.binary import binarize
from lecture_utils.deep_compression import gaps_with_escape
from lecture_utils.exercises import EXERCISES
from lecture_utils.exercises.harness import EXPECTED_FILE, Exercise, load_expected
from lecture_utils.files import atomic_write_bytes
from lecture_utils.measure import BATCH_NORM_STATISTICS, count_budget, count_parameters, fixed_length_bits
from lecture_utils.quantization import quantize_uniform


@dataclass(frozen=True)
class Answers:
    """A right answer to an exercise, and one function making each of its known mistakes, in the
    order of the exercise's ``catalogue`` (form first)."""

    reference: Callable
    examples: tuple[Callable, ...]


# ---- notebooks 01-04 ------------------------------------------------------------------------------

def _soft_target_gradient(z, v, t):
    """d(T² KL(p || q)) / dz, averaged over the batch: T (q - p) / batch, with q = softmax(z / T), p = softmax(v / T)."""
    return t * (torch.softmax(z / t, 1) - torch.softmax(v / t, 1)) / len(z)


def _digit_mass(z, y, d, t):
    """For each class among the labels, the teacher's mean probability of digit ``d`` at temperature ``t``."""
    p = torch.softmax(z / t, 1)[:, d]
    return {c: p[y == c].mean().item() for c in sorted(set(y.tolist()))}


def temperature_for(logits, top) -> float:
    """The T at which softmax(logits / T) gives its top class probability ``top``: bisection on log T."""
    low, high = math.log(1e-3), math.log(1e4)
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if torch.softmax(logits.double() / math.exp(middle), -1).max() > top else (low, middle)
    return math.exp((low + high) / 2)


def _dark_knowledge(z, y, t):
    """The teacher's mean probability, at temperature ``t``, for the classes other than the label."""
    p = torch.softmax(z / t, 1)
    return (1 - p[torch.arange(len(y)), y]).mean().item()


def _flip_shifts(z, c):
    """For each image, the shift of class ``c``'s logit above which it is read as ``c``: the best other logit minus c's."""
    others = torch.cat([z[:, :c], z[:, c + 1:]], dim=1)
    return others.max(dim=1).values - z[:, c]


def error_overlap(member_probs, labels) -> list:
    """For k = 0 .. members, the number of images that exactly k members get wrong."""
    wrong = (member_probs.argmax(dim=-1) != labels).sum(dim=0)  # per image, the members that get it wrong
    return torch.bincount(wrong, minlength=len(member_probs) + 1).tolist()


def match_units(reference, other) -> list:
    """For each row (unit) of ``reference``, the index of the nearest row of ``other`` (Euclidean distance)."""
    return torch.cdist(reference, other).argmin(dim=1).tolist()


def logit_agreement(z, v, centre=1) -> float:
    """1 - sum (z - v)² / sum v² on logits zero-meaned over ``centre`` (each example's classes; the keyword makes the
    catalogued mistakes: None, not centred; 0, over the batch)."""
    if centre is not None:
        z, v = z - z.mean(dim=centre, keepdim=True), v - v.mean(dim=centre, keepdim=True)
    return (1 - (z - v).pow(2).sum() / v.pow(2).sum()).item()


DISTILLATION = {
    "the temperature for a top probability": Answers(temperature_for, (
        lambda z, top: [temperature_for(z, top)],
        lambda z, top: 1 / temperature_for(z, top),  # softmax(z * T) reaches the probability at T = 1 / T_right
    )),
    "what the soft targets say beyond the label": Answers(_dark_knowledge, (
        lambda z, y, t: (1 - torch.softmax(z / t, 1)[torch.arange(len(y)), y]).tolist(),
        lambda z, y, t: _dark_knowledge(z, y, 1.0),
        lambda z, y, t: _dark_knowledge(z, z.argmax(1), t),
        lambda z, y, t: 1 - _dark_knowledge(z, y, t),
        lambda z, y, t: len(z) * _dark_knowledge(z, y, t),
    )),
    "where the teacher hides a digit": Answers(_digit_mass, (
        lambda z, y, d, t: list(_digit_mass(z, y, d, t).values()),
        lambda z, y, d, t: {c: 0.0 for c in range(10)},
        lambda z, y, d, t: _digit_mass(z, y, d, 1.0),
        lambda z, y, d, t: dict.fromkeys(_digit_mass(z, y, d, t), torch.softmax(z / t, 1)[:, d].mean().item()),
        lambda z, y, d, t: {c: torch.softmax(z / t, 1)[y == c, c].mean().item() for c in sorted(set(y.tolist()))},
        lambda z, y, d, t: {c: (z[y == c].argmax(1) == d).float().mean().item() for c in sorted(set(y.tolist()))},
    )),
    "the shift that flips an answer": Answers(_flip_shifts, (
        lambda z, c: _flip_shifts(z, c).tolist(),
        lambda z, c: _flip_shifts(z, c)[None],
        lambda z, c: z.max(1).values - z[:, c],
        lambda z, c: -_flip_shifts(z, c),
        lambda z, c: _flip_shifts(torch.softmax(z, 1), c),
    )),
    "how many members get each image wrong": Answers(error_overlap, (
        lambda probs, y: {"counts": error_overlap(probs, y)},
        lambda probs, y: error_overlap(probs, y)[1:],
        lambda probs, y: error_overlap(probs, y)[::-1],
        lambda probs, y: torch.tensor(error_overlap(probs, y)).flip(0).cumsum(0).flip(0).tolist(),
    )),
    "matching hidden units": Answers(match_units, (
        lambda a, b: {"match": match_units(a, b)},
        lambda a, b: match_units(a.T, b.T),
        lambda a, b: match_units(b, a),
        lambda a, b: (a @ b.T).argmax(dim=1).tolist(),
    )),
    "soft-target gradient": Answers(_soft_target_gradient, (
        lambda z, v, t: _soft_target_gradient(z, v, t).tolist(),
        lambda z, v, t: _soft_target_gradient(z, v, t)[0],
        lambda z, v, t: -_soft_target_gradient(z, v, t),
        lambda z, v, t: len(z) * _soft_target_gradient(z, v, t),
        lambda z, v, t: _soft_target_gradient(z, v, t) / t**2,
        lambda z, v, t: t * _soft_target_gradient(z, v, t),
        lambda z, v, t: t * (torch.softmax(z, 1) - torch.softmax(v, 1)) / len(z),
    )),
    "how much of the teacher's logits a student reproduces": Answers(logit_agreement, (
        lambda z, v: [logit_agreement(z, v)],
        lambda z, v: logit_agreement(z, v, centre=None),
        lambda z, v: logit_agreement(z, v, centre=0),
        lambda z, v: 1 - logit_agreement(z, v),
    )),
}


# ---- notebooks 05-07 ------------------------------------------------------------------------------

def sqnr_db(weights, bits, levels=None, include_zero=True, noise_share=12) -> float:
    """10 log10(mean(w²) / (D² / 12)): the step D = range / (2^b - 1), the range widened to hold 0 (the
    keywords make the catalogued mistakes)."""
    w = weights.double()
    lo, hi = (min(w.min().item(), 0.0), max(w.max().item(), 0.0)) if include_zero else (w.min().item(), w.max().item())
    step = (hi - lo) / ((2**bits if levels is None else levels + 1) - 1)
    return 10 * math.log10(w.pow(2).mean().item() / (step**2 / noise_share))


def centroid_gradients(weight_grad, indices, num_clusters):
    """Each centre's gradient: the sum of the gradients of the weights that share it (Deep Compression's fine-tuning)."""
    return torch.zeros(num_clusters, dtype=weight_grad.dtype).index_add_(0, indices.reshape(-1), weight_grad.reshape(-1))


def is_prefix_free(code: dict) -> bool:
    """No symbol's code is the beginning of another symbol's (equal codes included)."""
    return not any(b != a and code[b].startswith(code[a]) for a in code for b in code)


def _prefix_free_one_way(code: dict) -> bool:
    symbols = list(code)
    return not any(code[b].startswith(code[a]) for i, a in enumerate(symbols) for b in symbols[i + 1:])


def _prefix_free_neighbours(code: dict) -> bool:
    codes = list(code.values())
    return not any(x.startswith(y) or y.startswith(x) for x, y in zip(codes, codes[1:]))


def _prefix_free_distinct_codes(code: dict) -> bool:
    return not any(code[a] != code[b] and code[b].startswith(code[a]) for a in code for b in code)


QUANTIZATION = {
    "uniform quantization": Answers(quantize_uniform, (
        lambda w, b: w.tolist(),
        lambda w, b: w[:1],
        lambda w, b: w,
        lambda w, b: torch.full_like(w, w.mean().item()),
    )),
    "the rounding noise": Answers(sqnr_db, (
        lambda w, b: [sqnr_db(w, b)],
        lambda w, b: sqnr_db(w, b, levels=2**b),
        lambda w, b: sqnr_db(w, b, include_zero=False),
        lambda w, b: sqnr_db(w, b, noise_share=4),
        lambda w, b: 2 * sqnr_db(w, b),
    )),
    "the gradient of a shared weight": Answers(centroid_gradients, (
        lambda g, i, k: centroid_gradients(g, i, k).tolist(),
        lambda g, i, k: torch.bincount(i.reshape(-1), weights=g.reshape(-1).double()).to(g.dtype),
        lambda g, i, k: centroid_gradients(g, i, k) / torch.bincount(i.reshape(-1), minlength=k).clamp(min=1),
        lambda g, i, k: torch.bincount(i.reshape(-1), minlength=k).to(g.dtype),
    )),
    "a prefix code": Answers(is_prefix_free, (
        lambda code: "yes" if is_prefix_free(code) else "no",
        _prefix_free_one_way,
        _prefix_free_neighbours,
        _prefix_free_distinct_codes,
    )),
    "binarize": Answers(binarize, (
        lambda w, s: binarize(w, s).tolist(),
        lambda w, s: binarize(w, s)[:1],
        lambda w, s: torch.sign(w),
        lambda w, s: binarize(w) if not s else (w + 1) / 2,
        lambda w, s: binarize(w) if not s else torch.where(torch.rand_like(w) < 0.5, 1.0, -1.0),
    )),
    "straight-through estimator": Answers(lambda w: w + (binarize(w.detach()) - w).detach(), (
        lambda w: binarize(w.detach()).tolist(),
        lambda w: w + 0,
        lambda w: binarize(w.detach()),
        lambda w: torch.sign(w) + 0 * w,
    )),
}


# ---- notebooks 08-11 and the homework -------------------------------------------------------------

def rank_for_energy(w: torch.Tensor, share: float, squared: bool = True) -> int:
    """The smallest K whose K largest squared singular values hold ``share`` of their sum (Eckart-Young: what a
    rank-K truncated SVD keeps of ||W||²)."""
    s = torch.linalg.svdvals(w.double())
    energy = s.pow(2) if squared else s
    kept = energy.cumsum(0) / energy.sum()
    return int((kept < share).sum()) + 1


def _gradient_norm(net, loss, block) -> float:
    """The norm of the gradient of ``loss`` with respect to every parameter of ``block``."""
    gradients = torch.autograd.grad(loss, list(block.parameters()), allow_unused=True, retain_graph=True)
    return torch.cat([torch.zeros(0) if g is None else g.reshape(-1) for g in gradients]).norm().item()


def exit_gradients(net, images, labels) -> list[float]:
    """For each exit, the norm of the gradient its cross-entropy alone sends to the first block's parameters."""
    return [_gradient_norm(net, F.cross_entropy(z, labels), net.blocks[0]) for z in net(images)]


def _separable_fit(w, scale: bool = True):
    """For each input channel i, the rank-one truncated SVD of its O x k² filters: P[:, i] s, D[i] (the singular
    value on P's side; without ``scale``, left out)."""
    o, i = w.shape[:2]
    depthwise, pointwise = torch.empty(i, *w.shape[2:], dtype=w.dtype), torch.empty(o, i, dtype=w.dtype)
    for c in range(i):
        u, s, vh = torch.linalg.svd(w[:, c].reshape(o, -1), full_matrices=False)
        pointwise[:, c], depthwise[c] = u[:, 0] * (s[0] if scale else 1), vh[0].reshape(w.shape[2:])
    return depthwise, pointwise


def separable_approximation(w):
    """The best depthwise separable approximation of a normal convolution's filters ``w`` (O, I, k, k)."""
    return _separable_fit(w)


def _one_fit_for_the_layer(w):
    """One rank-one fit of the whole O x (I k²) matrix: every input channel gets the same pointwise weights."""
    o, i = w.shape[:2]
    u, s, vh = torch.linalg.svd(w.reshape(o, -1), full_matrices=False)
    return vh[0].reshape(w.shape[1:]), (u[:, 0] * s[0])[:, None].expand(o, i).clone()


def _averaged_filters(w):
    """Each input channel's filter averaged over the output channels, the pointwise weights fitted to it."""
    depthwise = w.mean(0)
    pointwise = (w * depthwise[None]).sum((2, 3)) / depthwise.pow(2).sum((1, 2))[None]
    return depthwise, pointwise


def conv_costs(i, o, k, n):
    """Parameters and multiply-accumulates on an n x n output: normal k²IO, separable k²I + IO, each weight
    used once per output position."""
    normal, separable = k * k * i * o, k * k * i + i * o
    return normal, separable, normal * n * n, separable * n * n


def coded_sizes(weights, max_gap, escapes=True, gap_symbols=None, every_weight=False, zero_in_codebook=False,
                whole_bytes=True):
    """For each layer, the bytes of its gaps and of its kept weights' indices in fixed-length codes (the
    keyword arguments make the catalogued mistakes)."""
    sizes = {}
    for name, w in weights.items():
        flat = w.reshape(-1)
        positions = torch.nonzero(flat).reshape(-1).tolist()
        gaps = len(gaps_with_escape(positions, max_gap)) if escapes else len(positions)
        values = len(torch.unique(flat[flat != 0])) + (1 if zero_in_codebook else 0)
        gap_bits = fixed_length_bits((max_gap + 1) if gap_symbols is None else gap_symbols) * gaps
        index_bits = fixed_length_bits(values) * (flat.numel() if every_weight else len(positions))
        sizes[name] = ((math.ceil(gap_bits / 8), math.ceil(index_bits / 8)) if whole_bytes
                       else (gap_bits / 8, index_bits / 8))
    return sizes


def accuracy_by_confidence(probabilities, labels, edges, confidence=None, cumulative=False, of_all=False,
                           lower_edge_in=False) -> list:
    """For each bin edges[i] < confidence <= edges[i + 1] (confidence: the largest probability), the share
    of its images whose top class is the label; nan for an empty bin (the keywords make the catalogued mistakes)."""
    confidence = probabilities.max(dim=1).values if confidence is None else confidence
    right = probabilities.argmax(dim=1) == labels
    out = []
    for low, high in zip(edges, edges[1:]):
        if cumulative:
            inside = confidence > low
        elif lower_edge_in:
            inside = (confidence >= low) & (confidence < high)
        else:
            inside = (confidence > low) & (confidence <= high)
        count = int(inside.sum())
        out.append(float("nan") if count == 0 else int((right & inside).sum()) / (len(labels) if of_all else count))
    return out


def gap_bits(positions, caps, escapes=True, alphabet=None, zeros_between=True) -> dict:
    """For each cap m: the gaps' symbols (g // m + 1 for a gap g = p - q - 1) times the bits of a fixed-length code
    for the m + 1 symbols 0..m (the keywords make the catalogued mistakes)."""
    gaps = [p - q - (1 if zeros_between else 0) for p, q in zip(positions, [-1, *positions[:-1]])]
    return {m: (sum(g // m + 1 for g in gaps) if escapes else len(gaps))
            * fixed_length_bits(m + 1 if alphabet is None else alphabet(m)) for m in caps}


LATER = {
    "convolution costs": Answers(conv_costs, (
        lambda i, o, k, n: conv_costs(i, o, k, n)[:2],
        lambda i, o, k, n: (*conv_costs(i, o, k, n)[:2], *conv_costs(i, o, k, n)[:2]),
        lambda i, o, k, n: (k * k * i * o, k * k * o + i * o, k * k * i * o * n * n, (k * k * o + i * o) * n * n),
        lambda i, o, k, n: (*conv_costs(i, o, k, n)[:3], (k * k * i + k * k * i * o) * n * n),
        lambda i, o, k, n: (k * k * o, k * k * i + i * o, k * k * o * n * n, (k * k * i + i * o) * n * n),
    )),
    "depthwise separable block": Answers(DepthwiseSeparableConv2d, (
        lambda i, o, k: [nn.Conv2d(i, i, k, groups=i), nn.Conv2d(i, o, 1)],
        lambda i, o, k: nn.Conv2d(i, o, k, bias=False),
        lambda i, o, k: nn.Sequential(nn.Conv2d(i, i, k, bias=False), nn.Conv2d(i, o, 1, bias=False)),
        lambda i, o, k: nn.Sequential(nn.Conv2d(i, i, k, groups=i, bias=False), nn.Conv2d(i, o, 3, bias=False)),
        lambda i, o, k: DepthwiseSeparableConv2d(i, o, k, bias=True),
    )),
    "how many ranks a layer needs": Answers(rank_for_energy, (
        lambda w, share: float(rank_for_energy(w, share)),
        lambda w, share: rank_for_energy(w, share, squared=False),
        lambda w, share: rank_for_energy(w, share) - 1,
    )),
    "the best separable approximation": Answers(separable_approximation, (
        lambda w: separable_approximation(w)[0],
        lambda w: (separable_approximation(w)[0][0], separable_approximation(w)[1]),
        lambda w: _separable_fit(w, scale=False),
        _one_fit_for_the_layer,
        _averaged_filters,
    )),
    "each exit's pull on the first block": Answers(exit_gradients, (
        lambda net, x, y: exit_gradients(net, x, y)[:-1],
        lambda net, x, y: torch.cumsum(torch.tensor(exit_gradients(net, x, y)), 0).tolist(),
        lambda net, x, y: [_gradient_norm(net, sum(F.cross_entropy(z, y) for z in net(x)), net.blocks[0])] * net.num_exits,
        lambda net, x, y: [_gradient_norm(net, F.cross_entropy(z, y), net.blocks[-1]) for z in net(x)],
        lambda net, x, y: [g**2 for g in exit_gradients(net, x, y)],
    )),
    "accuracy by confidence": Answers(accuracy_by_confidence, (
        lambda z, y, e: {"accuracies": accuracy_by_confidence(z, y, e)},
        lambda z, y, e: accuracy_by_confidence(z, y, e)[:-1],
        lambda z, y, e: [0.0 if a != a else a for a in accuracy_by_confidence(z, y, e)],
        lambda z, y, e: accuracy_by_confidence(z, y, e, confidence=z[torch.arange(len(y)), y]),
        lambda z, y, e: accuracy_by_confidence(z, y, e, cumulative=True),
        lambda z, y, e: accuracy_by_confidence(z, y, e, of_all=True),
        lambda z, y, e: accuracy_by_confidence(z, y, e, lower_edge_in=True),
    )),
    "what the cap on a gap costs": Answers(gap_bits, (
        lambda p, m: list(gap_bits(p, m).values()),
        lambda p, m: gap_bits(p, m[:-1]),
        lambda p, m: gap_bits(p, m, escapes=False),
        lambda p, m: gap_bits(p, m, alphabet=lambda cap: cap),
        lambda p, m: gap_bits(p, m, zeros_between=False),
    )),
    "where the bytes go": Answers(coded_sizes, (
        lambda w, m: list(coded_sizes(w, m).values()),
        lambda w, m: {k: sum(v) for k, v in coded_sizes(w, m).items()},
        lambda w, m: coded_sizes(w, m, escapes=False),
        lambda w, m: coded_sizes(w, m, gap_symbols=m),
        lambda w, m: coded_sizes(w, m, every_weight=True),
        lambda w, m: coded_sizes(w, m, zero_in_codebook=True),
        lambda w, m: coded_sizes(w, m, whole_bytes=False),
    )),
    "counting parameters": Answers(count_budget, (
        lambda m: 4 * count_parameters(m),
        lambda m: sum(p.numel() for n, p in m.named_parameters() if n.endswith("weight")),
        lambda m: count_parameters(m) + sum(b.numel() for b in m.buffers()),
        lambda m: len(list(m.parameters())),
        lambda m: count_parameters(m) + sum(b.numel() for n, b in m.named_buffers()  # every batch norm's statistics left out
                                            if n.rsplit(".", 1)[-1] not in BATCH_NORM_STATISTICS),
        lambda m: count_parameters(m),
        lambda m: sum(p.numel() for _, p in m.named_parameters(remove_duplicate=False)) + count_budget(m) - count_parameters(m),
    )),
    "the homework model": Answers(lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.ReLU(), nn.Linear(6, 10)), (
        lambda: "model",
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.Linear(100, 10)),
        lambda: nn.Linear(784, 5),
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 5)),
        lambda: nn.Sequential(nn.Flatten(), nn.AdaptiveAvgPool1d(10)),
    )),
}

ANSWERS: dict[str, Answers] = {**DISTILLATION, **QUANTIZATION, **LATER}


# ---- the stored values ----------------------------------------------------------------------------

def _plain(value):
    """A result as ``torch.load(weights_only=True)`` reads it back: tensors detached and compact, NamedTuples
    as plain tuples (the exercise's ``result`` rebuilds them)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(map(_plain, value))
    if isinstance(value, list):
        return list(map(_plain, value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def expected_values(exercises: tuple[Exercise, ...] = EXERCISES) -> dict:
    """What ``expected.pt`` holds: for each exercise, for each case, the reference's result (``want``)
    and, for each mistake recognised by its result (no ``spot``), what its example gives."""
    values = {}
    for exercise in exercises:
        answers = ANSWERS.get(exercise.name)
        if answers is None:
            raise ValueError(f"{exercise.name}: no answers in tools/answers.py (ANSWERS)")
        if len(answers.examples) != len(exercise.catalogue):
            raise ValueError(f"{exercise.name}: {len(answers.examples)} examples for "
                             f"{len(exercise.catalogue)} known mistakes")
        values[exercise.name] = [
            {"want": _plain(exercise.run(answers.reference, case)),
             "mistakes": {i: _plain(exercise.run(example, case))
                          for i, (mistake, example) in enumerate(zip(exercise.catalogue, answers.examples))
                          if mistake.spot is None}}
            for case in exercise.cases()]
    return values


def out_of_date(stored: dict | None = None, exercises: tuple[Exercise, ...] = EXERCISES) -> list[str]:
    """Where the stored values (default: ``expected.pt``) differ from what the answers give now, as
    each check compares: one line per difference, none when they are up to date."""
    stored = load_expected() if stored is None else stored
    fresh = expected_values(exercises)
    problems = [f"{name}: stored, but no such exercise" for name in stored if name not in fresh]
    for exercise in exercises:
        name, cases = exercise.name, exercise.cases()
        if name not in stored:
            problems.append(f"{name}: nothing stored")
            continue
        if len(stored[name]) != len(cases):
            problems.append(f"{name}: {len(stored[name])} cases stored, {len(cases)} now")
            continue
        for n, (case, old, new) in enumerate(zip(cases, exercise.expected(stored[name]),
                                                   exercise.expected(fresh[name]))):
            same = case.same or exercise.same
            if not _agree(same, old["want"], new["want"]):
                problems.append(f"{name}, case {n}: the right answer's result differs")
            if set(old["mistakes"]) != set(new["mistakes"]):
                problems.append(f"{name}, case {n}: other mistakes stored")
            problems += [f"{name}, case {n}: mistake {i}'s result differs" for i in new["mistakes"]
                         if i in old["mistakes"] and not _agree(same, old["mistakes"][i], new["mistakes"][i])]
    return problems


def _agree(same, old, new) -> bool:
    """The same kind of result, and the same as the check compares."""
    try:
        return type(old) is type(new) and bool(same(old, new))
    except Exception:  # results that cannot even be compared differ
        return False


def write_expected(path=EXPECTED_FILE) -> dict:
    """Compute the stored values and write them to ``path`` atomically; return them."""
    values = expected_values()
    buffer = io.BytesIO()
    torch.save(values, buffer)
    atomic_write_bytes(path, buffer.getvalue())
    load_expected.cache_clear()
    return values


def main(argv=None) -> None:
    """The command line (``make expected``): rewrite ``expected.pt`` from the answers."""
    parser = argparse.ArgumentParser(description="Store what the exercises' answers give on their fixed cases.")
    parser.add_argument("--out", default=EXPECTED_FILE, help=f"where to write them (default {EXPECTED_FILE})")
    args = parser.parse_args(argv)
    values = write_expected(args.out)
    cases = sum(map(len, values.values()))
    print(f"stored the expected results of {len(values)} exercises ({cases} cases) in {args.out}")


if __name__ == "__main__":
    main()
