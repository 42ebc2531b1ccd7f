"""Exercises of notebook 11: the relative positions of pruned weights, canonical Huffman codes, and
a design task: clusters per layer for a file of at most a given size."""
from __future__ import annotations

import copy
import numbers
import tempfile
from pathlib import Path

from ..clustering import cluster_model
from ..deep_compression import save_compressed
from ..training import evaluate
from .harness import Case, DesignTask, Exercise, Mistake, as_list, as_number, call_student

# ---- notebook 11 · relative positions: the gap before a weight at p, after one at q, is p - q - 1 ----

def _gap_cases():
    return [Case((positions, max_gap), f"positions {positions} with max_gap={max_gap}", {"max_gap": max_gap})
            for positions, max_gap in [([0, 1, 2], 8), ([3, 4, 9], 8), ([2, 20], 8), ([16], 8), ([0, 17, 18], 4)]]


def differences(positions, start):
    """Each position minus the one before it (``start`` before the first)."""
    return [p - q for p, q in zip(positions, [start, *positions[:-1]])]


def _counts_the_weights_too(got, want, case) -> bool:
    positions = case.args[0]
    return got in (differences(positions, 0), differences(positions, -1))


GAPS_WITH_ESCAPE = Exercise(
    name="relative positions (gaps)", cases=_gap_cases,
    hint="expected {want}, got {got}.",
    passed="correct on 5 cases, escapes included.",
    run=lambda fn, case: as_list(fn(list(case.args[0]), case.args[1])),
    mistakes=(
        Mistake("count the zeros *between* weights: the gap before position p, after a weight at q, is p - q - 1 "
                "(before the first weight, q is -1).", _counts_the_weights_too),
        Mistake("gaps of {max_gap} or more do not fit: emit the escape symbol {max_gap} (skip {max_gap} zeros, "
                "no weight) until the rest is below {max_gap}."),
    ),
)


def check_gaps_with_escape(fn) -> None:
    """Exercise (notebook 11): ``fn(positions, max_gap)``: the relative positions of the non-zero
    weights, a gap of ``max_gap`` or more spelled with ``max_gap`` escape symbols."""
    GAPS_WITH_ESCAPE.check(fn)


# ---- notebook 11 · canonical Huffman codes: only the code lengths need storing ---------------------

def _code_cases():
    return [Case((lengths,), f"lengths {lengths}")
            for lengths in [{0: 1, 1: 2, 2: 3, 3: 3}, {"a": 2, "b": 2, "c": 2, "d": 2}, {5: 3, 1: 2, 7: 3, 2: 1},
                            {0: 1}]]


def _not_prefix_free(got, want, case) -> bool:
    codes = list(got.values())
    return any(i != j and b.startswith(a) for i, a in enumerate(codes) for j, b in enumerate(codes))


CANONICAL_CODE = Exercise(
    name="canonical Huffman code", cases=_code_cases,
    hint="expected {want}, got {got}: take the symbols in order of (length, symbol), starting from all zeros.",
    passed="correct on 4 cases; only the lengths need storing.",
    form=(Mistake("return a dict {{symbol: '0101'}}, not {type}.", lambda got, want, case: not isinstance(got, dict)),),
    mistakes=(
        Mistake("each symbol's code must have exactly the length given.",
                lambda got, want, case: {s: len(c) for s, c in got.items()} != case.args[0]),
        Mistake("this is not a prefix code: one code is the beginning of another. Count up: each next code is the "
                "previous code + 1, shifted left when the length grows.", _not_prefix_free),
    ),
)


def check_canonical_code(fn) -> None:
    """Exercise (notebook 11): ``fn(lengths)`` -> the canonical prefix code for ``{symbol: length}``."""
    CANONICAL_CODE.check(fn)


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


EXERCISES = (GAPS_WITH_ESCAPE, CANONICAL_CODE)
DESIGN_TASKS = (FILE_BUDGET_TASK,)
