"""SeedStack trained by the unchanged fit gives the networks fit gives one after another."""
import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lecture_utils import MLP, SeedStack, distillation_loss, evaluate, fit, load_mnist, make_loader, predict_logits, \
    stacked_loss

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module")
def mnist_512():
    x, y = load_mnist(train=True)
    return x[:512], y[:512]


def _tiny_mlp():
    return MLP(hidden=(16,))


def _one_after_another(build, loader, loss_fn, epochs=2, **fit_kwargs):
    models = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        model = build()
        fit(model, loader, loss_fn, epochs=epochs, device="cpu", verbose=False, **fit_kwargs)
        models.append(model)
    return models


def _assert_same_networks(stacked, sequential, images, atol=1e-5):
    assert len(stacked) == len(sequential)
    for a, b in zip(stacked, sequential):
        assert type(a) is type(b) and not a.training
        for (name, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.allclose(p.float(), q.float(), atol=atol), name
        logits_a, logits_b = predict_logits(a, images), predict_logits(b, images)
        assert torch.allclose(logits_a, logits_b, atol=atol)
        assert torch.equal(logits_a.argmax(dim=1), logits_b.argmax(dim=1))


def test_the_stack_trains_each_copy_as_fit_trains_it_alone(mnist_512):
    x, y = mnist_512
    loader = make_loader(x, y, batch_size=64, seed=0)
    stack = SeedStack.from_builder(_tiny_mlp, SEEDS)
    history = fit(stack, loader, stacked_loss(F.cross_entropy), epochs=2, device="cpu", verbose=False)
    sequential = _one_after_another(_tiny_mlp, loader, F.cross_entropy)
    _assert_same_networks(stack.unstack(), sequential, x)
    # fit reports the loss summed over the copies, about 3 x ln 10 at the start
    assert history.losses[-1] < history.losses[0] < 3 * 2.4
    evaluations = [evaluate(m, x, y) for m in stack.unstack()]  # the ordinary evaluate, copy by copy
    assert all(e.accuracy > 0.2 for e in evaluations), [str(e) for e in evaluations]  # chance is 0.1


def test_the_sum_over_copies_gives_sgd_each_copys_own_step(mnist_512):
    """Adam hardly notices a loss scaled by 1/3 (a mean over copies instead of the sum); SGD does."""
    x, y = mnist_512
    loader = make_loader(x, y, batch_size=64, seed=0)
    stack = SeedStack.from_builder(_tiny_mlp, SEEDS)
    fit(stack, loader, stacked_loss(F.cross_entropy), epochs=1, lr=0.05, optimizer="sgd", device="cpu", verbose=False)
    sequential = _one_after_another(_tiny_mlp, loader, F.cross_entropy, epochs=1, lr=0.05, optimizer="sgd")
    _assert_same_networks(stack.unstack(), sequential, x)


def test_forward_shape_and_each_slice_is_that_network(mnist_512):
    x, _ = mnist_512
    torch.manual_seed(5)
    models = [_tiny_mlp() for _ in range(4)]
    stack = SeedStack(models).eval()
    assert len(stack) == 4 and stack.seeds is None
    with torch.no_grad():
        out = stack(x[:7])
    assert out.shape == (4, 7, 10)
    for k, model in enumerate(models):
        assert torch.allclose(out[k], model(x[:7]), atol=1e-6)
    # the stack owns copies: the given networks are not trained along with it
    assert sum(p.numel() for p in stack.parameters()) == 4 * sum(p.numel() for p in models[0].parameters())
    assert all(p.device.type != "meta" for p in stack.parameters())


def test_from_builder_seeds_each_build():
    stack = SeedStack.from_builder(_tiny_mlp, [7, 8])
    torch.manual_seed(8)
    alone = _tiny_mlp()
    assert stack.seeds == [7, 8]
    assert torch.equal(stack.unstack()[1][1].weight, alone[1].weight)
    assert not torch.equal(stack.unstack()[0][1].weight, alone[1].weight)


def test_stacked_loss_passes_extra_targets_to_every_copy(mnist_512):
    x, y = mnist_512
    torch.manual_seed(100)
    teacher_logits = torch.randn(len(x), 10) * 3
    loss_fn = functools.partial(distillation_loss, temperature=4.0, alpha=0.9)
    stacked = stacked_loss(loss_fn)
    logits = torch.randn(3, 5, 10)
    expected = sum(loss_fn(logits[k], teacher_logits[:5], y[:5]) for k in range(3))
    assert torch.allclose(stacked(logits, teacher_logits[:5], y[:5]), expected)

    loader = make_loader(x, teacher_logits, y, batch_size=64, seed=1)
    stack = SeedStack.from_builder(_tiny_mlp, SEEDS)
    fit(stack, loader, stacked, epochs=1, device="cpu", verbose=False)
    _assert_same_networks(stack.unstack(), _one_after_another(_tiny_mlp, loader, loss_fn, epochs=1), x)


def test_stacked_loss_wants_stacked_outputs():
    with pytest.raises(ValueError, match=r"\(copies, batch"):
        stacked_loss(F.cross_entropy)(torch.randn(5), torch.zeros(5, dtype=torch.long))


def test_batch_norm_keeps_running_statistics_per_copy():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 12, generator=g)
    y = (x[:, 0] > 0).long()

    def build():
        # No bias before batch norm: its true gradient is 0, and Adam would blow the rounding noise
        # in it (different in a stack than alone) up to full-size steps.
        return nn.Sequential(nn.Linear(12, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))

    loader = make_loader(x, y, batch_size=32, seed=0)
    stack = SeedStack.from_builder(build, SEEDS)
    fit(stack, loader, stacked_loss(F.cross_entropy), epochs=2, device="cpu", verbose=False)
    unstacked = stack.unstack()
    _assert_same_networks(unstacked, _one_after_another(build, loader, F.cross_entropy), x)
    assert int(unstacked[0][1].num_batches_tracked) == 2 * len(loader)


def test_batch_norm_with_a_cumulative_average_is_refused():
    with pytest.raises(ValueError, match="momentum=None"):
        SeedStack([nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4, momentum=None)) for _ in range(2)])


def test_dropout_draws_a_mask_per_copy():
    torch.manual_seed(0)
    net = MLP(hidden=(32,), dropout=0.5)
    stack = SeedStack([net, net]).train()  # identical weights: only the masks can differ
    out = stack(torch.rand(8, 1, 28, 28))
    assert not torch.allclose(out[0], out[1])
    stack.eval()
    out = stack(torch.rand(8, 1, 28, 28))
    assert torch.allclose(out[0], out[1])


@pytest.mark.parametrize("other, why", [
    (MLP(hidden=(17,)), "different layers"),
    (MLP(hidden=(16,), dropout=0.5), "different layers"),
    (MLP(hidden=(16,)).double(), "different parameters"),
    (nn.Linear(784, 10), "different layers"),
])
def test_mismatched_architectures_are_refused(other, why):
    with pytest.raises(ValueError, match=f"network 1 differs from network 0: {why}"):
        SeedStack([_tiny_mlp(), other])


def test_an_empty_list_is_refused():
    with pytest.raises(TypeError, match="non-empty list"):
        SeedStack([])


def test_train_recipes_trains_each_recipe_as_fit_trains_it_alone(mnist_512):
    """Two recipes in one stack: each copy gets its own loss, and the same networks as training
    each recipe and seed one after another."""
    from lecture_utils import train_recipes

    x, y = mnist_512
    teacher_logits = torch.randn(len(y), 10, generator=torch.Generator().manual_seed(0)) * 3
    loader = make_loader(x, teacher_logits, y, batch_size=64, seed=0)
    on_labels = lambda z, v, labels: F.cross_entropy(z, labels)  # noqa: E731
    distilled = functools.partial(distillation_loss, temperature=4.0, alpha=0.9)
    trained = train_recipes(_tiny_mlp, {"labels": on_labels, "distilled": distilled}, SEEDS, loader,
                            epochs=2, device="cpu", verbose=False)
    assert list(trained) == ["labels", "distilled"]
    for name, loss_fn in (("labels", on_labels), ("distilled", distilled)):
        _assert_same_networks(trained[name], _one_after_another(_tiny_mlp, loader, loss_fn), x[:256])


def test_stacked_loss_wants_one_loss_per_copy():
    with pytest.raises(ValueError, match="2 losses for a stack of 3 copies"):
        stacked_loss([F.cross_entropy] * 2)(torch.randn(3, 5, 10), torch.zeros(5, dtype=torch.long))
    with pytest.raises(TypeError, match="one per copy"):
        stacked_loss([F.cross_entropy, "ce"])


def test_a_stack_of_networks_with_tuple_outputs_trains_like_one_at_a_time(mnist_512):
    """FitNets' HintStudent returns (logits, [hints]): stacked, each copy's loss gets its own tuple."""
    from lecture_utils.fitnets import HintStudent, hint_distillation_loss

    x, y = mnist_512
    g = torch.Generator().manual_seed(0)
    teacher_logits, hint = torch.randn(len(y), 10, generator=g), torch.randn(len(y), 12, generator=g)
    loader = make_loader(x, teacher_logits, y, hint, batch_size=64, seed=0)
    loss_fn = functools.partial(hint_distillation_loss, temperature=4.0, alpha=0.9, beta=1.0)

    def build():
        return HintStudent(MLP(hidden=(16, 16)), [1], [16], [12])

    stack = SeedStack.from_builder(build, SEEDS)
    fit(stack, loader, stacked_loss(loss_fn), epochs=1, device="cpu", verbose=False)
    alone = _one_after_another(build, loader, loss_fn, epochs=1)
    for a, b in zip(stack.unstack(), alone):
        assert torch.allclose(a.student(x[:64]), b.student(x[:64]), atol=1e-5)
