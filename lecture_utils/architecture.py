"""Architecture design (C21-C27): depthwise separable convolution and low-rank factorization.

Both split one layer into two with fewer parameters in all (C26):

* a k x k convolution from I to O channels (k*k*I*O parameters) becomes a *depthwise*
  convolution, one k x k filter per input channel (k*k*I), then a *pointwise* 1 x 1
  convolution across channels (I*O): a ratio of 1/O + 1/k^2;
* a linear layer from N to M (N*M parameters) becomes N -> K -> M with no activation
  between, K*(N+M) parameters, at the price of a weight matrix of rank at most K.

Counts come from real ``torch.nn`` modules; multiply-accumulates from PyTorch's own
``torch.utils.flop_counter.FlopCounterMode`` (one multiply-accumulate = 2 FLOPs).
"""
from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass

import torch
from torch import nn

from .measure import count_parameters, multiply_accumulates  # multiply_accumulates: imported from here too
from .training import evaluate


def _require_positive(**values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {name}={value!r}")


def depthwise_conv(in_channels: int, out_channels: int, kernel_size: int, **kwargs) -> nn.Conv2d:
    """A depthwise convolution: ``groups=in_channels``, each filter sees only its own channel.
    ``out_channels`` must be a multiple of ``in_channels`` (usually equal to it)."""
    _require_positive(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)
    if out_channels % in_channels:
        raise ValueError(f"a depthwise convolution gives each input channel its own filters, so out_channels "
                         f"({out_channels}) must be a multiple of in_channels ({in_channels})")
    return nn.Conv2d(in_channels, out_channels, kernel_size, groups=in_channels, **kwargs)


class DepthwiseSeparableConv2d(nn.Sequential):
    """Depthwise k x k convolution (one filter per input channel), then pointwise 1 x 1
    convolution (``out_channels`` filters across all channels). ``bias`` applies to both."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = False):
        _require_positive(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)
        super().__init__()
        self.depthwise = depthwise_conv(in_channels, in_channels, kernel_size, stride=stride, padding=padding, bias=bias)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)


@dataclass(frozen=True)
class ConvCounts:
    normal: int
    depthwise: int
    pointwise: int

    @property
    def separable(self) -> int:
        return self.depthwise + self.pointwise

    @property
    def ratio(self) -> float:
        return self.separable / self.normal


def separable_filters(depthwise: torch.Tensor, pointwise: torch.Tensor) -> torch.Tensor:
    """The filters of the normal convolution that depthwise filters ``D`` (I, k, k) followed by
    pointwise weights ``P`` (O, I) compute (C26): W[o, i] = P[o, i] D[i], shape (O, I, k, k)."""
    return pointwise[:, :, None, None] * depthwise[None]


def conv_parameter_counts(in_channels: int, out_channels: int, kernel_size: int) -> ConvCounts:
    """Parameters (no bias) of a normal k x k convolution and of its depthwise separable version,
    counted from real ``nn.Conv2d`` modules and checked against the lecture's formulas."""
    _require_positive(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size)
    k, i, o = kernel_size, in_channels, out_channels
    with torch.device("meta"):  # shapes only: counting needs no memory and no initialisation
        normal = count_parameters(nn.Conv2d(i, o, k, bias=False))
        separable = DepthwiseSeparableConv2d(i, o, k)
    counts = ConvCounts(normal, count_parameters(separable.depthwise), count_parameters(separable.pointwise))
    assert counts.normal == k * k * i * o and counts.depthwise == k * k * i and counts.pointwise == i * o
    return counts


def conv_costs(in_channels: int, out_channels: int, kernel_size: int, size: int = 32) -> dict:
    """A normal k x k convolution against its depthwise separable version (padding k // 2, so the
    output is as large as the input): parameters (``conv_parameter_counts``), their ratio beside
    the formula 1/O + 1/k^2, and multiply-accumulates on one ``size`` x ``size`` input, counted on
    the meta device (shapes only: the answer is immediate even for 512 channels)."""
    counts = conv_parameter_counts(in_channels, out_channels, kernel_size)
    i, o, k = in_channels, out_channels, kernel_size
    with torch.device("meta"):
        shape = (1, i, size, size)
        macs_normal = multiply_accumulates(nn.Conv2d(i, o, k, padding=k // 2, bias=False), shape)
        macs_separable = multiply_accumulates(DepthwiseSeparableConv2d(i, o, k, padding=k // 2), shape)
    return {"normal": counts.normal, "depthwise": counts.depthwise, "pointwise": counts.pointwise,
            "separable": counts.separable, "ratio": counts.ratio, "formula": 1 / o + 1 / (k * k),
            "size": size, "macs_normal": macs_normal, "macs_separable": macs_separable}


def low_rank_factorize(linear: nn.Linear, rank: int, svd=None) -> nn.Sequential:
    """Replace ``linear`` (N -> M) by N -> rank -> M with no activation between, from the truncated
    SVD W ~ U_K S_K V_K^T: the first layer gets sqrt(S_K) V_K^T, the second U_K sqrt(S_K) and the
    bias. This is the best rank-K approximation of W (Eckart-Young). ``svd``: the result of
    ``torch.linalg.svd(W.double(), full_matrices=False)`` if already computed (a slider reuses it)."""
    n, m = linear.in_features, linear.out_features
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or not 1 <= rank <= min(n, m):
        raise ValueError(f"rank must be a whole number from 1 to min(N, M) = {min(n, m)} for a {n} -> {m} layer, "
                         f"got rank={rank!r}")
    u, s, vh = svd if svd is not None else torch.linalg.svd(linear.weight.detach().double(), full_matrices=False)
    root = s[:rank].sqrt()
    first = nn.Linear(n, rank, bias=False)
    second = nn.Linear(rank, m, bias=linear.bias is not None)
    with torch.no_grad():
        first.weight.copy_((root[:, None] * vh[:rank]).float())
        second.weight.copy_((u[:, :rank] * root[None, :]).float())
        if linear.bias is not None:
            second.bias.copy_(linear.bias.detach())
    return nn.Sequential(first, second)


def evaluate_low_rank_layer(model: nn.Module, layer: str, rank: int, images, labels, svd=None) -> dict:
    """A copy of ``model`` whose linear layer ``layer`` (N -> M) is replaced by its rank-K
    factorization (``low_rank_model``; ``model`` itself is unchanged): its test accuracy and the
    parameters of the two factors, counted, beside the formula K*(N+M) + M and the full layer's N*M + M."""
    swapped = low_rank_model(model, {layer: rank}, svds={layer: svd})
    linear = model.get_submodule(layer)
    n, m = linear.in_features, linear.out_features
    return {"rank": rank, "accuracy": evaluate(swapped, images, labels).accuracy,
            "parameters": count_parameters(swapped.get_submodule(layer)), "formula": rank * (n + m) + m, "full": n * m + m}


def low_rank_model(model: nn.Module, ranks: dict, svds: dict | None = None) -> nn.Module:
    """A copy of ``model`` with each linear layer named in ``ranks`` (``{"1": 64, "3": 30}``) replaced
    by its rank-K factorization (``low_rank_factorize``); ``model`` itself is unchanged. A rank of
    ``None`` keeps that layer whole. ``svds``: a layer's SVD if already computed (a slider reuses it)."""
    swapped = copy.deepcopy(model)
    for layer, rank in ranks.items():
        linear = model.get_submodule(layer)
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"layer {layer!r} is a {type(linear).__name__}, not a linear layer; the linear layers are "
                             f"{[n for n, m in model.named_modules() if isinstance(m, nn.Linear)]}")
        if rank is not None:
            parent, _, child = layer.rpartition(".")
            setattr(swapped.get_submodule(parent), child, low_rank_factorize(linear, rank, svd=(svds or {}).get(layer)))
    return swapped


def low_rank_parameter_counts(n: int, m: int, rank: int) -> tuple[int, int]:
    """``(N*M, K*(N+M))``, counted from real ``nn.Linear`` modules (no biases) and checked."""
    _require_positive(N=n, M=m, rank=rank)
    full = count_parameters(nn.Linear(n, m, bias=False))
    split = count_parameters(nn.Sequential(nn.Linear(n, rank, bias=False), nn.Linear(rank, m, bias=False)))
    assert full == n * m and split == rank * (n + m)
    return full, split


def conv_net(separable: bool, channels=(16, 32, 32), num_classes: int = 10) -> nn.Sequential:
    """The small CNN of notebook 08: three 3 x 3 convolutions with batch normalisation and max
    pooling (28 -> 14 -> 7 -> 3), then one linear layer. With ``separable=True`` the second and third
    convolutions are depthwise separable (the first stays normal: with one input channel a
    depthwise filter has nothing to separate), widths and everything else unchanged."""
    c1, c2, c3 = channels

    def conv(i, o):
        return DepthwiseSeparableConv2d(i, o, 3, padding=1) if separable else nn.Conv2d(i, o, 3, padding=1, bias=False)

    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
        conv(c1, c2), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),                                 # 14 -> 7
        conv(c2, c3), nn.BatchNorm2d(c3), nn.ReLU(), nn.MaxPool2d(2),                                 # 7 -> 3
        nn.Flatten(), nn.Linear(c3 * 3 * 3, num_classes),
    )


def widest_separable_within(budget: int, first: int = 16, step: int = 8, widest: int = 512) -> tuple[int, int, int]:
    """The channels ``(first, w, w)`` of the widest depthwise separable ``conv_net`` (w a multiple of
    ``step``) whose parameters stay within ``budget``: what C27's "the same budget buys more width"
    means for notebook 08's CNN."""
    from .measure import count_parameters

    best = None
    for width in range(step, widest + 1, step):
        if count_parameters(conv_net(True, channels=(first, width, width))) > budget:
            break
        best = (first, width, width)
    if best is None:
        raise ValueError(f"no depthwise separable conv_net fits within {budget:,} parameters (the narrowest, "
                         f"{step} channels, has more)")
    return best
