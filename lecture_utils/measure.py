"""Measurements: how big a network is and how much it computes, all in one place.

* parameters: ``count_parameters`` = sum of p.numel(), numbers not bytes (C20);
* the homework's budget: ``count_budget``, every number the model carries (parameters and buffers)
  except batch norm's running statistics;
* bytes: ``state_dict_bytes`` (parameters stored as float32, float16 ...), ``file_bytes`` (a file on disk);
* bits: ``bits_per_weight`` = 8 * bytes / weights, ``fixed_length_bits`` = ceil(log2 k) for k symbols,
  ``clustered_bits_per_weight`` = (n * ceil(log2 k) + 32 k) / n for a layer clustered into k values;
* compute: ``multiply_accumulates`` of one forward pass, counted by PyTorch's ``FlopCounterMode``
  (2 FLOPs per multiply-accumulate); ``multiply_accumulates_each`` for several ways through one network.

The topic modules (quantization, clustering, architecture, dynamic, ...) import these; the
old import paths (``lecture_utils.models.count_parameters`` and so on) still work.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

FLOAT32_BITS = 32  # a codebook entry, a scale, an unquantized weight


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """The number of parameters (numbers, not bytes): sum of p.numel() over the model."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


BATCH_NORM_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def _batch_norm_statistics(model: nn.Module):
    """``(name, buffer)`` for each running statistic of each ``_BatchNorm`` module in ``model`` that
    learns a scale and a shift (``affine=True``): there the statistics never outnumber the counted
    parameters. Without them, running statistics could hold weights (a ``BatchNorm1d(7840,
    affine=False)`` over a repeated image is a 784 -> 10 linear layer), so they count."""
    for prefix, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            for name, buffer in module.named_buffers(recurse=False):
                if name in BATCH_NORM_STATISTICS:
                    yield (f"{prefix}.{name}" if prefix else name), buffer


def budget_exempt_names(model: nn.Module) -> list[str]:
    """The names (as in ``model.state_dict()``) of the buffers the budget leaves out: the running
    statistics of batch norm, ``running_mean``, ``running_var`` and ``num_batches_tracked`` of
    each ``_BatchNorm`` module with a learned scale and shift (``affine=True``)."""
    return [name for name, _ in _batch_norm_statistics(model)]


def count_budget(model: nn.Module) -> int:
    """The numbers a model carries, as the homework's budget counts them (C20: numbers, not bytes).

    The rule: every number in the model's parameters *and* its buffers (``register_buffer``,
    persistent or not) counts, each tensor once, except the running statistics of batch norm:
    ``running_mean``, ``running_var`` and ``num_batches_tracked`` of ``_BatchNorm`` modules that
    learn a scale and a shift (``budget_exempt_names``), which training measures rather than learns. Keeping weights in
    buffers instead of parameters does not take them off the budget."""
    exempt = {id(buffer) for _, buffer in _batch_norm_statistics(model)}
    tensors = {id(t): t for t in [*model.parameters(), *model.buffers()]}
    return sum(t.numel() for key, t in tensors.items() if key not in exempt)


def state_dict_bytes(model: nn.Module, dtype: torch.dtype = torch.float32) -> int:
    """Bytes of the model's parameters stored as ``dtype`` (float32, float16, bfloat16): counted
    from the tensors' storage after conversion."""
    return sum(p.detach().to(dtype).untyped_storage().nbytes() for p in model.parameters())


def file_bytes(path) -> int:
    """The size of a file on disk, in bytes."""
    return Path(path).stat().st_size


def bits_per_weight(num_bytes: int, num_weights: int) -> float:
    """8 * bytes / weights (NaN for no weights)."""
    return 8 * num_bytes / num_weights if num_weights else math.nan


def fixed_length_bits(num_symbols: int) -> int:
    """Bits per symbol of a fixed-length code for ``num_symbols`` symbols: ceil(log2(k)), at least 1."""
    return max(1, math.ceil(math.log2(num_symbols)))


def clustered_bits_per_weight(num_weights: int, num_clusters: int) -> float:
    """Bits per weight of a layer of n weights clustered into k values: a fixed-length index per
    weight plus the float32 codebook shared by the layer, (n * ceil(log2 k) + 32 k) / n."""
    return (num_weights * fixed_length_bits(num_clusters) + FLOAT32_BITS * num_clusters) / num_weights


def multiply_accumulates(model, input_shape, device=None) -> int:
    """Multiply-accumulates of one forward pass on a zero input of ``input_shape``, counted by
    ``FlopCounterMode`` (which counts 2 FLOPs per multiply-accumulate). ``model`` is a module or
    any function of the input (``lambda x: net.forward_to(x, 2)``). A module on the "meta"
    device is counted from shapes alone, without computing anything."""
    if device is None:
        parameter = next(model.parameters(), None) if isinstance(model, nn.Module) else None
        device = parameter.device if parameter is not None else "cpu"
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(*input_shape, device=device))
    return counter.get_total_flops() // 2


def multiply_accumulates_each(model: nn.Module, forwards, input_shape) -> list[int]:
    """``multiply_accumulates`` of each function in ``forwards`` (ways through ``model``: up to an
    exit, at a width), counted in eval mode on the model's device; the model's mode is restored."""
    was_training, device = model.training, next(model.parameters()).device
    model.eval()
    try:
        return [multiply_accumulates(forward, input_shape, device) for forward in forwards]
    finally:
        model.train(was_training)
