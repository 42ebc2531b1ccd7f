import pytest
import torch
import torch.nn.functional as F

from lecture_utils import MLP, SmallCNN, count_parameters, evaluate, fit, make_loader, seed_everything
from lecture_utils.training import confusion_matrix, random_shift


def _toy():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(256, 1, 28, 28, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0.5).long() + 2 * (x[:, 0, :14].mean(dim=(1, 2)) > 0.5).long()
    return x, y


def _train(seed, dropout=0.2, jitter=1):
    x, y = _toy()
    seed_everything(seed)
    model = MLP(hidden=(16,), dropout=dropout)
    history = fit(model, make_loader(x, y, batch_size=32, seed=seed), F.cross_entropy, epochs=3,
                  device="cpu", jitter=jitter, seed=seed, verbose=False)
    return model, history


def test_same_seed_same_weights():
    a, ha = _train(0)
    b, hb = _train(0)
    assert ha.losses == hb.losses
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)


def test_different_seed_different_weights():
    a, _ = _train(0)
    b, _ = _train(1)
    assert not torch.equal(a[1].weight, b[1].weight)


def test_fit_lowers_the_loss_and_reports():
    _, history = _train(0, dropout=0.0, jitter=0)
    assert history.losses[-1] < history.losses[0]
    assert "3 epochs" in str(history)


def test_fit_refuses_zero_epochs():
    x, y = _toy()
    with pytest.raises(ValueError, match="epochs"):
        fit(MLP(), make_loader(x, y), F.cross_entropy, epochs=0, verbose=False)


def test_confusion_and_evaluation():
    pred = torch.tensor([0, 1, 1, 2, 2, 2])
    true = torch.tensor([0, 1, 2, 2, 2, 0])
    c = confusion_matrix(pred, true, num_classes=3)
    assert c.tolist() == [[1, 0, 1], [0, 1, 0], [0, 1, 2]]

    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return F.one_hot(x.long().flatten(), 10).float() + self.p

    ev = evaluate(Fixed(), pred.float().view(-1, 1), true)
    assert ev.errors == 2 and abs(ev.accuracy - 4 / 6) < 1e-9
    assert ev.per_class_accuracy[:3].tolist() == [0.5, 1.0, 2 / 3]
    assert "2 errors of 6" in str(ev)


def test_count_parameters_matches_the_formula():
    assert count_parameters(MLP(hidden=(30, 30))) == 784 * 30 + 30 + 30 * 30 + 30 + 30 * 10 + 10
    assert count_parameters(MLP(hidden=(1200, 1200))) == 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 1200 * 10 + 10
    cnn = SmallCNN(channels=(16, 32), hidden=100)
    assert count_parameters(cnn) == (25 * 16 + 16) + (25 * 16 * 32 + 32) + (32 * 49 * 100 + 100) + (100 * 10 + 10)
    frozen = MLP(hidden=(4,))
    frozen[1].weight.requires_grad_(False)
    assert count_parameters(frozen, trainable_only=True) == count_parameters(frozen) - 784 * 4


def test_random_shift_moves_pixels_within_range():
    x = torch.zeros(50, 1, 9, 9)
    x[:, 0, 4, 4] = 1
    shifted = random_shift(x, 2, torch.Generator().manual_seed(0))
    pos = shifted[:, 0].flatten(1).argmax(1)
    rows, cols = pos // 9, pos % 9
    assert shifted.sum() == 50
    assert ((rows - 4).abs() <= 2).all() and ((cols - 4).abs() <= 2).all()
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 5


@pytest.mark.parametrize("schedule", ["cosine", "one-cycle"])
def test_schedules_follow_their_shape(schedule, monkeypatch):
    """cosine: from lr down to about 0; one-cycle: up from lr / 25 to lr in the first 30%, then down."""
    x, y = _toy()
    rates, step = [], torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])  # the rate this step uses
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    fit(MLP(hidden=(8,)), make_loader(x, y, batch_size=16), F.cross_entropy, epochs=2, lr=1e-2, schedule=schedule,
        verbose=False, device="cpu")
    assert len(rates) == 32
    if schedule == "cosine":
        assert rates[0] == 1e-2 and all(a > b for a, b in zip(rates, rates[1:])) and rates[-1] < 1e-4
    else:
        peak = max(range(len(rates)), key=rates.__getitem__)
        assert 0.2 < peak / len(rates) < 0.4 and rates[peak] == pytest.approx(1e-2, rel=0.05)
        assert rates[0] < 1e-2 / 10 and rates[-1] < 1e-5


def test_an_unknown_schedule_is_refused_with_the_choices():
    x, y = _toy()
    with pytest.raises(ValueError, match="'constant', 'cosine', 'one-cycle'.*'linear'"):
        fit(MLP(), make_loader(x, y), F.cross_entropy, epochs=1, schedule="linear", verbose=False)
