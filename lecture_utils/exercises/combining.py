"""Exercises of notebook 11: the relative positions of pruned weights, and canonical Huffman codes."""
from __future__ import annotations

from .harness import Case, Exercise, Mistake, as_list

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


EXERCISES = (GAPS_WITH_ESCAPE, CANONICAL_CODE)
