"""Weight clustering (C14, C17, C19): k-means on the values of a layer's weights.

Every weight is replaced by the mean of its cluster (C19), so the layer is stored as a
small *codebook* (the k cluster values, float32) and, per weight, the index of its
cluster: log2(k) bits each (2 bits for the lecture's 4 clusters).
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import parametrize

from .measure import clustered_bits_per_weight
from .quantization import require_weights
from .training import evaluate


def require_num_clusters(num_clusters, distinct: int) -> int:
    """``num_clusters`` if it is a whole number from 1 to ``distinct`` (the number of distinct weights)."""
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, int) or not 1 <= num_clusters <= distinct:
        raise ValueError(f"num_clusters must be a whole number from 1 to the number of distinct weights "
                         f"({distinct}), got num_clusters={num_clusters!r}")
    return num_clusters


def cluster_weights(tensor: torch.Tensor, num_clusters: int, iterations: int = 100):
    """1-D k-means on the values of ``tensor``. Returns ``(codebook, indices)``: ``codebook[indices]``
    is the clustered tensor, each value the mean of the weights assigned to it (C19).

    Centres start evenly spaced between the smallest and largest weight (Deep Compression's
    linear initialisation, which keeps the rare large weights); a centre left with no weights
    moves to the weight farthest from its centre. In one dimension a cluster is
    a run of the sorted values between two midpoints of neighbouring centres, so after one
    sort each k-means step costs only k binary searches and a difference of cumulative sums.
    """
    values = require_weights(tensor).detach().reshape(-1).double()
    ordered, _ = values.sort()
    num_clusters = require_num_clusters(num_clusters, 1 + int((ordered[1:] != ordered[:-1]).sum()))
    prefix = torch.cat([torch.zeros(1, dtype=torch.double), ordered.cumsum(0)])

    def clusters(centres):
        """Start and end (in ``ordered``) of each centre's cluster: a value goes to its nearest
        centre, so the boundaries are the midpoints between neighbouring centres (a value exactly
        on one goes to the lower cluster, as torch.bucketize does below)."""
        cuts = torch.searchsorted(ordered, (centres[1:] + centres[:-1]) / 2, right=True)
        edges = torch.cat([torch.zeros(1, dtype=torch.long), cuts, torch.tensor([len(ordered)])])
        return edges[:-1], edges[1:]

    def cluster_means(centres):
        start, end = clusters(centres)
        counts = end - start
        return torch.where(counts > 0, (prefix[end] - prefix[start]) / counts.clamp_min(1), centres), counts

    centres = torch.linspace(ordered[0].item(), ordered[-1].item(), num_clusters, dtype=torch.double)
    for _ in range(iterations):
        new, counts = cluster_means(centres)
        if (counts == 0).any():
            # An empty cluster moves to the value farthest from its own centre (as scikit-learn does);
            # in one dimension that value is an end of some cluster's run of sorted values.
            start, end = clusters(new)
            ends = torch.stack([ordered[start.clamp(max=len(ordered) - 1)], ordered[(end - 1).clamp(min=0)]], 1)
            distance = torch.where((counts > 0)[:, None], (ends - new[:, None]).abs(), -1.0)
            farthest = distance.flatten().argmax()
            new[torch.nonzero(counts == 0)[0, 0]] = ends.flatten()[farthest]
            new = new.sort().values
        if torch.equal(new, centres):
            break
        centres = new
    # Assign with the last centres' boundaries; the codebook is the mean of each cluster so formed.
    indices = torch.bucketize(values, (centres[1:] + centres[:-1]) / 2)
    codebook, _ = cluster_means(centres)
    return codebook.to(tensor.dtype), indices.reshape(tensor.shape)


def evaluate_clustered_layer(model: nn.Module, layer: str, num_clusters: int, images, labels) -> dict:
    """A copy of ``model`` with only layer ``layer``'s weights clustered into ``num_clusters`` values
    (the rest unchanged; ``model`` itself is unchanged): its test accuracy, the layer's bits per
    weight (an index of ceil(log2 k) bits each plus the float32 codebook) and the codebook."""
    weights = model.get_parameter(f"{layer}.weight").detach()
    codebook, indices = cluster_weights(weights, num_clusters)
    clustered = copy.deepcopy(model)
    with torch.no_grad():
        clustered.get_parameter(f"{layer}.weight").copy_(codebook[indices])
    return {"num_clusters": num_clusters, "accuracy": evaluate(clustered, images, labels).accuracy,
            "bits_per_weight": clustered_bits_per_weight(weights.numel(), num_clusters), "codebook": codebook}


class SharedWeights(nn.Module):
    """A parametrization: the weight is ``codebook[indices]``, with the codebook trainable.

    The gradient of each codebook entry is the sum of the gradients of the weights that share
    it (Deep Compression's centroid fine-tuning): indexing does that sum in backward.
    With a ``mask`` (a pruned layer), weights where the mask is False stay exactly zero.
    """

    def __init__(self, codebook: torch.Tensor, indices: torch.Tensor, mask: torch.Tensor | None = None):
        super().__init__()
        self.codebook = nn.Parameter(codebook.detach().clone())
        self.register_buffer("indices", indices.detach().clone())
        self.register_buffer("mask", None if mask is None else mask.detach().clone())

    def forward(self, weight):  # the original weight is ignored: only the codebook is learned
        shared = self.codebook[self.indices]
        return shared if self.mask is None else shared * self.mask


def cluster_model(model: nn.Module, num_clusters: int) -> nn.Module:
    """Cluster every weight matrix of ``model`` in place, each layer with its own codebook of
    ``num_clusters`` values that can then be fine-tuned with ``fit`` (only the codebooks and biases
    train: the indices are fixed).

    A pruned layer (one with weights exactly zero) keeps its zeros: only the weights that are
    left are clustered, and the zeros stay zero through fine-tuning (Deep Compression's order:
    prune, then cluster what is left).
    """
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            weight = module.weight.detach()
            mask = weight != 0
            if bool(mask.all()):
                codebook, indices = cluster_weights(weight, num_clusters)
                shared = SharedWeights(codebook, indices)
            else:
                codebook, kept = cluster_weights(weight[mask], num_clusters)
                indices = torch.zeros_like(weight, dtype=torch.long)
                indices[mask] = kept
                shared = SharedWeights(codebook, indices, mask)
            module.weight.requires_grad_(False)
            parametrize.register_parametrization(module, "weight", shared, unsafe=True)
    return model


def clustered_layers(model: nn.Module):
    """``(name, codebook, indices)`` of every clustered layer (in a pruned layer the indices of
    the pruned weights are 0 and mean nothing: the layer's ``mask`` says which weights are kept)."""
    for name, module in model.named_modules():
        if parametrize.is_parametrized(module, "weight"):
            shared = module.parametrizations.weight[0]
            yield name, shared.codebook.detach(), shared.indices
