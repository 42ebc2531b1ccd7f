import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from lecture_utils import distillation_loss, entropy, soft_target_loss, softmax_with_temperature


def test_lecture_logits_at_t1_are_one_hot():
    p = softmax_with_temperature(torch.tensor([100.0, 10.0, 1.0]), 1.0)
    assert torch.allclose(p, torch.tensor([1.0, 0.0, 0.0]), atol=1e-30 + 1e-6)


def test_lecture_logits_at_t100_are_smooth():
    p = softmax_with_temperature(torch.tensor([100.0, 10.0, 1.0]), 100.0)
    # 100/100, 10/100, 1/100 = 1, 0.1, 0.01 before the exponential
    want = torch.softmax(torch.tensor([1.0, 0.1, 0.01]), dim=0)
    assert torch.allclose(p, want)
    assert p.argmax() == 0 and p.min() > 0.2


def test_matches_formula_on_a_batch():
    logits = torch.tensor([[1.0, 2.0, 3.0], [3.0, 0.0, -1.0]])
    t = 2.5
    e = torch.exp(logits / t)
    assert torch.allclose(softmax_with_temperature(logits, t), e / e.sum(dim=1, keepdim=True))


def test_accepts_lists_and_tensor_temperature():
    assert torch.allclose(softmax_with_temperature([0.0, 0.0], torch.tensor(3.0)), torch.tensor([0.5, 0.5]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=2, max_size=12, unique=True), st.floats(0.05, 1e4))
def test_ranking_never_changes(values, t):
    logits = torch.tensor(values, dtype=torch.float64)
    p = softmax_with_temperature(logits, t)
    assert torch.isclose(p.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert p.argmax() == logits.argmax() or torch.isclose(p.max(), p[logits.argmax()])


@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.5, float("nan"), float("inf"), float("-inf"), "4", None, True, [2.0]])
def test_bad_temperature_is_refused_with_its_value(bad):
    with pytest.raises(ValueError, match="temperature"):
        softmax_with_temperature(torch.tensor([1.0, 2.0]), bad)
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), bad, 0.5)


@pytest.mark.parametrize("t", [0.5, 1.0, 100.0])
def test_large_logits_do_not_overflow(t):
    p = softmax_with_temperature(torch.tensor([1e4, 0.0, -1e4]), t)
    assert torch.isfinite(p).all()
    assert math.isclose(p.sum().item(), 1.0, rel_tol=1e-6)


def test_entropy_of_uniform_is_log_n():
    assert math.isclose(entropy(torch.full((10,), 0.1)).item(), math.log(10), rel_tol=1e-6)
    assert entropy(torch.tensor([1.0, 0.0])).item() == 0.0


def _setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 10, generator=g) * 3, torch.randn(16, 10, generator=g) * 3, torch.randint(0, 10, (16,), generator=g)


def test_distillation_loss_is_the_written_formula():
    s, te, y = _setup()
    t, a = 4.0, 0.7
    p_t = torch.softmax(te / t, 1)
    kl = (p_t * (torch.log(p_t) - torch.log_softmax(s / t, 1))).sum(1).mean()
    want = a * t * t * kl + (1 - a) * F.cross_entropy(s, y)
    assert torch.allclose(distillation_loss(s, te, y, t, a), want, atol=1e-5)


def test_soft_loss_is_zero_when_student_equals_teacher():
    s, _, y = _setup()
    assert distillation_loss(s, s.clone(), y, 3.0, 1.0).abs() < 1e-6


def test_soft_gradient_is_q_minus_p_over_t():
    """Hinton et al., eq. 2: dC/dz_i = (q_i - p_i) / T for the soft cross-entropy."""
    s, te, _ = _setup()
    t = 5.0
    s = s.clone().requires_grad_(True)
    soft_target_loss(s, te, t).backward()
    q, p = torch.softmax(s.detach() / t, 1), torch.softmax(te / t, 1)
    assert torch.allclose(s.grad, (q - p) / t / len(s), atol=1e-6)


def test_t_squared_keeps_the_gradient_scale():
    """Without T^2 the soft gradient shrinks like 1/T^2; with it, it stays of the same order."""
    s, te, y = _setup()

    def grad_norm(t, scale):
        x = s.clone().requires_grad_(True)
        distillation_loss(x, te, y, t, 1.0, scale_by_t2=scale).backward()
        return x.grad.norm().item()

    plain = [grad_norm(t, False) for t in (10.0, 100.0)]
    assert 80 < plain[0] / plain[1] < 120  # ~ (100 / 10)^2
    scaled = [grad_norm(t, True) for t in (10.0, 100.0)]
    assert 0.5 < scaled[0] / scaled[1] < 2


@pytest.mark.parametrize("alpha", [-0.1, 1.5])
def test_bad_alpha(alpha):
    s, te, y = _setup()
    with pytest.raises(ValueError, match="alpha"):
        distillation_loss(s, te, y, 2.0, alpha)


def test_swap_classes_makes_a_teacher_wrong_on_two_digits():
    from lecture_utils.distillation import swap_classes

    logits = torch.randn(50, 10, generator=torch.Generator().manual_seed(0))
    swapped = swap_classes(logits, 3, 5)
    assert torch.equal(swapped[:, 3], logits[:, 5]) and torch.equal(swapped[:, 5], logits[:, 3])
    others = [c for c in range(10) if c not in (3, 5)]
    assert torch.equal(swapped[:, others], logits[:, others])
    with pytest.raises(ValueError, match="two different classes"):
        swap_classes(logits, 3, 3)


def test_shuffle_wrong_classes_keeps_the_label_and_the_softness():
    from lecture_utils.distillation import shuffle_wrong_classes

    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(200, 10, generator=g) * 3, torch.randint(0, 10, (200,), generator=g)
    shuffled = shuffle_wrong_classes(logits, labels, seed=1)
    rows = torch.arange(200)
    assert torch.equal(shuffled[rows, labels], logits[rows, labels])  # the label's logit stays
    assert torch.equal(shuffled.sort(dim=1).values, logits.sort(dim=1).values)  # a permutation of each row
    p, q = softmax_with_temperature(logits, 4.0), softmax_with_temperature(shuffled, 4.0)
    assert torch.allclose(entropy(p), entropy(q), atol=1e-5)  # equally soft
    assert (shuffled != logits).any(dim=1).float().mean() > 0.95  # yet the wrong classes moved
    assert torch.equal(shuffle_wrong_classes(logits, labels, seed=1), shuffled)  # seeded


def test_label_smoothing_logits_match_the_entropy_asked_for():
    from lecture_utils.distillation import label_smoothing_logits

    labels = torch.tensor([0, 3, 9])
    smooth = label_smoothing_logits(labels, 4.0, mean_entropy=0.9)
    p = softmax_with_temperature(smooth, 4.0)
    assert torch.allclose(entropy(p), torch.full((3,), 0.9), atol=1e-4)
    assert torch.equal(p.argmax(dim=1), labels)
    wrong = p.clone()
    wrong[torch.arange(3), labels] = float("nan")
    assert torch.allclose(wrong.nan_to_num(p[0, 1].item()), p[0, 1].expand(3, 10))  # every wrong class alike
    with pytest.raises(ValueError, match="between 0 and log"):
        label_smoothing_logits(labels, 4.0, mean_entropy=3.0)


def test_bias_shift_for_share_needs_no_labels():
    from lecture_utils.distillation import bias_shift_for_share

    logits = torch.zeros(100, 3)
    logits[:, 0] = torch.linspace(-1, 1, 100)  # class 0 wins on the rows where its logit is above 0
    logits[:, 0] -= 2.0  # ... after a shift of 2: then half the rows
    assert bias_shift_for_share(logits, 0, 0.5, [0.0, 1.0, 2.0, 3.0]) == 2.0
    assert bias_shift_for_share(logits, 0, 0.02, [0.0, 1.0, 2.0, 3.0]) == 1.0  # one tie at +1: a share of 0.01
    assert bias_shift_for_share(logits, 0, 0.9, [0.0, 1.0, 2.0, 3.0]) == 3.0
    with pytest.raises(ValueError, match="share must be a fraction"):
        bias_shift_for_share(logits, 0, 10, [0.0])


def test_teacher_alongside_gives_the_teachers_logits_on_the_same_images_and_trains_only_the_student():
    from lecture_utils.distillation import TeacherAlongside
    from lecture_utils.training import fit

    torch.manual_seed(0)
    student, teacher = torch.nn.Linear(4, 3), torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Dropout(0.5))
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    pair = TeacherAlongside(student, teacher)
    x = torch.randn(8, 4)
    s, t = pair(x)
    assert torch.equal(s, student(x)) and torch.equal(t, teacher.eval()(x)) and not t.requires_grad
    assert list(pair.state_dict()) == ["student.weight", "student.bias"]  # the teacher is not saved with the student
    loader = [(x, torch.randint(0, 3, (8,)))]
    fit(pair, loader, lambda out, y: distillation_loss(out[0], out[1], y, 2.0, 0.5), epochs=2, verbose=False)
    assert not teacher.training  # fit's .train() did not reach it: its dropout stays off
    assert all(torch.equal(teacher.state_dict()[k], v) for k, v in teacher_before.items())
    assert not torch.equal(student(x), s)
