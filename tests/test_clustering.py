"""Clustering's starting centres (linear, k-means++), clustering made part of training (C17), and
the measurements notebook 06 prints: squared error, where the weights move, stored bytes."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lecture_utils import MLP, fit, make_loader
from lecture_utils.clustering import (ClusteredForward, cluster_in_training, cluster_model, cluster_weights,
                                      clustered_layers, clustered_model_bytes, clustering_error, error_by_magnitude,
                                      evaluate_clustered_layer, kmeans_plus_plus, kmeans_step, nearest_centre,
                                      settle_clusters)
from lecture_utils.huffman import huffman_code, huffman_encode
from lecture_utils.quantization import pack_bits


def long_tailed(n=20_000, seed=0):
    """Weight-like values: a dense middle and a few large ones (a Student-t with 3 degrees of freedom)."""
    g = torch.Generator().manual_seed(seed)
    normal = torch.randn(n, generator=g, dtype=torch.float64)
    chi2 = torch.randn(3, n, generator=g, dtype=torch.float64).pow(2).sum(0)
    return (0.05 * normal / (chi2 / 3).sqrt()).float()


def lloyd_sse(w, k, init, generator=None):
    codebook, indices = cluster_weights(w, k, init=init, generator=generator)
    return clustering_error(w, codebook, indices)


def test_kmeans_plus_plus_draws_distinct_values_repeatably():
    w = long_tailed(5000)
    a = kmeans_plus_plus(w, 8, torch.Generator().manual_seed(3))
    b = kmeans_plus_plus(w, 8, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and len(a) == 8
    assert torch.all(a[1:] > a[:-1])  # sorted, no centre drawn twice
    assert all(torch.isclose(w.double(), c).any() for c in a)  # every centre is one of the values
    assert not torch.equal(a, kmeans_plus_plus(w, 8, torch.Generator().manual_seed(4)))
    assert torch.equal(kmeans_plus_plus(w, 8), kmeans_plus_plus(w, 8, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="num_clusters"):
        kmeans_plus_plus(torch.tensor([1.0, 1.0, 2.0]), 3)


def test_kmeans_plus_plus_as_good_as_scikit_learns():
    from sklearn.cluster import KMeans

    w = long_tailed()
    x = w.double().reshape(-1, 1).numpy()
    for k in (4, 16, 32):
        ours = np.mean([lloyd_sse(w, k, "k-means++", torch.Generator().manual_seed(s)) for s in range(5)])
        theirs = np.mean([KMeans(k, init="k-means++", n_init=1, random_state=s).fit(x).inertia_ for s in range(5)])
        assert ours <= 1.05 * theirs, (k, ours, theirs)


def test_linear_start_keeps_the_tails_and_k_means_plus_plus_the_squared_error():
    """The issue's measurement on a long-tailed mixture: with many clusters the linear start leaves
    more squared error than k-means++, and moves the largest weights less."""
    w = long_tailed()
    linear = cluster_weights(w, 32)
    plus = cluster_weights(w, 32, init="k-means++", generator=torch.Generator().manual_seed(0))
    assert clustering_error(w, *linear) > 1.2 * clustering_error(w, *plus)
    assert error_by_magnitude(w, *linear)["largest"] < error_by_magnitude(w, *plus)["largest"]
    assert error_by_magnitude(w, *linear)["rest"] > error_by_magnitude(w, *plus)["rest"]
    assert linear[0].min() <= plus[0].min() and linear[0].max() >= plus[0].max()


def test_init_from_given_centres_and_bad_inits():
    w = long_tailed(3000)
    codebook, indices = cluster_weights(w, 6)
    again, again_indices = cluster_weights(w, 6, init=codebook.flip(0))  # converged centres, in any order
    assert torch.allclose(again, codebook) and torch.equal(again_indices, indices)
    for bad in ("random", None, torch.zeros(5), torch.tensor([0.0, 1.0, float("nan"), 2.0, 3.0, 4.0])):
        with pytest.raises(ValueError, match="init"):
            cluster_weights(w, 6, init=bad)


def test_cluster_model_passes_the_start_on():
    torch.manual_seed(0)
    net = MLP(hidden=(40,), in_features=30)
    a = cluster_model(copy.deepcopy(net), 8, init="k-means++", generator=torch.Generator().manual_seed(1))
    expected, _ = cluster_weights(net[1].weight, 8, init="k-means++", generator=torch.Generator().manual_seed(1))
    assert torch.allclose(next(clustered_layers(a))[1], expected)


def test_kmeans_step_is_one_step_of_the_exercise():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(500, generator=g)
    centres = torch.tensor([-1.0, -0.2, 0.3, 50.0])  # nothing is nearest to 50: it stays
    new, assigned = kmeans_step(w, centres)
    expected_assignment = (w[:, None] - centres[None, :]).abs().argmin(dim=1)
    assert torch.equal(assigned, expected_assignment)
    for j in range(3):
        assert torch.isclose(new[j], w[assigned == j].mean(), atol=1e-6)
    assert new[3] == 50.0 and torch.all(new[1:] >= new[:-1])
    assert torch.equal(nearest_centre(w, centres), expected_assignment)


def test_clustered_forward_uses_group_means_and_passes_the_gradient_straight_through():
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(20, 30))
    clustered = ClusteredForward(weight.detach(), 4)
    shared = clustered(weight)  # training mode: the centres move one k-means step first
    assert torch.unique(shared).numel() <= 4
    for value in torch.unique(shared):  # C19: every value used is the mean of the weights using it
        assert torch.isclose(value, weight.detach()[shared == value].mean(), atol=1e-6)
    x = torch.randn(7, 30)
    (x @ shared.T).pow(2).sum().backward()
    w_as_used = shared.detach().requires_grad_(True)
    (x @ w_as_used.T).pow(2).sum().backward()
    assert torch.allclose(weight.grad, w_as_used.grad)  # the gradient of the clustered weights, unchanged
    centres = clustered.centres.clone()
    clustered.eval()
    clustered(weight + 0.01)
    assert torch.equal(clustered.centres, centres)  # no k-means step outside training


def test_training_in_the_loop_then_settling():
    torch.manual_seed(0)
    net = MLP(hidden=(16,), in_features=12)
    x, y = torch.randn(256, 12), torch.randint(0, 10, (256,))
    cluster_in_training(net, 4)
    before = net[1].parametrizations.weight.original.detach().clone()
    fit(net, make_loader(x, y, batch_size=32), F.cross_entropy, epochs=3, lr=1e-2, verbose=False, device="cpu")
    assert not torch.equal(net[1].parametrizations.weight.original, before)  # the float weights learned
    assert list(clustered_layers(net)) == []  # not yet a codebook
    # what a training step would use now: one k-means step from the centres training ended with
    expected = {name: kmeans_step(getattr(net, name).parametrizations.weight.original,
                                  getattr(net, name).parametrizations.weight[0].centres) for name in ("1", "3")}
    settle_clusters(net)
    layers = list(clustered_layers(net))
    assert [name for name, _, _ in layers] == ["1", "3"]
    for name, codebook, indices in layers:
        weight = getattr(net, name).weight
        assert len(codebook) == 4 and torch.equal(weight, codebook[indices])
        assert torch.equal(codebook, expected[name][0]) and torch.equal(indices, expected[name][1])
        assert not getattr(net, name).parametrizations.weight.original.requires_grad
        for j in torch.unique(indices).tolist():  # C19: every value the mean of its weights
            original = getattr(net, name).parametrizations.weight.original
            assert torch.isclose(codebook[j], original[indices == j].mean(), atol=1e-6)


def test_clustered_model_bytes_counts_the_written_bytes():
    torch.manual_seed(0)
    net = cluster_model(MLP(hidden=(24,), in_features=40), 4)
    size = clustered_model_bytes(net)
    biases = 4 * (24 + 10)
    expected_fixed, expected_huffman = biases, biases
    for _, codebook, indices in clustered_layers(net):
        symbols = indices.flatten().tolist()
        code = huffman_code(symbols)
        expected_fixed += len(pack_bits(indices, 2)) + 16
        expected_huffman += len(huffman_encode(symbols, code)[0]) + 16 + sum(1 + math.ceil(len(c) / 8)
                                                                             for c in code.values())
    assert size == {"fixed": expected_fixed, "huffman": expected_huffman}
    assert size["fixed"] == biases + math.ceil(40 * 24 * 2 / 8) + math.ceil(24 * 10 * 2 / 8) + 2 * 16
    pruned = MLP(hidden=(24,), in_features=40)
    with torch.no_grad():
        pruned[1].weight[:, :5] = 0
    with pytest.raises(ValueError, match="pruned"):
        clustered_model_bytes(cluster_model(pruned, 4))


def test_error_measures():
    w = torch.tensor([0.0, 0.1, -0.1, 1.0])
    codebook, indices = torch.tensor([0.0, 0.9]), torch.tensor([0, 0, 0, 1])
    assert clustering_error(w, codebook, indices) == pytest.approx(0.01 + 0.01 + 0.01)
    split = error_by_magnitude(w, codebook, indices, largest=0.25)
    assert split["largest"] == pytest.approx(0.1) and split["rest"] == pytest.approx(0.2 / 3)
    with pytest.raises(ValueError, match="largest"):
        error_by_magnitude(w, codebook, indices, largest=1.5)


def test_evaluate_clustered_layer_reports_its_clustering():
    torch.manual_seed(0)
    net = MLP(hidden=(16,), in_features=12)
    x, y = torch.randn(64, 12), torch.randint(0, 10, (64,))
    result = evaluate_clustered_layer(net, "1", 4, x, y, init="k-means++", generator=torch.Generator().manual_seed(2))
    codebook, indices = cluster_weights(net[1].weight, 4, init="k-means++", generator=torch.Generator().manual_seed(2))
    assert torch.equal(result["codebook"], codebook) and torch.equal(result["indices"], indices)
    assert result["squared_error"] == pytest.approx(clustering_error(net[1].weight, codebook, indices))


def test_cluster_model_takes_a_number_of_clusters_per_layer():
    torch.manual_seed(0)
    model = cluster_model(MLP(hidden=(20,), in_features=16), {"1": 3, "3": 5})
    assert [len(codebook) for _, codebook, _ in clustered_layers(model)] == [3, 5]
    with pytest.raises(ValueError, match=r"exactly the layers \['1', '3'\], got \['1'\]"):
        cluster_model(MLP(hidden=(20,), in_features=16), {"1": 3})
