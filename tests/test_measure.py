import math

import pytest
import torch
from torch import nn

from lecture_utils import measure
from lecture_utils.measure import (bits_per_weight, clustered_bits_per_weight, count_parameters, file_bytes,
                                   fixed_length_bits, multiply_accumulates, multiply_accumulates_each,
                                   state_dict_bytes)


def test_old_import_paths_give_the_one_implementation():
    import lecture_utils
    from lecture_utils import architecture, huffman, models, quantization

    assert lecture_utils.count_parameters is models.count_parameters is measure.count_parameters
    assert quantization.state_dict_bytes is measure.state_dict_bytes
    assert quantization.bits_per_weight is measure.bits_per_weight
    assert huffman.fixed_length_bits is measure.fixed_length_bits
    assert architecture.multiply_accumulates is measure.multiply_accumulates


def test_parameters_are_counted_not_bytes():
    layer = nn.Linear(3, 2)
    assert count_parameters(layer) == 3 * 2 + 2
    layer.bias.requires_grad_(False)
    assert count_parameters(layer, trainable_only=True) == 6


def test_bytes_follow_the_dtype():
    layer = nn.Linear(10, 10)
    assert state_dict_bytes(layer) == 110 * 4
    assert state_dict_bytes(layer, torch.float16) == state_dict_bytes(layer, torch.bfloat16) == 110 * 2


def test_file_bytes(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 123)
    assert file_bytes(path) == file_bytes(str(path)) == 123


def test_bits_per_weight_and_fixed_length_codes():
    assert bits_per_weight(100, 200) == 4.0
    assert math.isnan(bits_per_weight(1, 0))
    assert [fixed_length_bits(k) for k in (1, 2, 3, 4, 5, 16, 17, 256)] == [1, 1, 2, 2, 3, 4, 5, 8]


def test_clustered_layer_bits_are_the_index_plus_the_shared_codebook():
    assert clustered_bits_per_weight(1000, 4) == pytest.approx(2 + 32 * 4 / 1000)
    assert clustered_bits_per_weight(1000, 5) == pytest.approx(3 + 32 * 5 / 1000)  # 5 values need 3 bits


def test_multiply_accumulates_of_a_layer_and_of_each_path():
    assert multiply_accumulates(nn.Linear(784, 300), (1, 784)) == 784 * 300
    net = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2)).train()
    macs = multiply_accumulates_each(net, [net[0], net], (1, 4))
    assert macs == [32, 32 + 16]
    assert net.training  # the mode is restored


# ---- the homework's budget rule: parameters and buffers, batch norm's running statistics aside ------

class _WeightsInBuffers(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("w1", torch.zeros(784, 256))
        self.register_buffer("cache", torch.zeros(7), persistent=False)  # not saved, still carried


def test_count_budget_counts_buffers_like_parameters():
    from lecture_utils.measure import budget_exempt_names, count_budget

    model = _WeightsInBuffers()
    assert count_parameters(model) == 1
    assert count_budget(model) == 1 + 784 * 256 + 7
    assert budget_exempt_names(model) == []


def test_count_budget_leaves_out_batch_norm_running_statistics_only():
    from lecture_utils.measure import budget_exempt_names, count_budget

    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 10),
                          nn.BatchNorm1d(10, affine=False), nn.InstanceNorm1d(10, track_running_stats=True))
    # instance norm's statistics count, and so do those of a batch norm without a learned scale and shift
    assert count_budget(model) == count_parameters(model) + (2 * 10 + 1) + (2 * 10 + 1)
    assert budget_exempt_names(model) == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert set(budget_exempt_names(model)) <= set(model.state_dict())


def test_running_statistics_cannot_hold_a_classifier():
    """Without affine parameters, batch norm's running statistics are an elementwise scale and shift:
    over the image repeated 10 times they are a 784 -> 10 linear layer. They count."""
    from lecture_utils.measure import count_budget

    class LinearInStatistics(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.BatchNorm1d(7840, affine=False)
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return self.scale * self.norm(x.flatten(1).repeat(1, 10)).view(-1, 10, 784).sum(-1)

    model = LinearInStatistics()
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert count_budget(model) == 1 + 2 * 7840 + 1


def test_count_budget_counts_a_shared_tensor_once():
    from lecture_utils.measure import count_budget

    first, second = nn.Linear(4, 4, bias=False), nn.Linear(4, 4, bias=False)
    second.weight = first.weight  # tied weights
    assert count_budget(nn.Sequential(first, second)) == 16
