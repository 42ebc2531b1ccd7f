"""Property tests for quantization, clustering, Huffman coding, bit packing and binarization."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lecture_utils.binary import BinaryLinear, binarize, binary_mlp, clip_weights
from lecture_utils.clustering import cluster_model, cluster_weights, clustered_layers
from lecture_utils.huffman import (average_code_length, entropy_bits, fixed_length_bits, huffman_code, huffman_decode,
                                   huffman_encode, kraft_sum)
from lecture_utils.quantization import (pack_bits, quantization_params, quantize_codes, quantize_model,
                                        quantize_uniform, quantized_model_bytes, unpack_bits)
from lecture_utils import MLP, count_parameters

weights = st.lists(st.floats(-10, 10, allow_nan=False, width=32), min_size=2, max_size=200).map(torch.tensor)


@settings(max_examples=80, deadline=None)
@given(weights, st.integers(1, 16))
def test_quantization_error_is_at_most_half_a_step(w, bits):
    q = quantize_uniform(w, bits)
    scale, _ = quantization_params(w, bits)
    assert (q - w).abs().max() <= scale.item() / 2 + 1e-5 * max(1.0, w.abs().max().item())
    assert torch.unique(q).numel() <= 2**bits


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_matches_pytorch_fake_quantize(bits):
    w = torch.randn(50, 20)
    scale, zero_point = quantization_params(w, bits)
    ref = torch.fake_quantize_per_tensor_affine(w, scale.item(), int(zero_point.item()), 0, 2**bits - 1)
    assert torch.allclose(quantize_uniform(w, bits), ref, atol=1e-6)


def test_per_channel_matches_pytorch():
    w = torch.randn(8, 30) * torch.linspace(0.1, 5, 8)[:, None]
    scale, zero_point = quantization_params(w, 4, per_channel=True)
    ref = torch.fake_quantize_per_channel_affine(w, scale.float(), zero_point.int(), 0, 0, 15)
    assert torch.allclose(quantize_uniform(w, 4, per_channel=True), ref, atol=1e-5)
    # per channel never does worse than per tensor
    assert (quantize_uniform(w, 4, True) - w).abs().sum() < (quantize_uniform(w, 4) - w).abs().sum()


def test_zero_stays_zero_and_many_bits_are_nearly_exact():
    w = torch.tensor([-1.0, 0.0, 0.3, 2.0])
    assert quantize_uniform(w, 3)[1] == 0
    assert torch.allclose(quantize_uniform(w, 16), w, atol=1e-4)


@pytest.mark.parametrize("bad", [0, 33, -1, 2.5, "8", True, None])
def test_bad_bits(bad):
    with pytest.raises(ValueError, match="bits"):
        quantize_uniform(torch.randn(5), bad)


@pytest.mark.parametrize("bad,match", [(torch.tensor([]), "empty"), (torch.tensor([1.0, float("nan")]), "NaN"),
                                       (torch.tensor([float("inf"), 1.0]), "infinite")])
def test_bad_tensors(bad, match):
    with pytest.raises(ValueError, match=match):
        quantize_uniform(bad, 4)
    with pytest.raises(ValueError, match=match):
        cluster_weights(bad, 2)
    with pytest.raises(ValueError, match=match):
        binarize(bad)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 32), st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=100))
def test_pack_unpack_round_trip(bits, values):
    codes = torch.tensor([v % (2**bits) for v in values], dtype=torch.int64)
    data = pack_bits(codes, bits)
    assert len(data) == math.ceil(len(values) * bits / 8)
    assert torch.equal(unpack_bits(data, bits, len(values)), codes)


def test_pack_refuses_codes_too_large():
    with pytest.raises(ValueError, match="does not fit"):
        pack_bits(torch.tensor([4]), 2)


def test_quantized_model_is_measured_in_bytes():
    model = MLP(hidden=(30,))
    data = quantized_model_bytes(model, 4)
    weights = 784 * 30 + 30 * 10
    biases = 30 + 10
    assert len(data) == math.ceil(784 * 30 * 4 / 8) + math.ceil(300 * 4 / 8) + 2 * 2 * 4 + 4 * biases
    q = quantize_model(model, 4)
    assert count_parameters(q) == count_parameters(model) == weights + biases  # C20
    assert torch.unique(q[1].weight).numel() <= 16


@settings(max_examples=60, deadline=None)
@given(weights, st.integers(1, 12))
def test_clustering_properties(w, k):
    distinct = torch.unique(w).numel()
    if k > distinct:
        with pytest.raises(ValueError, match="num_clusters"):
            cluster_weights(w, k)
        return
    codebook, indices = cluster_weights(w, k)
    assert codebook.shape == (k,) and indices.shape == w.shape
    clustered = codebook[indices]
    assert torch.unique(clustered).numel() <= k
    for j in torch.unique(indices).tolist():  # each value is the mean of its members (C19)
        assert torch.isclose(codebook[j], w[indices == j].double().mean().float(), atol=1e-5, rtol=1e-5)
    # every weight sits with its nearest centre among those in use
    used = codebook[torch.unique(indices)]
    nearest = (w[:, None] - used[None, :]).abs().min(dim=1).values
    assert torch.all((w - clustered).abs() <= nearest + 1e-4)


@pytest.mark.parametrize("k", [0, -2, 2.0, 6])
def test_bad_num_clusters(k):
    with pytest.raises(ValueError, match="num_clusters"):
        cluster_weights(torch.tensor([1.0, 2.0, 3.0, 3.0, 4.0, 5.0]), k)  # 5 distinct values


def test_clustering_against_scikit_learn():
    from sklearn.cluster import KMeans

    g = torch.Generator().manual_seed(0)
    # well separated groups: both find the same centres
    w = torch.cat([torch.randn(200, generator=g) * 0.05 + c for c in (-4.2, -0.4, 0.4, 2.9)])
    codebook, _ = cluster_weights(w, 4)
    km = KMeans(4, n_init=5, random_state=0).fit(w.reshape(-1, 1).numpy())
    assert np.allclose(sorted(codebook.tolist()), sorted(km.cluster_centers_.ravel()), atol=1e-4)
    # a weight-like distribution, started from the same (linear) centres: the same Lloyd iterations
    w = torch.randn(5000, generator=g) * 0.05
    for k in (4, 16):  # (with many clusters, empty ones appear and are moved differently)
        codebook, indices = cluster_weights(w, k)
        init = torch.linspace(w.min().item(), w.max().item(), k).double().reshape(-1, 1).numpy()
        km = KMeans(k, init=init, n_init=1, max_iter=1000, tol=0).fit(w.double().reshape(-1, 1).numpy())
        assert np.allclose(sorted(codebook.tolist()), sorted(km.cluster_centers_.ravel()), atol=1e-5), k
        ours = ((w - codebook[indices]) ** 2).sum().item()
        # Linear initialisation keeps centres out in the tails (Deep Compression's choice, for the
        # rare large weights): a little more squared error than k-means++ with restarts.
        best = KMeans(k, n_init=5, random_state=0).fit(w.reshape(-1, 1).numpy()).inertia_
        assert ours <= 1.25 * best, (k, ours, best)


def test_cluster_model_trains_only_the_codebooks():
    torch.manual_seed(0)
    model = cluster_model(MLP(hidden=(8,), in_features=6), 4)
    layers = list(clustered_layers(model))
    assert len(layers) == 2
    for _, codebook, indices in layers:
        assert codebook.shape == (4,)
    x, y = torch.randn(16, 6), torch.randint(0, 10, (16,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    shared = model[1].parametrizations.weight[0]
    assert model[1].parametrizations.weight.original.grad is None
    # the codebook's gradient is the sum of the gradients of the weights sharing each entry
    w = model[1].weight.detach().requires_grad_(True)
    out = torch.nn.functional.linear(x, w, model[1].bias)
    torch.nn.functional.cross_entropy(model[3](model[2](out)), y).backward()
    summed = torch.zeros(4).index_add_(0, shared.indices.flatten(), w.grad.flatten())
    assert torch.allclose(shared.codebook.grad, summed, atol=1e-6)
    assert torch.unique(model[1].weight).numel() <= 4


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=300))
def test_huffman_properties(symbols):
    code = huffman_code(symbols)
    data, n = huffman_encode(symbols, code)
    assert huffman_decode(data, n, code) == symbols
    assert kraft_sum(code) <= 1 + 1e-12
    codes = list(code.values())
    assert not any(a != b and b.startswith(a) for a in codes for b in codes)  # prefix-free
    h, avg = entropy_bits(symbols), average_code_length(symbols, code)
    if len(code) > 1:
        assert h - 1e-9 <= avg < h + 1
        assert avg <= fixed_length_bits(len(code))


def test_huffman_example_and_errors():
    code = huffman_code("aaaabbc")
    assert len(code["a"]) == 1 and len(code["b"]) == len(code["c"]) == 2
    assert huffman_code([5, 5]) == {5: "0"}
    with pytest.raises(ValueError):
        huffman_code([])
    data, n = huffman_encode("abc", code)
    with pytest.raises(ValueError, match="middle of a code"):
        huffman_decode(data, n - 1, code)


def test_binarize():
    w = torch.tensor([-0.5, 0.0, 0.7, -2.0, 3.0])
    assert binarize(w).tolist() == [-1, 1, 1, -1, 1]
    g = torch.Generator().manual_seed(0)
    samples = torch.stack([binarize(torch.full((1000,), 0.5), stochastic=True, generator=g) for _ in range(5)])
    assert set(samples.unique().tolist()) == {-1.0, 1.0}
    assert abs((samples == 1).float().mean().item() - 0.75) < 0.03  # P(+1) = (0.5 + 1) / 2
    assert (binarize(torch.tensor([2.0, -2.0]), stochastic=True) == torch.tensor([1.0, -1.0])).all()


def test_binary_linear_straight_through_and_clip():
    torch.manual_seed(0)
    layer = BinaryLinear(4, 3)
    x = torch.randn(2, 4)
    assert torch.allclose(layer(x), x @ binarize(layer.weight.detach()).T)
    layer.eval()
    assert set(torch.unique(layer.binary_weight().detach()).tolist()) <= {-1.0, 1.0}
    layer.train()
    layer(x).sum().backward()
    assert torch.allclose(layer.weight.grad, torch.ones(2, 3).T @ x)  # the gradient passes straight through
    with torch.no_grad():
        layer.weight.mul_(5)
    clip_weights(torch.nn.Sequential(layer))
    assert layer.weight.abs().max() <= layer.H + 1e-7
    with pytest.raises(ValueError, match="mode"):
        binary_mlp(mode="ternary")


def test_stochastic_rounding_keeps_each_weight_on_average_and_is_seeded():
    from lecture_utils.quantization import quantization_levels, quantize_uniform

    w = torch.linspace(-1, 1, 101)
    draws = torch.stack([quantize_uniform(w, 3, generator=torch.Generator().manual_seed(i)) for i in range(400)])
    levels = quantization_levels(w, 3)
    assert all((levels - v).abs().min() < 1e-6 for v in draws.unique())  # only the 8 levels
    inside = (w >= levels.min()) & (w <= levels.max())  # the rounded zero point shifts the grid: 0.86 is its top
    assert inside.sum() > 80 and (draws.mean(0) - w)[inside].abs().max() < 0.05  # each weight kept on average
    assert (quantize_uniform(w, 3) - w).abs().max() > 0.1  # while rounding to nearest moves some by half a step
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(quantize_uniform(w, 3, generator=g1), quantize_uniform(w, 3, generator=g2))


def test_binarize_trained_keeps_signs_and_the_mean_magnitude():
    from lecture_utils import MLP
    from lecture_utils.binary import binarize_trained

    model = MLP(hidden=(8,))
    binary = binarize_trained(model)
    for (name, p), (_, q) in zip(model.named_parameters(), binary.named_parameters()):
        if name.endswith("weight"):
            assert torch.equal(torch.sign(q), torch.where(p >= 0, 1.0, -1.0))
            assert torch.allclose(q.abs(), p.abs().mean().expand_as(q))
        else:
            assert torch.equal(p, q)


def test_mixed_precision_quantizes_and_stores_each_layer_with_its_own_bits():
    from lecture_utils.quantization import bits_per_layer, weight_matrix_names

    torch.manual_seed(0)
    model = MLP(hidden=(20,), in_features=16)
    assert weight_matrix_names(model) == ["1", "3"]
    assert bits_per_layer(model, 4) == {"1": 4, "3": 4}
    mixed = quantize_model(model, {"1": 2, "3": 8})
    assert torch.unique(mixed[1].weight).numel() <= 4 and torch.unique(mixed[3].weight).numel() > 4
    same = quantize_model(model, {"1": 4, "3": 4})
    assert all(torch.equal(a, b) for a, b in zip(same.parameters(), quantize_model(model, 4).parameters()))
    # 20 x 16 weights at 2 bits, 10 x 20 at 8 bits, a float32 scale and zero point each, 30 float32 biases
    assert len(quantized_model_bytes(model, {"1": 2, "3": 8})) == 320 * 2 // 8 + 8 + 200 + 8 + 30 * 4
    with pytest.raises(ValueError, match=r"give bits for exactly the layers \['1', '3'\], got \['1', '5'\]"):
        quantize_model(model, {"1": 2, "5": 8})
    with pytest.raises(ValueError, match="bits must be a whole number from 1 to 32, got bits=0"):
        quantized_model_bytes(model, {"1": 0, "3": 8})
