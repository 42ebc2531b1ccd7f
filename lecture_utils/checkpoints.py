"""Saving and loading trained networks together with the configuration that made them.

A checkpoint is a plain dict ``{"format", "config", "state_dict", "metrics"}`` written
atomically and read back with ``torch.load(..., weights_only=True)``, which refuses
to run code hidden in a file. A checkpoint whose configuration differs from the
one asked for is refused, with the differences named.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import nn

from .config import WEIGHTS_DIR, cache_dir
from .files import atomic_write_bytes
from .models import build_model

FORMAT = 1
# The lecture profile's weights are committed inside the package; the full profile's are large and
# rebuilt on demand, so they go to the (ignored) cache folder.
CHECKPOINT_DIR = WEIGHTS_DIR


def full_profile_dir() -> Path:
    """Where the full profile's checkpoints go: rebuilt on demand in the cache folder, never committed."""
    return cache_dir() / "checkpoints" / "full"


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or made for another configuration."""


def save_checkpoint(path, model: nn.Module, config: dict, metrics: dict | None = None) -> Path:
    """Write ``model``'s weights with ``config`` (which must contain ``model``, the kwargs of
    ``build_model``) and ``metrics`` (e.g. measured test accuracy), atomically."""
    if "model" not in config:
        raise ValueError("config needs a 'model' entry: the arguments of build_model()")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "config": config, "state_dict": state, "metrics": metrics or {}}, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def _differences(expected: dict, found: dict, prefix: str = "") -> list[str]:
    diffs = []
    for key in sorted(set(expected) | set(found)):
        a, b = expected.get(key, "<missing>"), found.get(key, "<missing>")
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += _differences(a, b, f"{prefix}{key}.")
        elif _normalise(a) != _normalise(b):
            diffs.append(f"{prefix}{key}: asked for {a!r}, checkpoint has {b!r}")
    return diffs


def _normalise(value):
    return list(value) if isinstance(value, tuple) else value


def load_checkpoint(path, expected_config: dict | None = None) -> tuple[nn.Module, dict]:
    """Rebuild the network stored at ``path``; return ``(model, checkpoint_dict)``.

    With ``expected_config``, refuse (CheckpointError) a checkpoint made with any other
    configuration, so that stale or foreign weights are never used silently.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}. Run `make checkpoints` to train and save it.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path} could not be read as a checkpoint ({type(exc).__name__}: {exc}). "
            "Delete it and run `make checkpoints` to rebuild it."
        ) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "config" not in ckpt:
        raise CheckpointError(f"{path} is not a lecture_utils checkpoint (format {FORMAT}).")
    if expected_config is not None:
        diffs = _differences(expected_config, ckpt["config"])
        if diffs:
            raise CheckpointError(
                f"{path} was made with another configuration:\n  " + "\n  ".join(diffs)
                + "\nRun `make checkpoints` to retrain it with the current settings."
            )
    model = build_model(**ckpt["config"]["model"])
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, ckpt
