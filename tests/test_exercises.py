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


from lecture_utils.distillation import best_bias_shift, logit_matching_loss  # noqa: E402
from lecture_utils.ensembles import average_state_dicts  # noqa: E402
from lecture_utils.exercises import (check_average_state_dicts, check_best_bias_shift, check_drop_digit,  # noqa: E402
                                     check_ensemble_probabilities, check_hidden_activations,
                                     check_logit_matching_loss)
from lecture_utils.hints import hidden_activations  # noqa: E402
from lecture_utils import drop_digit  # noqa: E402


def test_later_reference_solutions_pass(capsys):
    check_drop_digit(drop_digit)
    check_best_bias_shift(lambda z, y, c, s: best_bias_shift(z, y, c, s)[0])
    check_ensemble_probabilities(lambda zs: torch.stack([torch.softmax(z, 1) for z in zs]).mean(0))
    check_average_state_dicts(average_state_dicts)
    check_logit_matching_loss(logit_matching_loss)
    check_hidden_activations(hidden_activations)
    assert capsys.readouterr().out.count("✓") == 6


@pytest.mark.parametrize("check,fn,hint", [
    (check_drop_digit, stub, "NotImplementedError"),
    (check_drop_digit, lambda x, y, d: (x, y), "still contain"),
    (check_drop_digit, lambda x, y, d: (x, y[y != d]), "images but"),
    (check_drop_digit, lambda x, y, d: (x[: int((y != d).sum())], y[y != d]), "index both with one mask"),
    (check_best_bias_shift, lambda z, y, c, s: s[0], "gives accuracy"),
    (check_best_bias_shift, lambda z, y, c, s: "1.0x", "a number"),
    (check_ensemble_probabilities, lambda zs: torch.softmax(torch.stack(zs).mean(0), 1), "averaged the logits"),
    (check_ensemble_probabilities, lambda zs: torch.stack([torch.softmax(z, 1) for z in zs]).sum(0), "summed"),
    (check_average_state_dicts, lambda sds: {k: sum(sd[k] for sd in sds) for k in sds[0]}, "is the sum"),
    (check_average_state_dicts, lambda sds: sds[0], "element-wise mean"),
    (check_logit_matching_loss, lambda z, v: 0.5 * ((z - v) ** 2).sum(1).mean(), "subtract each example's mean"),
    (check_logit_matching_loss, lambda z, v: 2 * logit_matching_loss(z, v), "twice too large"),
    (check_hidden_activations, lambda m, x: (m(x), []), "hidden layers"),
    (check_hidden_activations,
     lambda m, x: (m(x), [l(h) for l, h in []] or [m[1](m[0](x)), m[3](m[2](m[1](m[0](x)))), m[5](m[4](m[3](m[2](m[1](m[0](x))))))]),
     "after the ReLU"),
])
def test_later_exercises_give_their_hints(check, fn, hint):
    with pytest.raises(ExerciseError, match=hint):
        check(fn)
