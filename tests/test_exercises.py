import pytest
import torch
import torch.nn.functional as F

from lecture_utils import distillation_loss, softmax_with_temperature
from lecture_utils.exercises import ExerciseError, check_distillation_loss, check_softmax_with_temperature


def naive_softmax(logits, t):
    e = torch.exp(logits / t)
    return e / e.sum(-1, keepdim=True)


def stub(*args):
    raise NotImplementedError


def test_reference_solutions_pass(capsys):
    check_softmax_with_temperature(softmax_with_temperature)
    check_distillation_loss(distillation_loss)
    assert capsys.readouterr().out.count("✓") == 2


def test_soft_cross_entropy_passes_too():
    def soft_ce(s, te, y, t, a):
        soft = -(torch.softmax(te / t, -1) * torch.log_softmax(s / t, -1)).sum(-1).mean()
        return a * t * t * soft + (1 - a) * F.cross_entropy(s, y)

    check_distillation_loss(soft_ce)


@pytest.mark.parametrize("fn,hint", [
    (stub, "NotImplementedError"),
    (naive_softmax, "overflow"),
    (lambda z, t: torch.softmax(z * t, -1), "do not multiply"),
    (lambda z, t: torch.softmax(z, -1), "temperature is not used"),
    (lambda z, t: torch.softmax(z / t, 0), "dim=-1"),
    (lambda z, t: torch.exp(z / t), "sum to"),
    (lambda z, t: (z / t).tolist(), "torch.Tensor"),
])
def test_wrong_softmax_gets_its_hint(fn, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_softmax_with_temperature(fn)


@pytest.mark.parametrize("fn,hint", [
    (stub, "NotImplementedError"),
    (lambda s, te, y, t, a: distillation_loss(s, te, y, t, a, scale_by_t2=False), "T²"),
    (lambda s, te, y, t, a: distillation_loss(s, te, y, t, 1 - a), "swapped"),
    (lambda s, te, y, t, a: len(s) * distillation_loss(s, te, y, t, a), "average"),
    (lambda s, te, y, t, a: a * t * t * F.kl_div(F.log_softmax(s, -1), F.softmax(te / t, -1), reduction="batchmean")
     + (1 - a) * F.cross_entropy(s, y), "divided by T"),
    (lambda s, te, y, t, a: F.cross_entropy(s, y), "differs"),
    (lambda s, te, y, t, a: distillation_loss(s, te, y, t, a).item(), "0-dim tensor"),
    (lambda s, te, y, t, a: distillation_loss(s.detach(), te, y, t, a), "does not depend"),
])
def test_wrong_loss_gets_its_hint(fn, hint):
    with pytest.raises(ExerciseError, match=hint):
        check_distillation_loss(fn)
