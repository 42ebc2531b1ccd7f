import pytest
import torch
from torch import nn

from lecture_utils import MLP, distillation_loss
from lecture_utils.distillation import best_bias_shift, logit_matching_loss, shift_class_bias, soft_target_loss
from lecture_utils.ensembles import average_state_dicts, ensemble_probabilities, majority_vote
from lecture_utils.fitnets import HintStudent, hidden_activations, hint_distillation_loss, teacher_hints


class Constant(nn.Module):
    """A 'model' that outputs fixed logits whatever the input."""

    def __init__(self, logits):
        super().__init__()
        self.logits = nn.Parameter(torch.tensor(logits))

    def forward(self, x):
        return self.logits.expand(len(x), -1)


def test_ensemble_probabilities_is_mean_of_softmaxes():
    a, b = Constant([2.0, 0.0, 0.0]), Constant([0.0, 3.0, 0.0])
    x = torch.zeros(4, 1)
    p = ensemble_probabilities([a, b], x)
    want = (torch.softmax(torch.tensor([2.0, 0, 0]), 0) + torch.softmax(torch.tensor([0, 3.0, 0]), 0)) / 2
    assert torch.allclose(p, want.expand(4, -1))
    with pytest.raises(ValueError):
        ensemble_probabilities([], x)


def test_majority_vote():
    models = [Constant([1.0, 0, 0]), Constant([0, 1.0, 0]), Constant([0, 1.0, 0])]
    assert majority_vote(models, torch.zeros(2, 1)).tolist() == [1, 1]


def test_average_state_dicts():
    a, b = MLP(hidden=(3,), in_features=4), MLP(hidden=(3,), in_features=4)
    avg = average_state_dicts([a.state_dict(), b.state_dict()])
    for k in avg:
        assert torch.allclose(avg[k], (a.state_dict()[k] + b.state_dict()[k]) / 2)
    with pytest.raises(ValueError, match="different architectures"):
        average_state_dicts([a.state_dict(), MLP(hidden=(5,), in_features=4).state_dict()])
    with pytest.raises(ValueError):
        average_state_dicts([])


def test_logit_matching_ignores_a_constant_and_matches_formula():
    z, v = torch.randn(5, 10), torch.randn(5, 10)
    assert torch.isclose(logit_matching_loss(z + 7, v), logit_matching_loss(z, v))
    zc, vc = z - z.mean(1, keepdim=True), v - v.mean(1, keepdim=True)
    assert torch.isclose(logit_matching_loss(z, v), 0.5 * ((zc - vc) ** 2).sum(1).mean())


def test_high_temperature_gradient_approaches_logit_matching():
    g = torch.Generator().manual_seed(0)
    z0, v = torch.randn(8, 10, generator=g), torch.randn(8, 10, generator=g)

    def grad(fn):
        z = z0.clone().requires_grad_(True)
        fn(z).backward()
        return z.grad

    mimic = grad(lambda z: logit_matching_loss(z, v))
    t = 1000.0
    soft = grad(lambda z: t * t * soft_target_loss(z, v, t))
    assert torch.allclose(10 * soft, mimic, rtol=1e-2, atol=1e-4)


def test_bias_shift_and_its_choice():
    model = MLP(hidden=(4,), in_features=3)
    before = model[-1].bias.clone()
    shift_class_bias(model, 2, 1.5)
    assert torch.allclose(model[-1].bias - before, torch.tensor([0, 0, 1.5, 0, 0, 0, 0, 0, 0, 0]))
    logits = torch.tensor([[1.0, 0.0], [1.0, 0.5], [0.0, 1.0]])
    labels = torch.tensor([1, 1, 1])
    best, acc = best_bias_shift(logits, labels, 1, [0.0, 0.25, 1.0, 2.0])
    # shift 1.0 ties 1 = 1 on the first row (argmax takes the first): only 2.0 gets all three
    assert best == 2.0 and acc == [pytest.approx(1 / 3), pytest.approx(1 / 3), pytest.approx(2 / 3), 1.0]


def test_hidden_activations_and_hints():
    torch.manual_seed(0)
    mlp = MLP(hidden=(6, 5, 4), in_features=8)
    x = torch.rand(3, 8)
    logits, hidden = hidden_activations(mlp, x)
    assert torch.allclose(logits, mlp(x))
    assert [h.shape[1] for h in hidden] == [6, 5, 4] and all((h >= 0).all() for h in hidden)
    t_logits, (h2,) = teacher_hints(mlp, x, [2], batch_size=2)
    assert torch.allclose(t_logits, logits) and torch.allclose(h2, hidden[1])

    student = HintStudent(MLP(hidden=(3, 3), in_features=8), [1, 2], [3, 3], [6, 4])
    out, hints = student(x)
    assert out.shape == (3, 10) and [h.shape for h in hints] == [(3, 6), (3, 4)]
    y = torch.tensor([0, 1, 2])
    loss = hint_distillation_loss((out, hints), logits, y, hidden[0], hidden[2], temperature=2.0, alpha=0.5, beta=0.0)
    assert torch.isclose(loss, distillation_loss(out, logits, y, 2.0, 0.5))
    with_hints = hint_distillation_loss((out, hints), logits, y, hidden[0], hidden[2], temperature=2.0, alpha=0.5, beta=1.0)
    assert with_hints > loss


def test_guided_part_trains_the_students_own_lower_layers():
    from lecture_utils.fitnets import guided_part

    student = MLP(hidden=(8, 8, 8))
    part = guided_part(student, 2, nn.Linear(8, 5))
    assert part[1] is student[1] and part[3] is student[3] and len(part) == 6  # Flatten, L, ReLU, L, ReLU, regressor
    assert part(torch.zeros(2, 1, 28, 28)).shape == (2, 5)
    with pytest.raises(ValueError, match="from 1 to 3"):
        guided_part(student, 4, nn.Linear(8, 5))


def test_explained_variance():
    from lecture_utils.fitnets import explained_variance

    target = torch.randn(100, 4, generator=torch.Generator().manual_seed(0))
    assert explained_variance(target, target) == 1.0
    assert abs(explained_variance(target.mean(0).expand(100, 4), target)) < 1e-6


def test_middle_layer_of_a_cnn_and_of_an_mlp():
    from lecture_utils.fitnets import middle_layer
    from lecture_utils.models import SmallCNN

    cnn_part, cnn_what = middle_layer(SmallCNN())
    assert cnn_part(torch.zeros(2, 1, 28, 28)).shape == (2, 32 * 7 * 7)
    assert cnn_what == "the second convolution's pooled output (32 x 7 x 7)"
    mlp_part, mlp_what = middle_layer(MLP(hidden=(20, 30)))
    assert mlp_part(torch.zeros(2, 1, 28, 28)).shape == (2, 20) and mlp_what == "its first hidden layer (20)"


def test_least_squares_r2_finds_a_linear_map():
    from lecture_utils.fitnets import least_squares_r2

    g = torch.Generator().manual_seed(0)
    x, x_test = torch.randn(200, 5, generator=g), torch.randn(50, 5, generator=g)
    m = torch.randn(5, 3, generator=g)
    assert least_squares_r2(x, x @ m + 1, x_test, x_test @ m + 1) > 0.999
    assert least_squares_r2(x, torch.randn(200, 3, generator=g), x_test, torch.randn(50, 3, generator=g)) < 0.2


def test_cascade_runs_every_member_only_where_the_first_is_unsure():
    from lecture_utils.ensembles import cascade

    probs = torch.tensor([[[0.9, 0.1], [0.6, 0.4]],   # member 0: sure of image 0, unsure of image 1
                          [[0.8, 0.2], [0.1, 0.9]],
                          [[0.7, 0.3], [0.2, 0.8]]])
    predictions, passes = cascade(probs, 0.75)
    assert predictions.tolist() == [0, 1] and passes.tolist() == [1, 3]
    assert cascade(probs, 0.0)[1].tolist() == [1, 1] and cascade(probs, 1.0)[1].tolist() == [3, 3]
    assert torch.equal(cascade(probs, 1.0)[0], probs.mean(0).argmax(1))
    with pytest.raises(ValueError, match="threshold must be a number from 0 to 1"):
        cascade(probs, 1.5)
    with pytest.raises(ValueError, match=r"member_probs must be \(members, images, classes\)"):
        cascade(probs[0], 0.5)
