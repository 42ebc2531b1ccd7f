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
from lecture_utils.fitnets import hidden_activations  # noqa: E402
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


from lecture_utils.exercises import (check_binarize, check_conv_parameter_formula, check_huffman_decode,  # noqa: E402
                                     check_kmeans_step, check_low_rank_parameters, check_pack_bits,
                                     check_quantize_uniform, check_separable_block, check_straight_through,
                                     check_truncated_svd)
from lecture_utils.quantization import pack_bits, quantize_uniform  # noqa: E402
from lecture_utils.binary import binarize  # noqa: E402
from lecture_utils.huffman import huffman_decode  # noqa: E402
from lecture_utils.architecture import DepthwiseSeparableConv2d  # noqa: E402
from torch import nn  # noqa: E402


def _svd(w, k):
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    return s[:k, None] * vh[:k], u[:, :k]


def test_reference_solutions_of_05_to_09_pass(capsys):
    check_quantize_uniform(quantize_uniform)
    check_pack_bits(pack_bits)
    check_kmeans_step(lambda w, c: (torch.stack([w[(w[:, None] - c).abs().argmin(1) == k].mean() for k in range(len(c))]),
                                    (w[:, None] - c).abs().argmin(1)))
    check_huffman_decode(lambda bits, code: [{v: k for k, v in code.items()}[c] for c in _split(bits, code)])
    check_binarize(lambda w, s: binarize(w, stochastic=s))
    check_straight_through(lambda w: w + (binarize(w.detach()) - w).detach())
    check_conv_parameter_formula(lambda i, o, k: (k * k * i * o, k * k * i + i * o))
    check_separable_block(lambda i, o, k: DepthwiseSeparableConv2d(i, o, k))
    check_low_rank_parameters(lambda n, m, k: (n * m, k * (n + m)))
    check_truncated_svd(_svd)
    assert capsys.readouterr().out.count("✓") == 10


def _split(bits, code):
    out, cur = [], ""
    for b in bits:
        cur += b
        if cur in code.values():
            out.append(cur)
            cur = ""
    return out


@pytest.mark.parametrize("check,fn,hint", [
    (check_quantize_uniform, lambda w, b: w, "different values"),
    (check_quantize_uniform, lambda w, b: torch.full_like(w, w.mean().item()), "half a step"),
    (check_quantize_uniform, lambda w, b: torch.round(w * 100) / 100, "different values"),
    (check_pack_bits, lambda c, b: bytes(c.tolist()), "not one byte per code"),
    (check_pack_bits, lambda c, b: pack_bits(c, b)[::-1], "most significant first"),
    (check_kmeans_step, lambda w, c: (c, (w[:, None] - c).abs().argmax(1)), "smallest"),
    (check_kmeans_step, lambda w, c: (c, (w[:, None] - c).abs().argmin(1)), "mean of its weights"),
    (check_huffman_decode, lambda bits, code: list(bits), "as soon as"),
    (check_binarize, lambda w, s: torch.sign(w), "torch.sign"),
    (check_binarize, lambda w, s: binarize(w) if not s else torch.where(torch.rand_like(w) < 0.5, 1.0, -1.0), "probability"),
    (check_straight_through, lambda w: binarize(w.detach()), "no gradient"),
    (check_straight_through, lambda w: torch.sign(w) + 0 * w, "straight through instead"),
    (check_straight_through, lambda w: w + 0, "value must be"),
    (check_conv_parameter_formula, lambda i, o, k: (k * k * i * o, k * k * o + i * o), "one k x k filter per input channel"),
    (check_separable_block, lambda i, o, k: nn.Sequential(nn.Conv2d(i, i, k, bias=False), nn.Conv2d(i, o, 1, bias=False)), "groups"),
    (check_low_rank_parameters, lambda n, m, k: (n * m, k * n * m), "K\\*\\(N\\+M\\)"),
    (check_truncated_svd, lambda w, k: (w[:k], torch.eye(w.shape[0], k, dtype=w.dtype)), "best possible"),
])
def test_exercises_of_05_to_09_give_their_hints(check, fn, hint):
    with pytest.raises(ExerciseError, match=hint):
        check(fn)

