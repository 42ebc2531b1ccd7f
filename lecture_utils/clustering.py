"""Weight clustering (C14, C17, C19): k-means on the values of a layer's weights.

Every weight is replaced by the mean of its cluster (C19), so the layer is stored as a
small *codebook* (the k cluster values, float32) and, per weight, the index of its
cluster: log2(k) bits each (2 bits for the lecture's 4 clusters).

Where k-means starts: evenly spaced (Deep Compression's linear initialisation, the default)
or k-means++ (``kmeans_plus_plus``). When it is done (C17): after training (``cluster_model``,
then optionally fine-tuning the shared values), or as part of training (``cluster_in_training``:
the forward pass uses the clustered weights, the gradient goes straight through to the float
ones; ``settle_clusters`` ends it).
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from .huffman import huffman_code, huffman_encode
from .measure import clustered_bits_per_weight, fixed_length_bits
from .quantization import pack_bits, require_weights
from .training import evaluate


def require_num_clusters(num_clusters, distinct: int) -> int:
    """``num_clusters`` if it is a whole number from 1 to ``distinct`` (the number of distinct weights)."""
    if isinstance(num_clusters, bool) or not isinstance(num_clusters, int) or not 1 <= num_clusters <= distinct:
        raise ValueError(f"num_clusters must be a whole number from 1 to the number of distinct weights "
                         f"({distinct}), got num_clusters={num_clusters!r}")
    return num_clusters


INITS = ("linear", "k-means++")


def kmeans_plus_plus(values: torch.Tensor, num_clusters: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``num_clusters`` starting centres drawn from ``values`` by k-means++ (Arthur & Vassilvitskii,
    2007), sorted: the first centre is a value drawn uniformly; each next one is drawn with
    probability proportional to its squared distance to the nearest centre so far, so the centres
    spread over where the values are dense, without piling up. Greedy, as scikit-learn does by
    default: each step draws ``2 + int(log k)`` candidates and keeps the one that leaves the least
    squared distance. ``generator`` makes it repeatable (seed 0 without one)."""
    values = require_weights(values).detach().reshape(-1).double()
    num_clusters = require_num_clusters(num_clusters, torch.unique(values).numel())
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    trials = 2 + int(math.log(num_clusters))
    first = values[torch.randint(len(values), (1,), generator=generator)]
    centres = [first.item()]
    closest = (values - first) ** 2  # each value's squared distance to its nearest centre so far
    for _ in range(1, num_clusters):
        candidates = values[torch.multinomial(closest.float() / closest.sum().float(), trials, replacement=True,
                                              generator=generator)]
        with_each = torch.minimum(closest[None, :], (values[None, :] - candidates[:, None]) ** 2)
        best = int(with_each.sum(dim=1).argmin())
        centres.append(candidates[best].item())
        closest = with_each[best]
    return torch.tensor(sorted(centres), dtype=torch.double)


def _starting_centres(ordered: torch.Tensor, num_clusters: int, init, generator) -> torch.Tensor:
    """The centres k-means starts from (``cluster_weights``'s ``init``), sorted, in float64."""
    if isinstance(init, torch.Tensor):
        if init.shape != (num_clusters,) or not torch.isfinite(init).all():
            raise ValueError(f"init as a tensor must hold num_clusters={num_clusters} finite starting centres, "
                             f"got shape {tuple(init.shape)}")
        return init.detach().double().cpu().sort().values
    if init == "linear":
        return torch.linspace(ordered[0].item(), ordered[-1].item(), num_clusters, dtype=torch.double)
    if init == "k-means++":
        return kmeans_plus_plus(ordered, num_clusters, generator)
    raise ValueError(f"init must be one of {INITS} or a tensor of starting centres, got {init!r}")


def nearest_centre(values: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """The index of each value's nearest centre (``centres`` sorted; a value exactly half-way
    goes to the lower one, as in ``cluster_weights``)."""
    return torch.bucketize(values, (centres[1:] + centres[:-1]) / 2)


def clustering_error(tensor: torch.Tensor, codebook: torch.Tensor, indices: torch.Tensor) -> float:
    """The squared error of clustering: the sum over the weights of (w - codebook[index])^2,
    what k-means makes small."""
    return float(((tensor.detach().double() - codebook.double()[indices]) ** 2).sum())


def error_by_magnitude(tensor: torch.Tensor, codebook: torch.Tensor, indices: torch.Tensor,
                       largest: float = 0.01) -> dict:
    """Where clustering moves the weights: the mean absolute change |w - codebook[index]| of the
    fraction ``largest`` of the weights that are largest in magnitude (``"largest"``) and of all
    the others (``"rest"``). Linear initialisation keeps the first small, k-means++ the second."""
    if not 0 < largest < 1:
        raise ValueError(f"largest must be a fraction between 0 and 1, got {largest!r}")
    flat = tensor.detach().reshape(-1).double()
    change = (flat - codebook.double()[indices.reshape(-1)]).abs()
    count = max(1, round(largest * len(flat)))
    top = flat.abs().topk(count).indices
    is_top = torch.zeros(len(flat), dtype=torch.bool)
    is_top[top] = True
    rest = change[~is_top]
    return {"largest": float(change[is_top].mean()), "rest": float(rest.mean()) if len(rest) else 0.0}


def cluster_weights(tensor: torch.Tensor, num_clusters: int, iterations: int = 100, init="linear",
                    generator: torch.Generator | None = None):
    """1-D k-means on the values of ``tensor``. Returns ``(codebook, indices)``: ``codebook[indices]``
    is the clustered tensor, each value the mean of the weights assigned to it (C19).

    ``init`` says where the centres start: ``"linear"`` (the default), evenly spaced between the
    smallest and largest weight (Deep Compression's linear initialisation, which keeps centres
    out among the rare large weights); ``"k-means++"``, drawn by ``kmeans_plus_plus`` with
    ``generator`` (seed 0 without one), which spends the centres where the weights are dense and
    so leaves less squared error; or a tensor of ``num_clusters`` starting centres (to go on
    from centres found before). A centre left with no weights
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

    centres = _starting_centres(ordered, num_clusters, init, generator)
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
    indices = nearest_centre(values, centres)
    codebook, _ = cluster_means(centres)
    return codebook.to(tensor.dtype), indices.reshape(tensor.shape)


def evaluate_clustered_layer(model: nn.Module, layer: str, num_clusters: int, images, labels, init="linear",
                             generator: torch.Generator | None = None) -> dict:
    """A copy of ``model`` with only layer ``layer``'s weights clustered into ``num_clusters`` values
    (the rest unchanged; ``model`` itself is unchanged): its test accuracy, the layer's bits per
    weight (an index of ceil(log2 k) bits each plus the float32 codebook), the ``codebook``, the
    ``indices`` and the ``squared_error`` (``clustering_error``). ``init`` and ``generator``:
    where k-means starts, as in ``cluster_weights``."""
    weights = model.get_parameter(f"{layer}.weight").detach()
    codebook, indices = cluster_weights(weights, num_clusters, init=init, generator=generator)
    clustered = copy.deepcopy(model)
    with torch.no_grad():
        clustered.get_parameter(f"{layer}.weight").copy_(codebook[indices])
    return {"num_clusters": num_clusters, "accuracy": evaluate(clustered, images, labels).accuracy,
            "bits_per_weight": clustered_bits_per_weight(weights.numel(), num_clusters), "codebook": codebook,
            "indices": indices, "squared_error": clustering_error(weights, codebook, indices)}


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


def cluster_model(model: nn.Module, num_clusters, init="linear", generator: torch.Generator | None = None
                  ) -> nn.Module:
    """Cluster every weight matrix of ``model`` in place, each layer with its own codebook of
    ``num_clusters`` values (or ``num_clusters[name]`` for the layer of that name: a dict naming every
    layer) that can then be fine-tuned with ``fit`` (only the codebooks and biases train: the indices
    are fixed). ``init`` and ``generator``: where k-means starts, as in ``cluster_weights``.

    A pruned layer (one with weights exactly zero) keeps its zeros: only the weights that are
    left are clustered, and the zeros stay zero through fine-tuning (Deep Compression's order:
    prune, then cluster what is left).
    """
    layers = {name: module for name, module in model.named_modules() if isinstance(module, (nn.Linear, nn.Conv2d))}
    if isinstance(num_clusters, dict) and set(num_clusters) != set(layers):
        raise ValueError(f"give a number of clusters for exactly the layers {list(layers)}, "
                         f"got {sorted(num_clusters, key=repr)}")
    for name, module in layers.items():
        k = num_clusters[name] if isinstance(num_clusters, dict) else num_clusters
        weight = module.weight.detach()
        mask = weight != 0
        if bool(mask.all()):
            codebook, indices = cluster_weights(weight, k, init=init, generator=generator)
            shared = SharedWeights(codebook, indices)
        else:
            codebook, kept = cluster_weights(weight[mask], k, init=init, generator=generator)
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
        if parametrize.is_parametrized(module, "weight") and \
                isinstance(module.parametrizations.weight[0], SharedWeights):
            shared = module.parametrizations.weight[0]
            yield name, shared.codebook.detach(), shared.indices


def kmeans_step(values: torch.Tensor, centres: torch.Tensor):
    """One k-means step: give each value to its nearest centre (``centres`` sorted), then move
    each centre to the mean of its values (one with none stays where it is). Returns
    ``(new_centres, assigned)``: ``new_centres[assigned]`` puts every value at the mean of its
    group (C19). The new centres are still sorted: in one dimension each group is the values
    between two midpoints, and its mean (or an empty group's old centre) lies between them too."""
    flat = values.detach().reshape(-1)
    assigned = nearest_centre(flat, centres.detach())
    counts = torch.bincount(assigned, minlength=len(centres))
    sums = torch.bincount(assigned, weights=flat.double(), minlength=len(centres))
    new = torch.where(counts > 0, sums / counts.clamp_min(1), centres.detach().double()).to(centres.dtype)
    return new, assigned.reshape(values.shape)


class ClusteredForward(nn.Module):
    """Quantization made part of training (C17), as a parametrization of a layer's weight.

    The forward pass uses each weight's nearest centre, so the network that computes the loss
    has only ``len(centres)`` distinct weights per layer; the backward pass hands the gradient
    straight through to the float weight underneath (the straight-through estimator, as
    BinaryConnect does for signs), which keeps learning: a weight that the loss pushes far
    enough crosses into the next cluster. In training mode every forward pass first moves the
    centres one k-means step (``kmeans_step``: each to the mean of the weights nearest to it,
    C19), so the centres follow the weights. ``settle_clusters`` ends it: the layers become
    ``cluster_model``'s codebook and indices. For unpruned layers (it keeps no zeros).
    """

    def __init__(self, weight: torch.Tensor, num_clusters: int, init="linear",
                 generator: torch.Generator | None = None):
        super().__init__()
        codebook, _ = cluster_weights(weight, num_clusters, init=init, generator=generator)
        self.register_buffer("centres", codebook.detach().clone())

    def forward(self, weight):
        values = weight.detach()
        if self.training:
            with torch.no_grad():
                centres, assigned = kmeans_step(values, self.centres)
                self.centres.copy_(centres)
        else:
            assigned = nearest_centre(values, self.centres)
        shared = self.centres[assigned]
        return shared + (weight - values)  # the value is exactly shared's; the gradient goes to weight


def cluster_in_training(model: nn.Module, num_clusters: int, init="linear",
                        generator: torch.Generator | None = None) -> nn.Module:
    """Make clustering part of training (C17): every weight matrix of ``model`` (in place) gets a
    ``ClusteredForward``, starting from its own k-means centres. Train it with ``fit`` as usual
    (the float weights and biases learn; the centres follow by k-means steps), then call
    ``settle_clusters``."""
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            forward = ClusteredForward(module.weight.detach(), num_clusters, init=init, generator=generator)
            parametrize.register_parametrization(module, "weight", forward)
    return model


def settle_clusters(model: nn.Module) -> nn.Module:
    """End training with clustering in the loop (``cluster_in_training``), in place: each layer
    becomes a codebook and indices as ``cluster_model`` makes them (what is stored), the clustered
    weights that a training step would use now: the float weights given to the centres training
    ended with, each centre moved to the mean of its weights (one ``kmeans_step``, C19). Not
    k-means run on to convergence: that could move the centres away from those trained with."""
    for module in model.modules():
        if parametrize.is_parametrized(module, "weight") and \
                isinstance(module.parametrizations.weight[0], ClusteredForward):
            centres = module.parametrizations.weight[0].centres.detach().clone()
            weight = module.parametrizations.weight.original.detach().clone()
            parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
            codebook, indices = kmeans_step(weight, centres)
            module.weight.requires_grad_(False)
            parametrize.register_parametrization(module, "weight", SharedWeights(codebook, indices), unsafe=True)
    return model


def clustered_model_bytes(model: nn.Module) -> dict:
    """The stored size of a model clustered by ``cluster_model`` (or ``settle_clusters``), counted
    from the bytes written: each clustered weight matrix as its indices, packed with a fixed
    length of ceil(log2 k) bits (``"fixed"``) or Huffman-coded with the code table itself
    (``"huffman"``: one byte per entry for the symbol and its code in whole bytes), plus its
    float32 codebook of k values; everything else (biases) in float32. For unpruned layers."""
    fixed = huffman = 0
    clustered = set()
    for name, codebook, indices in clustered_layers(model):
        k = len(codebook)
        if model.get_submodule(name).parametrizations.weight[0].mask is not None:
            raise ValueError(f"layer {name!r} is pruned: its file must also say which weights are kept "
                             "(deep_compression.save_compressed writes that format)")
        symbols = indices.flatten()
        fixed += len(pack_bits(symbols, fixed_length_bits(k))) + 4 * k
        code = huffman_code(symbols.tolist())
        huffman += len(huffman_encode(symbols.tolist(), code)[0]) + 4 * k
        huffman += sum(1 + math.ceil(len(c) / 8) for c in code.values())
        clustered.add(f"{name}.parametrizations.weight.original")
    rest = sum(4 * p.numel() for n, p in model.named_parameters()
               if n not in clustered and not n.endswith("parametrizations.weight.0.codebook"))
    return {"fixed": fixed + rest, "huffman": huffman + rest}
