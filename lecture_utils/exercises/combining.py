"""Exercises of notebook 11: what the cap on the gaps of pruned weights costs, where the bytes of the file go,
and a design task: clusters per layer for a file of at most a given size."""
from __future__ import annotations

import copy
import numbers
import tempfile
from pathlib import Path

import torch

from ..clustering import cluster_model
from ..deep_compression import save_compressed
from ..training import evaluate
from .harness import Case, DesignTask, Exercise, Mistake, as_number, call_student

# ---- notebook 11 · what the cap on a gap costs: symbols x bits per symbol, for each cap ---------------
# The gap before a weight at p, after one at q, is g = p - q - 1; with a cap m it takes g // m + 1 symbols
# (g // m escapes, then the rest), each one of the m + 1 values 0..m, so ceil(log2(m + 1)) bits.

def _gap_bits_cases():
    g = torch.Generator().manual_seed(12)
    sparse = torch.nonzero(torch.rand(3000, generator=g) < 0.08).flatten().tolist()
    return [Case((positions, caps), label, {"caps": caps}) for positions, caps, label in [
        ([2, 20, 21, 100], [1, 3, 7, 8, 64], "positions [2, 20, 21, 100]"),
        ([0, 16, 17], [4, 8, 15], "positions [0, 16, 17]"),
        (sparse, [3, 7, 15, 31, 63, 64, 255], f"{len(sparse)} positions, about 8% of 3,000 kept")]]


def _as_int_dict(value) -> dict:
    return {int(k): int(v) for k, v in value.items()}


GAP_BITS = Exercise(
    name="what the cap on a gap costs", cases=_gap_bits_cases,
    hint="expected {want}, got {got}.",
    passed="the bits of the gaps at every cap, escapes and alphabet included.",
    same=lambda got, want: _as_int_dict(got) == want,
    form=(Mistake("return a dict {{cap: bits}}, not {type}.", lambda got, want, case: not isinstance(got, dict)),
          Mistake("one entry per cap asked for, {caps}.",
                  lambda got, want, case: set(map(int, got)) != set(want))),
    mistakes=(
        Mistake("a gap of the cap or more does not fit in one symbol: it takes one escape per cap's worth of zeros, "
                "then the rest."),
        Mistake("a cap m makes m + 1 different symbols (0 to m): a fixed-length code for them needs "
                "ceil(log2(m + 1)) bits."),
        Mistake("count the zeros *between* weights: the gap before position p, after a weight at q, is p - q - 1 "
                "(before the first weight, q is -1)."),
    ),
)


def check_gap_bits(fn) -> None:
    """Exercise (notebook 11): ``fn(positions, caps)``: for each cap ``m``, the bits that the relative
    positions of the kept weights take in a fixed-length code: every gap ``g`` as ``g // m + 1``
    symbols of ``ceil(log2(m + 1))`` bits."""
    GAP_BITS.check(fn)


# ---- notebook 11 · where the bytes of the file go: fixed-length gaps and indices, layer by layer -------

def _sizes_cases():
    g = torch.Generator().manual_seed(11)

    def sparse(shape, keep, values):
        w = torch.tensor(values)[torch.randint(0, len(values), shape, generator=g)]
        return torch.where(torch.rand(shape, generator=g) < keep, w, torch.zeros(()))

    weights = {"1.weight": sparse((6, 40), 0.1, [-0.5, -0.1, 0.25, 0.75]), "3.weight": sparse((4, 6), 0.6, [-0.3, 0.4])}
    return [Case((weights, max_gap), f"max_gap={max_gap}", {"layers": sorted(weights)}) for max_gap in (8, 64)]


def _not_per_layer(got, want, case) -> bool:
    return not isinstance(got, dict) or set(got) != set(want)


def _not_pairs(got, want, case) -> bool:
    return not all(isinstance(v, (tuple, list)) and len(v) == 2 for v in got.values())


def _same_sizes(got, want) -> bool:
    return got.keys() == want.keys() and all(list(got[k]) == list(want[k]) for k in want)


CODED_SIZES = Exercise(
    name="where the bytes go", cases=_sizes_cases, same=_same_sizes,
    hint="expected {want}, got {got}.",
    passed="the bytes of the gaps and of the indices, layer by layer, as the fixed-length file writes them.",
    form=(
        Mistake("return a dict {{layer: (gap_bytes, index_bytes)}} with one entry per layer given ({layers}).",
                _not_per_layer),
        Mistake("each layer's entry is a pair (gap_bytes, index_bytes).", _not_pairs),
    ),
    mistakes=(
        Mistake("too few gap bytes: a gap too long for the code costs escape symbols too, as exercise 1 counts them; "
                "count symbols, not the kept weights."),
        Mistake("a gap symbol is one of max_gap + 1 values (0 to max_gap): its fixed length follows from that count."),
        Mistake("only the kept (non-zero) weights have an index: where the zeros are, the gaps already say."),
        Mistake("zero is not in the codebook: count the distinct values of the kept weights only."),
        Mistake("the file holds whole bytes: each part is packed, and its last byte padded."),
    ),
)


def check_coded_sizes(fn) -> None:
    """Exercise (notebook 11): ``fn(weights, max_gap)`` for ``{layer: weight tensor}`` returns ``{layer:
    (gap_bytes, index_bytes)}``: the bytes that fixed-length codes take for the gaps (``g // max_gap + 1``
    symbols of 0 to ``max_gap`` per gap) and for the codebook indices of the kept weights."""
    CODED_SIZES.check(fn)


# ---- notebook 11 · design: a file of at most a given size, at a given test error ----------------------------

FILE_BUDGET, MAX_FILE_ERROR = 19_000, 2.5  # bytes of the Huffman-coded file; test error in percent


def _file_numbers(fn, model, config, chosen_on, test) -> dict:
    """The clusters ``fn`` chooses for the pruned ``model`` from ``chosen_on`` (images, labels),
    measured: the clustered copy written with Huffman coding (its file's bytes) and its test error."""
    clusters = as_number(call_student(fn, model, *chosen_on))
    allowed = f"a whole number of clusters from 1 to 256, or a dict {{layer: clusters}}; got {clusters!r}"
    values = clusters.values() if isinstance(clusters, dict) else [clusters]
    if not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) and 1 <= k <= 256 for k in values):
        raise ValueError(f"return {allowed}")
    clustered = cluster_model(copy.deepcopy(model), clusters)
    with tempfile.TemporaryDirectory() as folder:
        size = save_compressed(Path(folder) / "design.lcz", clustered, config, coding="huffman")
    return {"clusters": clusters, "bytes": size, "budget": FILE_BUDGET,
            "error": 100 * (1 - evaluate(clustered, *test).accuracy)}


FILE_BUDGET_TASK = DesignTask(
    name="a file within a budget (design)",
    goal=f"a file of at most {FILE_BUDGET:,} bytes, test error at most {MAX_FILE_ERROR}%",
    measure=_file_numbers,
    met=lambda n: n["bytes"] <= FILE_BUDGET and n["error"] <= MAX_FILE_ERROR,
    report="clusters {clusters}: a file of {bytes:,} bytes, test error {error:.2f}%",
    hint="measure a few choices on the images you were given.",
    hints=(
        (lambda n: n["bytes"] > FILE_BUDGET, "the file is too large: fewer clusters, first in the layers with the "
                                              "most kept weights."),
        (lambda n: n["error"] > MAX_FILE_ERROR, "within the budget but too many errors: more clusters, and spend the "
                                                 "bytes the budget leaves."),
    ),
)


def check_file_budget(fn, model, config, chosen_on, test) -> None:
    """Design task (notebook 11): ``fn(model, images, labels)`` returns the clusters for the pruned
    ``model`` (a number, or ``{layer: clusters}``), chosen on ``chosen_on``; met when the clustered
    copy, written by ``save_compressed`` with Huffman coding (``config`` rebuilds it), takes at most
    19,000 bytes and makes at most 2.5% errors on ``test``."""
    FILE_BUDGET_TASK.check(fn, model, config, chosen_on, test)


EXERCISES = (GAP_BITS, CODED_SIZES)
DESIGN_TASKS = (FILE_BUDGET_TASK,)
