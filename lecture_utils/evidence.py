"""Evidence beside the claim: a check that prints its numbers, and spreads over seeds.

A lecture claim ("distillation beats training on labels", C3) is worth what its evidence is.
``claim`` sits in the notebook cell that computes the numbers: it prints them on one line
starting with ✓, and when they do not support the claim it raises ``ClaimNotShown``, so the
cell fails, and the notebook test (nbval) with it::

    distilled, scratch = Spread(distilled_errors), Spread(label_errors)   # one number per seed
    claim("C3", clearly_below(distilled, scratch),
          f"distilled {distilled} vs labels {scratch} test errors, 3 seeds")
    # ✓ C3 distilled 412 ± 9 vs labels 587 ± 12 test errors, 3 seeds

Why seeds: a network trained again from another random start ends somewhere else; on MNIST
two runs of the same recipe differ by tens of test errors. One run of each of two recipes
cannot tell a real difference from that luck. Train each recipe with several seeds (three at
least), report mean ± sd, and read a difference inside the seeds' spread as no difference.
"""
from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from numbers import Real

import numpy as np
import torch

_CLAIM_ID = re.compile(r"C[0-9]+")


class ClaimNotShown(AssertionError):
    """The numbers a notebook computed do not support the lecture claim they were meant to show."""


def _truth_value(holds) -> bool:
    """``holds`` as a Python bool: a bool, or a one-element bool tensor or NumPy array."""
    if isinstance(holds, (bool, np.bool_)):
        return bool(holds)
    if isinstance(holds, torch.Tensor) and holds.dtype == torch.bool and holds.numel() == 1:
        return bool(holds.item())
    if isinstance(holds, np.ndarray) and holds.dtype == np.bool_ and holds.size == 1:
        return bool(holds.item())
    shape = f" of shape {tuple(holds.shape)} and dtype {holds.dtype}" if hasattr(holds, "shape") else ""
    raise TypeError(
        f"claim needs holds to be True or False (the result of a comparison), got "
        f"{type(holds).__name__}{shape}: {holds!r}"
    )


def claim(claim_id: str, holds, evidence: str) -> None:
    """Check lecture claim ``claim_id`` where its evidence is computed.

    Prints ``✓ <claim_id> <evidence>`` when ``holds`` is true; otherwise raises
    ``ClaimNotShown("✗ <claim_id> not shown: <evidence>")`` (an ``AssertionError``), so the
    cell fails. ``evidence`` is the numbers themselves, written out for the reader ("412 ± 9
    vs 587 ± 12 test errors, 3 seeds"), not a description of them.

    ``holds`` must be a truth value: a bool, or a one-element bool tensor or NumPy array (what
    ``a < b`` gives for tensors). A number or a longer tensor is refused with a ``TypeError``:
    ``claim("C3", errors, ...)`` would otherwise pass for any nonzero ``errors``.
    """
    if not isinstance(claim_id, str) or not _CLAIM_ID.fullmatch(claim_id):
        raise ValueError(f"claim_id must be 'C' followed by digits, like 'C3' in the lecture's list; "
                         f"got {claim_id!r}")
    shown = _truth_value(holds)
    if not isinstance(evidence, str) or not evidence.strip():
        raise TypeError(f"claim needs the evidence as a non-empty string of the numbers, got {evidence!r}")
    if not shown:
        raise ClaimNotShown(f"✗ {claim_id} not shown: {evidence}") from None
    print(f"✓ {claim_id} {evidence}")


@dataclass(frozen=True)
class Spread:
    """One measurement over several seeds: ``Spread([412, 398, 425])`` → ``412 ± 14``.

    ``mean`` is the average over the seeds; ``sd`` the sample standard deviation (divided by
    n - 1, the usual estimate from a few runs; 0 for a single value). ``str(spread)`` is
    ``"mean ± sd"``: whole numbers when every value is whole (error counts), otherwise with
    the decimals that show the sd's first two digits. ``format_spec`` fixes one format for
    both (``Spread(accs, ".2f")``), and so does an f-string: ``f"{spread:.2f}"``.
    """

    values: tuple[float, ...]
    format_spec: str | None = field(default=None, compare=False)

    def __post_init__(self):
        if isinstance(self.values, (str, bytes)) or not hasattr(self.values, "__iter__"):
            raise TypeError(f"Spread needs a list of numbers, one per seed, got {self.values!r}")
        values = tuple(float(v) for v in self.values)
        if not values:
            raise ValueError("Spread needs at least one value (one per seed)")
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"Spread's values must be finite numbers, got {values}")
        object.__setattr__(self, "values", values)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        return statistics.stdev(self.values) if self.n > 1 else 0.0

    def _auto_spec(self) -> str:
        if all(v.is_integer() for v in self.values):
            return ".0f"
        if self.sd == 0:
            return ".4g"
        return f".{max(0, 1 - math.floor(math.log10(self.sd)))}f"  # the sd's first two digits

    def __format__(self, spec: str) -> str:
        spec = spec or self.format_spec or self._auto_spec()
        return f"{self.mean:{spec}} ± {self.sd:{spec}}"

    def __str__(self) -> str:
        return format(self, "")


def _as_spread(x, name: str) -> Spread:
    """A Spread of at least two seeds, or a plain number as a fixed reference (sd 0)."""
    if isinstance(x, Spread):
        if x.n < 2:
            raise ValueError(
                f"{name} has one value, so no spread: a single seed cannot tell a difference from luck. "
                "Compare at least two seeds each (the lecture uses three)."
            )
        return x
    if isinstance(x, Real):
        return Spread([x])  # a fixed reference value (a paper's number, a threshold): no spread
    raise TypeError(f"{name} must be a Spread or a plain number, got {type(x).__name__}: {x!r}")


def clearly_below(a, b) -> bool:
    """True when ``a`` is below ``b`` by more than the seeds' spread: the intervals mean ± sd
    do not overlap (``a.mean + a.sd < b.mean - b.sd``).

    A rule of thumb, not a significance test: with three seeds the sd itself is rough, so the
    rule asks for a gap wider than both spreads together. Either side may be a plain number, a
    fixed reference with no spread; a Spread needs at least two values.
    """
    a, b = _as_spread(a, "a"), _as_spread(b, "b")
    return a.mean + a.sd < b.mean - b.sd


def no_difference(a, b) -> bool:
    """True when neither is clearly below the other: the intervals mean ± sd overlap, and the
    difference between the means is inside the seeds' spread, so it is no difference."""
    return not clearly_below(a, b) and not clearly_below(b, a)


def verdict(a, b, unit: str = "test errors", lower: str = "fewer", higher: str = "more", spread_of: str = "seeds") -> str:
    """The comparison of ``a`` with ``b`` in words, for a notebook to print rather than assert:
    "clearly fewer <unit> (a vs b)", "clearly more <unit> (a vs b)", or "no difference at this
    size (...: inside the seeds' spread)" when neither is ``clearly_below`` the other. For a
    quantity that is not a count, name the words: ``verdict(a, b, "accuracy", "lower", "higher")``;
    for values that vary with something other than the seed, name it: ``spread_of="draws"``."""
    if clearly_below(a, b):
        return f"clearly {lower} {unit} ({a} vs {b})"
    if clearly_below(b, a):
        return f"clearly {higher} {unit} ({a} vs {b})"
    return f"no difference at this size ({a} vs {b}: inside the {spread_of}' spread)"
