"""Parameter quantization (C13): store each weight in fewer bits.

Uniform (affine) quantization to b bits, the scheme of ``torch.fake_quantize_per_tensor_affine``:

    scale = (max - min) / (2^b - 1)        zero_point = round(-min / scale)
    code  = clamp(round(w / scale) + zero_point, 0, 2^b - 1)      (an integer of b bits)
    w'    = (code - zero_point) * scale                           (what the network uses)

so every weight moves by at most half a step (scale / 2), and 0 stays exactly 0.
Storage is measured, not estimated: the codes are packed into bytes and counted.
"""
from __future__ import annotations

import copy
import io
import numbers

import numpy as np
import torch
from torch import nn

from .measure import bits_per_weight, state_dict_bytes  # noqa: F401  (their home is measure; imported from here too)
from .training import evaluate


def require_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 1 <= bits <= 32:
        raise ValueError(f"bits must be a whole number from 1 to 32, got bits={bits!r}")
    return int(bits)


def require_weights(tensor: torch.Tensor, what: str = "tensor") -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"{what} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.numel() == 0:
        raise ValueError(f"{what} is empty: there is nothing to quantize")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return tensor


def quantization_params(tensor: torch.Tensor, bits: int, per_channel: bool = False):
    """``(scale, zero_point)``: one pair for the tensor, or one per output channel (dim 0)."""
    bits = require_bits(bits)
    require_weights(tensor)
    t = tensor.detach().double()
    if per_channel:
        flat = t.reshape(t.shape[0], -1)
        lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
    else:
        lo, hi = t.min().reshape(1), t.max().reshape(1)
    lo, hi = lo.clamp(max=0), hi.clamp(min=0)  # the range holds 0, so 0 is a level
    levels = 2**bits - 1
    scale = ((hi - lo) / levels).clamp_min(1e-12)
    zero_point = torch.round(-lo / scale).clamp(0, levels)
    return scale, zero_point


def quantization_levels(tensor: torch.Tensor, bits: int) -> torch.Tensor:
    """The 2^b values (per tensor) that ``tensor``'s weights are rounded to: (code - zero_point) * scale."""
    scale, zero_point = quantization_params(tensor, bits)
    return (torch.arange(2**bits) - zero_point) * scale


def _broadcast(values: torch.Tensor, tensor: torch.Tensor, per_channel: bool) -> torch.Tensor:
    return values.reshape(-1, *([1] * (tensor.dim() - 1))) if per_channel else values.reshape(())


def quantize_codes(tensor: torch.Tensor, bits: int, per_channel: bool = False,
                   generator: torch.Generator | None = None):
    """The integer codes (0 .. 2^b - 1) of ``tensor``, with the ``(scale, zero_point)`` to decode them.

    With a ``generator``, *stochastic rounding*: w / scale is rounded up with probability equal to its
    fractional part, down otherwise (floor(w / scale + u), u uniform in [0, 1)), so on average a weight
    keeps its value: rounding noise, the dither of the lecture's question, instead of a fixed error."""
    scale, zero_point = quantization_params(tensor, bits, per_channel)
    s, z = _broadcast(scale, tensor, per_channel), _broadcast(zero_point, tensor, per_channel)
    scaled = tensor.detach().double() / s
    if generator is None:
        rounded = torch.round(scaled)
    else:
        rounded = torch.floor(scaled + torch.rand(scaled.shape, generator=generator, dtype=torch.float64))
    codes = torch.clamp(rounded + z, 0, 2**bits - 1).long()
    return codes, scale, zero_point


def dequantize(codes: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, per_channel: bool = False) -> torch.Tensor:
    """w' = (code - zero_point) * scale."""
    return ((codes.double() - _broadcast(zero_point, codes, per_channel)) * _broadcast(scale, codes, per_channel)).float()


def quantize_uniform(tensor: torch.Tensor, bits: int, per_channel: bool = False,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """``tensor`` rounded to 2^bits evenly spaced levels (per tensor or per output channel); with a
    ``generator``, rounded stochastically (see ``quantize_codes``)."""
    codes, scale, zero_point = quantize_codes(tensor, bits, per_channel, generator)
    return dequantize(codes, scale, zero_point, per_channel).to(tensor.dtype)


def pack_bits(codes: torch.Tensor, bits: int) -> bytes:
    """Each code written with exactly ``bits`` bits, one after the other, most significant first."""
    bits = require_bits(bits)
    values = codes.detach().reshape(-1).cpu().numpy().astype(np.uint64)
    if values.size and int(values.max()) >= 2**bits:
        raise ValueError(f"a code of {int(values.max())} does not fit in {bits} bits")
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint64)
    bit_array = ((values[:, None] >> shifts) & np.uint64(1)).astype(np.uint8)
    return np.packbits(bit_array.reshape(-1)).tobytes()


def unpack_bits(data: bytes, bits: int, count: int) -> torch.Tensor:
    """The inverse of ``pack_bits``: ``count`` codes of ``bits`` bits each."""
    bits = require_bits(bits)
    bit_array = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * bits].reshape(count, bits)
    weights = (np.uint64(1) << np.arange(bits - 1, -1, -1, dtype=np.uint64))
    return torch.from_numpy((bit_array.astype(np.uint64) * weights).sum(axis=1).astype(np.int64))


def weight_matrix_names(model: nn.Module) -> list[str]:
    """The layers whose weight matrices are quantized (``"1"`` for ``model[1].weight``), in order."""
    return [name.removesuffix(".weight") for name, param in model.named_parameters()
            if name.endswith("weight") and param.dim() > 1]


def bits_per_layer(model: nn.Module, bits) -> dict[str, int]:
    """``bits`` as {layer: bits} for every weight matrix of ``model``: one number for all of them, or a
    dict naming each layer (mixed precision), checked."""
    layers = weight_matrix_names(model)
    if isinstance(bits, (list, tuple)):
        raise ValueError(f"bits must be one whole number for every layer, or a dict {{layer: bits}} naming each of "
                         f"{layers}; got a {type(bits).__name__}")
    if not isinstance(bits, dict):
        return dict.fromkeys(layers, require_bits(bits))
    if set(bits) != set(layers):
        raise ValueError(f"give bits for exactly the layers {layers}, got {sorted(bits, key=repr)}")
    return {layer: require_bits(bits[layer]) for layer in layers}


def with_weight_matrices(model: nn.Module, replace) -> nn.Module:
    """A copy of ``model`` whose every weight matrix (not the biases) ``w`` of layer ``layer`` is
    replaced by ``replace(w, layer)``: how each scheme of compressing a trained network's weights is applied."""
    copied = copy.deepcopy(model)
    with torch.no_grad():
        for name, param in copied.named_parameters():
            if name.endswith("weight") and param.dim() > 1:
                param.copy_(replace(param, name.removesuffix(".weight")))
    return copied


def quantize_model(model: nn.Module, bits, per_channel: bool = False,
                   generator: torch.Generator | None = None) -> nn.Module:
    """A copy of ``model`` whose weight matrices (not biases) are quantized to ``bits`` bits, or to
    ``bits[layer]`` for each layer (a dict: mixed precision); rounded stochastically with a
    ``generator`` (each generator state gives another quantized network)."""
    bits = bits_per_layer(model, bits)
    return with_weight_matrices(model, lambda w, layer: quantize_uniform(w, bits[layer], per_channel, generator))


def quantized_model_bytes(model: nn.Module, bits, per_channel: bool = False) -> bytes:
    """The model stored for real: each weight matrix as packed ``bits``-bit codes (or ``bits[layer]``,
    a dict) plus its float32 scales and zero points; biases as float32. Returns the bytes (count them with len)."""
    bits = bits_per_layer(model, bits)
    out = io.BytesIO()
    for name, param in model.named_parameters():
        if name.endswith("weight") and param.dim() > 1:
            layer_bits = bits[name.removesuffix(".weight")]
            codes, scale, zero_point = quantize_codes(param, layer_bits, per_channel)
            out.write(pack_bits(codes, layer_bits))
            out.write(scale.float().numpy().tobytes())
            out.write(zero_point.float().numpy().tobytes())
        else:
            out.write(param.detach().float().cpu().numpy().tobytes())
    return out.getvalue()


def evaluate_quantized(model: nn.Module, bits: int, images, labels, per_channel: bool = False,
                       layer: str | None = None) -> dict:
    """Every weight matrix of ``model`` quantized to ``bits`` bits (``quantize_model``, on a copy):
    the test accuracy and the bytes of the model stored for real (``quantized_model_bytes``);
    with ``layer``, also the ``levels`` of that layer's weights (per tensor)."""
    result = {"bits": bits, "accuracy": evaluate(quantize_model(model, bits, per_channel), images, labels).accuracy,
              "bytes": len(quantized_model_bytes(model, bits, per_channel))}
    if layer is not None:
        result["levels"] = quantization_levels(model.get_parameter(f"{layer}.weight").detach(), bits)
    return result


def model_in_dtype(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A float32 copy of ``model`` whose parameters went through ``dtype`` and back (what storing
    them as float16 or bfloat16 does to them)."""
    copied = copy.deepcopy(model)
    with torch.no_grad():
        for p in copied.parameters():
            p.copy_(p.to(dtype).float())
    return copied
