"""Binary weights (C16): BinaryConnect (Courbariaux, Bengio & David 2015).

Real-valued weights are kept and updated; the forward and backward passes use their
sign (+1 or -1), deterministic or stochastic. The gradient passes "straight through"
the sign to the real weights, which are clipped to [-H, H] after every step (H: Glorot's
bound for the layer; the paper's [-1, 1] with weights scaled by H).
"""
from __future__ import annotations

import torch
from torch import nn

from .quantization import pack_bits, require_weights, with_weight_matrices


def binarize(tensor: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Deterministic: +1 where w >= 0, else -1.
    Stochastic: +1 with probability hard_sigmoid(w) = clip((w + 1) / 2, 0, 1), else -1."""
    require_weights(tensor)
    if not stochastic:
        return torch.where(tensor >= 0, 1.0, -1.0).to(tensor.dtype)
    p = ((tensor + 1) / 2).clamp(0, 1)
    u = torch.rand(tensor.shape, generator=generator, device="cpu").to(tensor.device)
    return torch.where(u < p, 1.0, -1.0).to(tensor.dtype)


class BinaryLinear(nn.Linear):
    """A linear layer whose forward pass uses binarized weights, with the straight-through
    estimator: w_b = w + (binarize(w) - w).detach() has the value of binarize(w) and the
    gradient of w."""

    def __init__(self, in_features: int, out_features: int, stochastic: bool = False):
        super().__init__(in_features, out_features, bias=False)  # batch norm after it supplies the shift
        self.stochastic = stochastic
        # BinaryConnect's range for the real weights: Glorot's bound H; weights start uniform in
        # [-H, H], are clipped to it, and the stochastic sign uses P(+1) = hard_sigmoid(w / H).
        self.H = (6 / (in_features + out_features)) ** 0.5
        nn.init.uniform_(self.weight, -self.H, self.H)

    def binary_weight(self) -> torch.Tensor:
        w = self.weight.detach() / self.H
        w_b = binarize(w, self.stochastic) if self.training else binarize(w)  # at test time: the sign
        return self.weight + (w_b - self.weight).detach()

    def forward(self, x):
        return nn.functional.linear(x, self.binary_weight())


def clip_weights(model: nn.Module) -> None:
    """BinaryConnect's clip: keep the real-valued weights of binary layers in [-H, H]."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, BinaryLinear):
                m.weight.clamp_(-m.H, m.H)


def binary_mlp(hidden=(256, 256), mode: str = "float", in_features: int = 784, num_classes: int = 10) -> nn.Sequential:
    """The MLP of notebook 07 with batch normalisation, in three modes: ``float`` (ordinary
    weights), ``deterministic`` or ``stochastic`` (BinaryConnect)."""
    if mode not in ("float", "deterministic", "stochastic"):
        raise ValueError(f"mode must be 'float', 'deterministic' or 'stochastic', got {mode!r}")

    def linear(i, o):
        return nn.Linear(i, o, bias=False) if mode == "float" else BinaryLinear(i, o, stochastic=mode == "stochastic")

    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
        width = h
    layers += [linear(width, num_classes), nn.BatchNorm1d(num_classes)]
    return nn.Sequential(*layers)


def train_binary_mlp(hidden, mode: str, images: torch.Tensor, labels: torch.Tensor, epochs: int, seed: int = 0,
                     data_seed: int = 0, **fit_kwargs):
    """Notebook 07's recipe, in one place: ``binary_mlp(hidden, mode)`` built after ``torch.manual_seed(seed)``,
    trained with ``fit`` on (``images``, ``labels``) in the order of ``data_seed``, Adam at 3e-3, the
    real-valued weights of binary layers clipped after every step (BinaryConnect). ``fit_kwargs``: more
    for ``fit`` (``on_epoch_end``, ``name``). Returns the network and ``fit``'s history."""
    from .data import make_loader
    from .training import fit

    torch.manual_seed(seed)
    model = binary_mlp(hidden=hidden, mode=mode)
    history = fit(model, make_loader(images, labels, seed=data_seed), nn.functional.cross_entropy, epochs=epochs,
                  lr=3e-3, after_step=None if mode == "float" else clip_weights, **{"verbose": False, **fit_kwargs})
    return model, history


def weight_bytes(model: nn.Module) -> int:
    """The bytes of ``model``'s weight matrices as stored: 4 per weight (float32) in an ordinary linear
    layer; in a binary one only the signs, really packed, one bit per weight."""
    total = 0
    for module in model.modules():
        if isinstance(module, BinaryLinear):
            total += len(pack_bits((module.weight.detach() >= 0).long().reshape(-1), 1))
        elif isinstance(module, nn.Linear):
            total += 4 * module.weight.numel()
    return total


def binarize_trained(model: nn.Module) -> nn.Module:
    """A copy of a network trained in float whose weight matrices are replaced, after training, by
    their sign times the layer's mean absolute weight (one bit per weight plus one scale per layer):
    the sign-based 1 bit of BinaryConnect, applied without training for it (notebook 05 sets it
    beside uniform 1-bit quantization)."""
    return with_weight_matrices(model, lambda w, layer: binarize(w) * w.abs().mean())
