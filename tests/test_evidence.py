"""claim prints its evidence or fails the cell; Spread and the comparison rule on hand-made numbers."""
import numpy as np
import pytest
import torch

from lecture_utils import Spread, claim, clearly_below, no_difference
from lecture_utils.evidence import ClaimNotShown


def test_a_claim_that_holds_prints_one_line(capsys):
    assert claim("C3", True, "distilled 412 ± 9 vs labels 587 ± 12 test errors, 3 seeds") is None
    assert capsys.readouterr().out == "✓ C3 distilled 412 ± 9 vs labels 587 ± 12 test errors, 3 seeds\n"


def test_a_claim_that_fails_raises_with_the_evidence_and_no_chained_traceback(capsys):
    with pytest.raises(ClaimNotShown) as info:
        try:
            {}["missing"]  # an exception in flight: from None must hide it
        except KeyError:
            claim("C12", False, "pruned 120 vs dense 100 errors")
    assert isinstance(info.value, AssertionError)
    assert str(info.value) == "✗ C12 not shown: pruned 120 vs dense 100 errors"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("holds", [torch.tensor(True), torch.tensor([True]), np.bool_(True), np.array([True]),
                                   torch.tensor(3) < torch.tensor(4)])
def test_one_element_bools_are_truth_values(holds, capsys):
    claim("C1", holds, "e")
    assert capsys.readouterr().out == "✓ C1 e\n"
    with pytest.raises(ClaimNotShown):
        claim("C1", ~holds, "e")


@pytest.mark.parametrize("holds", [1, 0, 1.0, None, "yes", torch.tensor([True, True]), torch.tensor(1.0),
                                   np.array([True, False]), np.float64(1.0)])
def test_anything_but_a_truth_value_is_refused(holds):
    with pytest.raises(TypeError, match=r"True or False .*got"):
        claim("C1", holds, "e")


@pytest.mark.parametrize("claim_id", ["3", "c3", "C", "C3a", " C3", "claim 3", 3, None])
def test_claim_ids_look_like_the_lectures(claim_id):
    with pytest.raises(ValueError, match="'C' followed by digits"):
        claim(claim_id, True, "e")


def test_evidence_is_a_non_empty_string():
    for evidence in ["", "  ", None, 3]:
        with pytest.raises(TypeError, match="evidence"):
            claim("C1", True, evidence)


def test_spread_mean_sd_and_format():
    s = Spread([412, 398, 425])
    assert s.values == (412.0, 398.0, 425.0) and s.n == 3
    assert s.mean == pytest.approx(411.6667, abs=1e-4)
    assert s.sd == pytest.approx(float(np.std([412, 398, 425], ddof=1)))  # sample sd, n - 1
    assert str(s) == "412 ± 14"  # whole numbers for counts
    assert f"{s:.2f}" == "411.67 ± 13.50"
    assert str(Spread([412, 398, 425], ".1f")) == "411.7 ± 13.5"
    assert f"distilled {s}" == "distilled 412 ± 14"
    assert str(Spread([0.9812, 0.9790, 0.9831])) == "0.9811 ± 0.0021"  # the sd's first two digits
    one = Spread([7])
    assert one.sd == 0 and str(one) == "7 ± 0"
    assert Spread(torch.tensor([1.0, 2.0])).values == (1.0, 2.0)


def test_spread_refuses_what_is_not_a_list_of_finite_numbers():
    with pytest.raises(ValueError, match="at least one"):
        Spread([])
    with pytest.raises(ValueError, match="finite"):
        Spread([1.0, float("nan")])
    for bad in [412, "412"]:
        with pytest.raises(TypeError, match="list of numbers"):
            Spread(bad)


def test_clearly_below_needs_the_intervals_apart():
    low, high = Spread([100, 104, 102]), Spread([110, 114, 112])  # 102 ± 2 and 112 ± 2
    assert clearly_below(low, high) and not clearly_below(high, low)
    assert not no_difference(low, high)
    touching = Spread([104, 108, 106])  # 106 ± 2: the intervals meet at 104, so no clear gap
    assert not clearly_below(low, touching) and no_difference(low, touching)
    wide = Spread([60, 120, 90])  # 90 ± 30: a mean 22 below high's, but a spread wider than the gap
    assert not clearly_below(wide, high) and no_difference(wide, high) and no_difference(high, wide)


def test_a_plain_number_is_a_fixed_reference_and_one_seed_is_refused():
    s = Spread([100, 104, 102])
    assert clearly_below(s, 105) and not clearly_below(s, 103) and clearly_below(99, s)
    with pytest.raises(ValueError, match="one value, so no spread"):
        clearly_below(Spread([100]), s)
    with pytest.raises(TypeError, match="Spread or a plain number"):
        no_difference(s, [1, 2])


def test_verdict_says_which_is_clearly_lower_or_no_difference():
    from lecture_utils import verdict

    low, high, near = Spread([100, 104, 102]), Spread([150, 155, 152]), Spread([103, 99, 110])
    assert verdict(low, high) == "clearly fewer test errors (102 ± 2 vs 152 ± 3)"
    assert verdict(high, low, "errors").startswith("clearly more errors")
    assert verdict(low, near).startswith("no difference at this size")
    assert verdict(low, near).endswith("inside the seeds' spread)")
    assert verdict(low, near, spread_of="draws").endswith("inside the draws' spread)")  # rounding draws, not seeds
    assert verdict(high, low, "accuracy", "lower", "higher").startswith("clearly higher accuracy")
