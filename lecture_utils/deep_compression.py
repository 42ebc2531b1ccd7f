"""Deep Compression end to end (C32): prune, cluster, Huffman-code, and a real file.

Pruning was the previous lecture: remove the weights of smallest magnitude and fine-tune
the rest. ``prune_to`` does it with ``torch.nn.utils.prune``, which keeps a 0/1 mask beside
each weight, so fine-tuning with ``fit`` never revives a pruned weight.

``save_compressed`` writes a network in a compact format of our own and ``load_compressed``
reads it back into a working PyTorch model. Each weight matrix is stored as

* where its non-zero weights are: the gap before each one (how many zeros it skips), a gap
  longer than ``max_gap`` spelled as ``max_gap`` (skip that many, no weight) until it fits,
  as Deep Compression's relative indices do;
* what they are: an index into the layer's codebook when the layer has at most 256 distinct
  values (it was clustered), else the float32 values themselves;

with the gaps and indices either in fixed-width codes or Huffman-coded (C15): only the code
*lengths* are stored, the canonical code is rebuilt from them. Biases stay float32.

Layout: ``LCZ1``, a 4-byte header length, a JSON header (the network's configuration for
``build_model`` and one entry per tensor), then the tensors' byte sections in header order.
"""
from __future__ import annotations

import io
import json
import math
import struct
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize, prune

from .files import atomic_write_bytes
from .huffman import canonical_code, huffman_code, huffman_decode, huffman_encode
from .measure import file_bytes, fixed_length_bits
from .models import build_model
from .quantization import pack_bits, unpack_bits

MAGIC = b"LCZ1"
MAX_CODEBOOK = 256
CODINGS = ("fixed", "huffman")


class CompressedFileError(ValueError):
    """A file that is not, or no longer, a model written by ``save_compressed``."""


# ---- pruning -------------------------------------------------------------------------------

def weight_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers with a weight matrix (linear and convolution), by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))}


def prune_to(model: nn.Module, keep: dict[str, float]) -> None:
    """Magnitude pruning: layer ``name`` keeps the fraction ``keep[name]`` of its weights, those
    of largest |w| (``torch.nn.utils.prune.l1_unstructured``). Calling it again with smaller
    fractions prunes further; a pruned weight stays pruned."""
    layers = weight_layers(model)
    for name, fraction in keep.items():
        if name not in layers:
            raise ValueError(f"no layer {name!r} with weights; layers: {', '.join(layers)}")
        if not 0 < fraction <= 1:
            raise ValueError(f"the fraction of weights kept must be in (0, 1], got {fraction} for layer {name!r}")
        module = layers[name]
        total = module.weight.numel()
        kept_now = int(module.weight_mask.sum()) if prune.is_pruned(module) else total
        # l1_unstructured's count is taken from the weights not yet pruned
        prune.l1_unstructured(module, "weight", amount=max(0, kept_now - round(fraction * total)))


def kept_fraction(model: nn.Module) -> dict[str, float]:
    """The fraction of non-zero weights of each weight layer."""
    return {name: float((m.weight != 0).float().mean()) for name, m in weight_layers(model).items()}


def make_pruning_permanent(model: nn.Module) -> nn.Module:
    """Fold the pruning masks into the weights (zeros stay zeros) and drop the masks."""
    for module in weight_layers(model).values():
        if prune.is_pruned(module):
            prune.remove(module, "weight")
    return model


# ---- sizes ----------------------------------------------------------------------------------

def save_state_dict(path, model: nn.Module) -> int:
    """``torch.save`` of the state dict (the plain float32 file), written atomically; returns its bytes."""
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    return file_bytes(atomic_write_bytes(path, buffer.getvalue()))


def plain_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors the network computes with, under their plain names: a clustered weight
    (a parametrization) as the matrix it gives, not its codebook and indices."""
    plain = {}
    for name, module in model.named_modules():
        for attr in ("weight", "bias"):
            tensor = getattr(module, attr, None)  # a pruned or clustered weight is computed here
            if isinstance(tensor, torch.Tensor):
                plain[f"{name}.{attr}" if name else attr] = tensor.detach().cpu().float()
    for name, buffer in model.named_buffers():  # batch-norm statistics; not pruning masks or codebook indices
        if "parametrizations" not in name and not name.endswith("_mask"):
            plain[name] = buffer.detach().cpu()
    return plain


# ---- gaps: where the non-zero weights are -----------------------------------------------------

def gaps_with_escape(positions: list[int], max_gap: int) -> list[int]:
    """Relative positions: for each non-zero weight, the number of zeros since the previous one.
    A gap >= ``max_gap`` is spelled as ``max_gap`` symbols (each: skip ``max_gap`` zeros, no weight)
    followed by the rest, so every symbol is in 0..max_gap."""
    out, previous = [], -1
    for position in positions:
        gap = position - previous - 1
        while gap >= max_gap:
            out.append(max_gap)
            gap -= max_gap
        out.append(gap)
        previous = position
    return out


def positions_from_gaps(gaps: list[int], max_gap: int) -> list[int]:
    """The inverse of ``gaps_with_escape``."""
    positions, position = [], -1
    for gap in gaps:
        position += gap if gap == max_gap else gap + 1
        if gap != max_gap:
            positions.append(position)
    return positions


# ---- the file ---------------------------------------------------------------------------------

def _encode(symbols: list[int], alphabet: int, coding: str) -> tuple[dict, list[bytes]]:
    """``symbols`` in 0..alphabet-1 as a fixed-width or Huffman-coded bit stream."""
    if not symbols:
        return {"bits": 1, "num_bits": 0}, [b""] if coding == "fixed" else [b"", b""]
    if coding == "fixed":
        bits = fixed_length_bits(alphabet)
        return {"bits": bits}, [pack_bits(torch.tensor(symbols, dtype=torch.long), bits)]
    lengths = {s: len(c) for s, c in huffman_code(symbols).items()}
    data, num_bits = huffman_encode(symbols, canonical_code(lengths))
    table = bytes(lengths.get(s, 0) for s in range(alphabet))  # one byte per symbol; 0 = unused
    return {"num_bits": num_bits}, [table, data]


def _decode(entry: dict, sections: list[bytes], count: int, alphabet: int, coding: str) -> list[int]:
    if count == 0:
        return []
    if coding == "fixed":
        return unpack_bits(sections[0], entry["bits"], count).tolist()
    lengths = {s: n for s, n in enumerate(sections[0]) if n}
    return huffman_decode(sections[1], entry["num_bits"], canonical_code(lengths))


def save_compressed(path, model: nn.Module, config: dict, coding: str = "huffman", max_gap: int = 64) -> int:
    """Write ``model`` (built by ``build_model(**config)``) in the compact format; returns the file's bytes.

    Weight matrices are stored sparse (gaps + values), values as codebook indices when the
    layer has at most 256 distinct non-zero values; ``coding`` is "fixed" or "huffman".
    """
    if coding not in CODINGS:
        raise ValueError(f"coding must be one of {CODINGS}, got {coding!r}")
    if isinstance(max_gap, bool) or not isinstance(max_gap, int) or not 1 <= max_gap <= 255:
        raise ValueError(f"max_gap must be a whole number from 1 to 255, got {max_gap!r}")
    entries, sections = [], []
    matrices = {f"{name}.weight" for name in weight_layers(model)}
    for name, tensor in plain_weights(model).items():
        entry = {"name": name, "shape": list(tensor.shape), "dtype": str(tensor.dtype).removeprefix("torch.")}
        if name not in matrices:  # biases and buffers: as they are
            entry["kind"] = "dense"
            parts = [tensor.contiguous().numpy().tobytes()]
        else:
            flat = tensor.reshape(-1)
            positions = torch.nonzero(flat).reshape(-1)
            values = flat[positions]
            gaps = gaps_with_escape(positions.tolist(), max_gap)
            entry.update(kind="sparse", count=len(positions), gap_count=len(gaps), max_gap=max_gap)
            gap_entry, parts = _encode(gaps, max_gap + 1, coding)
            entry["gaps"] = gap_entry
            codebook, indices = torch.unique(values, return_inverse=True)
            if 0 < len(codebook) <= MAX_CODEBOOK:
                entry["codebook"] = len(codebook)
                index_entry, index_parts = _encode(indices.tolist(), len(codebook), coding)
                entry["indices"] = index_entry
                parts += [codebook.numpy().astype("<f4").tobytes(), *index_parts]
            else:
                parts.append(values.numpy().astype("<f4").tobytes())
        entry["sections"] = [len(p) for p in parts]
        entries.append(entry)
        sections += parts
    header = json.dumps({"model": config, "coding": coding, "tensors": entries}, separators=(",", ":")).encode()
    blob = MAGIC + struct.pack("<I", len(header)) + header + b"".join(sections)
    return file_bytes(atomic_write_bytes(path, blob))


def load_compressed(path) -> nn.Module:
    """Read a file written by ``save_compressed`` back into a working model (eval mode)."""
    path = Path(path)
    if not path.is_file():
        raise CompressedFileError(f"no compressed model at {path}")
    blob = path.read_bytes()
    if blob[:4] != MAGIC or len(blob) < 8:
        raise CompressedFileError(f"{path} is not a compressed model written by save_compressed (bad magic bytes)")
    (header_len,) = struct.unpack("<I", blob[4:8])
    try:
        header = json.loads(blob[8:8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompressedFileError(f"{path}: the header is damaged ({exc})") from exc
    offset = 8 + header_len
    expected = offset + sum(sum(e["sections"]) for e in header["tensors"])
    if len(blob) != expected:
        raise CompressedFileError(f"{path} has {len(blob)} bytes but its header describes {expected}: "
                                  "the file is truncated or damaged; write it again")
    coding = header["coding"]
    state = {}
    for entry in header["tensors"]:
        parts = []
        for size in entry["sections"]:
            parts.append(blob[offset:offset + size])
            offset += size
        shape, dtype = entry["shape"], getattr(torch, entry["dtype"])
        if entry["kind"] == "dense":
            array = np.frombuffer(parts[0], dtype=torch.empty(0, dtype=dtype).numpy().dtype)
            state[entry["name"]] = torch.from_numpy(array.copy()).reshape(shape)
            continue
        gap_parts = 1 if coding == "fixed" else 2
        gaps = _decode(entry["gaps"], parts[:gap_parts], entry["gap_count"], entry["max_gap"] + 1, coding)
        positions = torch.tensor(positions_from_gaps(gaps, entry["max_gap"]), dtype=torch.long)
        if "codebook" in entry:
            codebook = torch.from_numpy(np.frombuffer(parts[gap_parts], dtype="<f4").copy())
            indices = _decode(entry["indices"], parts[gap_parts + 1:], entry["count"], entry["codebook"], coding)
            values = codebook[torch.tensor(indices, dtype=torch.long)]
        else:
            values = torch.from_numpy(np.frombuffer(parts[gap_parts], dtype="<f4").copy())
        flat = torch.zeros(math.prod(shape))
        flat[positions] = values
        state[entry["name"]] = flat.reshape(shape)
    model = build_model(**header["model"])
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CompressedFileError(f"{path}: the weights do not fit the network {header['model']}: {exc}") from exc
    return model.eval()
