import pytest
import torch
from torch import nn

from lecture_utils import count_parameters
from lecture_utils.architecture import (DepthwiseSeparableConv2d, conv_net, conv_parameter_counts, depthwise_conv,
                                        low_rank_factorize, low_rank_parameter_counts, multiply_accumulates)
from lecture_utils.widgets import ConvCountSliders


def test_lecture_example_72_and_26():
    c = conv_parameter_counts(2, 4, 3)
    assert (c.normal, c.depthwise, c.pointwise, c.separable) == (72, 18, 8, 26)


@pytest.mark.parametrize("i,o,k", [(256, 256, 3), (256, 256, 2), (3, 7, 5), (1, 1, 1)])
def test_ratio_is_one_over_o_plus_one_over_k_squared(i, o, k):
    assert conv_parameter_counts(i, o, k).ratio == pytest.approx(1 / o + 1 / k**2)


def test_block_counts_and_shapes():
    block = DepthwiseSeparableConv2d(8, 16, 3, padding=1)
    assert block.depthwise.groups == 8 and block.pointwise.kernel_size == (1, 1)
    assert count_parameters(block) == 9 * 8 + 8 * 16
    assert block(torch.zeros(2, 8, 10, 10)).shape == (2, 16, 10, 10)


@pytest.mark.parametrize("args", [(0, 4, 3), (2, 0, 3), (2, 4, 0), (2.5, 4, 3), (-1, 4, 3)])
def test_bad_sizes(args):
    with pytest.raises(ValueError, match="must be a whole number >= 1"):
        conv_parameter_counts(*args)
    with pytest.raises(ValueError, match="must be a whole number >= 1"):
        DepthwiseSeparableConv2d(*args)


def test_depthwise_needs_a_multiple_of_the_input_channels():
    assert depthwise_conv(4, 8, 3).groups == 4
    with pytest.raises(ValueError, match="multiple of in_channels"):
        depthwise_conv(4, 6, 3)


def test_macs_counted_by_flop_counter():
    conv = nn.Conv2d(2, 4, 3, bias=False)
    assert multiply_accumulates(conv, (1, 2, 6, 6)) == 4 * 4 * 72  # 16 output positions x 72 MACs
    with torch.device("meta"):
        big = nn.Conv2d(256, 256, 3, padding=1, bias=False)
        assert multiply_accumulates(big, (1, 256, 32, 32)) == 32 * 32 * 9 * 256 * 256
    assert multiply_accumulates(conv_net(True), (1, 1, 28, 28)) < multiply_accumulates(conv_net(False), (1, 1, 28, 28)) / 2


def test_low_rank_counts_and_factorization():
    assert low_rank_parameter_counts(1000, 1000, 20) == (1_000_000, 40_000)
    assert low_rank_parameter_counts(1000, 1000, 50) == (1_000_000, 100_000)
    torch.manual_seed(0)
    linear = nn.Linear(30, 20)
    full = low_rank_factorize(linear, 20)
    x = torch.randn(5, 30)
    assert torch.allclose(full(x), linear(x), atol=1e-5)  # full rank: exact
    low = low_rank_factorize(linear, 3)
    product = low[1].weight @ low[0].weight
    assert torch.linalg.matrix_rank(product).item() <= 3
    s = torch.linalg.svdvals(linear.weight.detach())
    assert torch.isclose(torch.linalg.norm(linear.weight - product), s[3:].pow(2).sum().sqrt(), rtol=1e-4)  # Eckart-Young
    assert count_parameters(low) == 3 * (30 + 20) + 20


@pytest.mark.parametrize("rank", [0, 21, -1, 2.0])
def test_bad_rank(rank):
    with pytest.raises(ValueError, match=r"rank must be .* min\(N, M\) = 20"):
        low_rank_factorize(nn.Linear(30, 20), rank)


def test_conv_count_sliders_show_the_helper_values():
    w = ConvCountSliders(2, 4, 3)
    assert w.result["normal"] == 72 and w.result["separable"] == 26
    w.i.value, w.o.value = 256, 256
    c = conv_parameter_counts(256, 256, 3)
    assert w.result["normal"] == c.normal and w.result["ratio"] == pytest.approx(1 / 256 + 1 / 9)
    assert f"{c.separable:,}" in w.readout.value and f"{w.result['macs_normal']:,}" in w.readout.value


def test_rank_slider_shows_the_factorized_network():
    from lecture_utils import evaluate, load_mnist
    from lecture_utils.pretrained import load_teacher
    from lecture_utils.widgets import RankSlider

    model, _ = load_teacher("lenet_300_100", "lecture", train_if_missing=False)
    x, y = load_mnist(train=False)
    x, y = x[:2000], y[:2000]
    w = RankSlider(model, "1", x, y, rank=10)
    w.slider.value = 30
    net = torch.nn.Sequential(*[low_rank_factorize(m, 30) if i == 1 else m for i, m in enumerate(model)])
    assert w.result["accuracy"] == pytest.approx(evaluate(net, x, y).accuracy, abs=1e-9)
    assert w.result["parameters"] == 30 * (784 + 300) + 300 and w.slider.max == 300


def test_widest_separable_within_a_budget():
    from lecture_utils import count_parameters
    from lecture_utils.architecture import conv_net, widest_separable_within

    budget = count_parameters(conv_net(False))
    channels = widest_separable_within(budget)
    assert count_parameters(conv_net(True, channels=channels)) <= budget
    wider = (channels[0], channels[1] + 8, channels[2] + 8)
    assert count_parameters(conv_net(True, channels=wider)) > budget
    with pytest.raises(ValueError, match="no depthwise separable"):
        widest_separable_within(100)


def test_separable_filters_are_the_normal_convolution_a_separable_block_computes():
    from lecture_utils.architecture import separable_filters

    torch.manual_seed(0)
    block = DepthwiseSeparableConv2d(3, 5, 3, padding=1)
    depthwise, pointwise = block[0].weight[:, 0], block[1].weight[:, :, 0, 0]
    merged = torch.nn.functional.conv2d(x := torch.randn(2, 3, 6, 6), separable_filters(depthwise, pointwise), padding=1)
    assert separable_filters(depthwise, pointwise).shape == (5, 3, 3, 3)
    assert torch.allclose(merged, block(x), atol=1e-6)
