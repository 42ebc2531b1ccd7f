import pytest
import torch

from lecture_utils.dynamic import (EarlyExitNet, SlimmableMLP, require_threshold, early_exit_predict, exit_table,
                                   sum_of_exit_losses)
from lecture_utils.exercises import ExerciseError, check_accuracy_by_confidence
from lecture_utils.widgets import ExitBudget, ThresholdSlider


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = EarlyExitNet()
    model.eval()
    return model


def test_exits_shapes_and_macs(net):
    x = torch.rand(3, 1, 28, 28)
    outputs = net(x)
    assert len(outputs) == 4 and all(o.shape == (3, 10) for o in outputs)
    for k in range(4):
        assert torch.allclose(net.forward_to(x, k), outputs[k], atol=1e-6)
    macs = net.exit_macs()
    assert macs == sorted(macs) and macs[0] < macs[-1] / 10
    # the first exit: one 3x3 convolution from 1 to 8 channels on 28x28, plus its classifier
    assert macs[0] == 28 * 28 * 8 * 9 + 8 * 4 * 10  # pooling and batch norm add no MACs


@pytest.mark.parametrize("bad", [-1, 4, 1.5, True])
def test_bad_exit_index(net, bad):
    with pytest.raises(ValueError, match="exit_index must be one of 0 to 3"):
        net.forward_to(torch.rand(1, 1, 28, 28), bad)


@pytest.mark.parametrize("bad", [-0.1, 1.01, float("nan"), "0.5", None])
def test_bad_threshold(net, bad):
    with pytest.raises(ValueError, match="threshold must be a number from 0 to 1"):
        early_exit_predict(net, torch.rand(2, 1, 28, 28), bad)


def test_early_exit_predict_agrees_with_the_table(net):
    x = torch.rand(64, 1, 28, 28)
    with torch.no_grad():
        probs = [torch.softmax(z, 1) for z in net(x)]
    for threshold in (0.0, 0.15, 0.3, 1.0):
        p, e = early_exit_predict(net, x, threshold)
        tp, te = exit_table(probs, threshold)
        assert torch.equal(p, tp) and torch.equal(e, te)
    assert (early_exit_predict(net, x, 0.0)[1] == 0).all()  # everything leaves at once
    assert (early_exit_predict(net, x, 1.0)[1] <= 3).all()


def test_sum_of_exit_losses():
    outputs = [torch.zeros(2, 10), torch.zeros(2, 10)]
    assert torch.isclose(sum_of_exit_losses(outputs, torch.tensor([1, 2])), 2 * torch.log(torch.tensor(10.0)))


def test_slimmable_widths_share_weights_and_refuse_untrained_widths():
    torch.manual_seed(0)
    for switchable in (True, False):
        m = SlimmableMLP(hidden=8, switchable_bn=switchable)
        m.eval()
        outs = m(torch.rand(4, 1, 28, 28))
        assert [o.shape for o in outs] == [(4, 10)] * 4
        with pytest.raises(ValueError, match="was not trained"):
            m.forward_width(torch.rand(1, 784), 0.6)
    macs = m.width_macs()
    assert macs == sorted(macs) and macs[-1] == 784 * 8 + 8 * 8 + 8 * 10


def test_threshold_slider_shows_the_table_values(net):
    x, y = torch.rand(50, 1, 28, 28), torch.randint(0, 10, (50,))
    with torch.no_grad():
        probs = [torch.softmax(z, 1) for z in net(x)]
    macs = net.exit_macs()
    w = ThresholdSlider(probs, y, macs, threshold=0.2)
    w.slider.value = 0.12
    p, e = exit_table(probs, 0.12)
    assert w.result["accuracy"] == pytest.approx((p == y).double().mean().item())
    assert w.result["average_macs"] == pytest.approx(torch.tensor(macs, dtype=torch.double)[e].mean().item())
    assert w.result["exits"] == torch.bincount(e, minlength=4).tolist()
    assert "threshold 0.120" in w.readout.value
    b = ExitBudget([0.8, 0.9, 0.95, 0.97], macs)
    b.dropdown.value = 1
    assert b.result == {"exit": 1, "accuracy": 0.9, "macs": macs[1], "share": macs[1] / macs[-1]}
    assert "90.00%" in b.readout.value


def test_accuracy_by_confidence_exercise_on_an_exit_network(capsys):
    """The exercise's answer, in the notebook's use: on real exit outputs, its bins agree with the
    confidences and predictions they come from (every image counted once, nan only where a bin is empty)."""
    from tools.answers import accuracy_by_confidence

    check_accuracy_by_confidence(accuracy_by_confidence)
    assert capsys.readouterr().out.startswith("✓")
    torch.manual_seed(0)
    probabilities, labels = torch.softmax(3 * torch.randn(200, 10), 1), torch.randint(0, 10, (200,))
    edges = [0.0, 0.5, 0.7, 0.9, 0.99, 1.0]
    accuracies = accuracy_by_confidence(probabilities, labels, edges)
    confidence, predicted = probabilities.max(1)
    bins = torch.bucketize(confidence, torch.tensor(edges[1:-1]), right=False)  # edges[i] < c <= edges[i + 1]
    for b, accuracy in enumerate(accuracies):
        inside = bins == b
        assert (accuracy != accuracy) == (not inside.any())
        if inside.any():
            assert accuracy == pytest.approx((predicted[inside] == labels[inside]).double().mean().item())
    with pytest.raises(ExerciseError, match="largest probability"):
        check_accuracy_by_confidence(lambda z, y, e: accuracy_by_confidence(z, y, e, confidence=z[range(len(y)), y]))


def test_require_threshold_accepts_the_ends():
    assert require_threshold(0) == 0.0 and require_threshold(1) == 1.0


def test_a_network_dedicated_to_an_exit_costs_what_leaving_there_costs(net):
    from lecture_utils.dynamic import dedicated_exit_network
    from lecture_utils.measure import multiply_accumulates

    macs = net.exit_macs()
    for k in range(net.num_exits):
        dedicated = dedicated_exit_network(k)
        assert multiply_accumulates(dedicated, (1, 1, 28, 28)) == macs[k]
        assert dedicated(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="exit_index must be one of 0 to 3, got 4"):
        dedicated_exit_network(4)


def test_attached_exits_learn_while_the_blocks_stay_as_they_were():
    from lecture_utils.dynamic import attach_exits

    torch.manual_seed(0)
    model = EarlyExitNet()
    blocks = {k: v.clone() for k, v in model.blocks.state_dict().items()}
    exits = {k: v.clone() for k, v in model.exits.state_dict().items()}
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    modes = []  # batch norm's mode each time a block runs while the exits train
    hooks = [m.register_forward_hook(lambda m, i, o: modes.append(m.training)) for m in model.blocks.modules()
             if isinstance(m, torch.nn.BatchNorm2d)]
    attach_exits(model, [(x, y)], epochs=2, verbose=False, device="cpu")
    for hook in hooks:
        hook.remove()
    assert modes and not any(modes), "the frozen blocks must normalise as at test time, with their stored statistics"
    assert all(torch.equal(v, model.blocks.state_dict()[k]) for k, v in blocks.items())
    model.train()  # afterwards the blocks follow the model's mode again
    assert all(m.training for m in model.blocks.modules())
    changed = {k for k, v in model.exits.state_dict().items() if not torch.equal(v, exits[k])}
    assert changed and all(not k.startswith("3.") for k in changed)  # every early exit learns, the last one not


def test_a_network_dedicated_to_a_width_costs_what_that_width_costs_and_the_slider_runs_it():
    from lecture_utils.dynamic import dedicated_width_network, width_outcome
    from lecture_utils.widgets import WidthSlider

    torch.manual_seed(0)
    slim = SlimmableMLP(hidden=64)
    macs = slim.width_macs()
    for w, m in zip(slim.widths, macs):
        assert dedicated_width_network(w, 64).width_macs() == [m]
    x, y = torch.rand(20, 1, 28, 28), torch.randint(0, 10, (20,))
    outcome = width_outcome(slim, x, y, 0.5)
    assert outcome["units"] == 32 and outcome["macs"] == macs[1] and outcome["share"] == macs[1] / macs[-1]
    assert outcome["accuracy"] == (slim.forward_width(x, 0.5).argmax(1) == y).double().mean().item()
    slider = WidthSlider(slim, x, y, width=0.25)
    assert slider.compute(0.5) == outcome and "width 50% (32 units per hidden layer)" in slider.readout_text(outcome)
    with pytest.raises(ValueError, match="width 0.3 was not trained"):
        width_outcome(slim, x, y, 0.3)
