"""Ensembles: averaging outputs (the teacher of C6) and averaging parameters (C12)."""
from __future__ import annotations

import torch

from .dynamic import require_threshold
from .training import predict_logits


def ensemble_probabilities(models, images: torch.Tensor) -> torch.Tensor:
    """The ensemble's output: the mean over models of softmax(model(images)). One forward
    pass per model, so the cost grows with the number of models."""
    models = list(models)
    if not models:
        raise ValueError("an ensemble needs at least one model")
    return torch.stack([torch.softmax(predict_logits(m, images), dim=1) for m in models]).mean(dim=0)


def cascade(member_probs: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """An ensemble that runs only when needed: the first member answers alone where its top
    probability is at least ``threshold``; elsewhere every member runs and their probabilities are
    averaged. ``member_probs``: (members, images, classes). Returns each image's prediction and its
    forward passes (1, or the number of members)."""
    if member_probs.dim() != 3:
        raise ValueError(f"member_probs must be (members, images, classes), got shape {tuple(member_probs.shape)}")
    threshold = require_threshold(threshold)
    confidence, first = member_probs[0].max(dim=1)
    alone = confidence >= threshold
    predictions = torch.where(alone, first, member_probs.mean(dim=0).argmax(dim=1))
    passes = torch.where(alone, 1, len(member_probs))
    return predictions, passes


def majority_vote(models, images: torch.Tensor) -> torch.Tensor:
    """Each model votes for its top class; the most frequent class wins (ties: the smallest class)."""
    votes = torch.stack([predict_logits(m, images).argmax(dim=1) for m in models])  # (models, n)
    counts = torch.nn.functional.one_hot(votes, num_classes=int(votes.max()) + 1).sum(dim=0)  # (n, classes)
    return counts.argmax(dim=1)


def average_state_dicts(state_dicts) -> dict:
    """The element-wise mean of several state dicts of one architecture (checkpoint averaging)."""
    state_dicts = list(state_dicts)
    if not state_dicts:
        raise ValueError("nothing to average: give at least one state dict")
    keys = state_dicts[0].keys()
    for sd in state_dicts[1:]:
        if sd.keys() != keys or any(sd[k].shape != state_dicts[0][k].shape for k in keys):
            raise ValueError("state dicts of different architectures cannot be averaged")
    return {k: torch.stack([sd[k].float() for sd in state_dicts]).mean(dim=0).to(state_dicts[0][k].dtype) for k in keys}
