"""Matching intermediate layers (FitNets' hints, C10): a student layer is trained, through a
small learned regressor, to produce what a teacher layer produces."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distillation import distillation_loss


def hidden_activations(mlp: nn.Sequential, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run an ``MLP`` and return ``(logits, [output of each hidden layer, after its ReLU]])``."""
    hidden, out = [], images
    for layer in mlp:
        out = layer(out)
        if isinstance(layer, nn.ReLU):
            hidden.append(out)
    return out, hidden


@torch.no_grad()
def teacher_hints(teacher: nn.Sequential, images: torch.Tensor, layers, batch_size: int = 2000):
    """The teacher's logits and the outputs of its hidden ``layers`` (numbered from 1), for every image."""
    teacher.eval()
    logits, feats = [], [[] for _ in layers]
    for i in range(0, len(images), batch_size):
        z, hidden = hidden_activations(teacher, images[i:i + batch_size])
        logits.append(z)
        for f, layer in zip(feats, layers):
            f.append(hidden[layer - 1])
    return torch.cat(logits), [torch.cat(f) for f in feats]


class HintStudent(nn.Module):
    """A student MLP whose hidden layers ``student_layers`` are mapped by linear regressors to the
    widths of the teacher's hint layers. ``forward`` returns ``(logits, [regressed hints])``;
    the regressors exist only for training, and ``self.student`` is the network kept."""

    def __init__(self, student: nn.Sequential, student_layers, student_widths, teacher_widths):
        super().__init__()
        self.student = student
        self.student_layers = list(student_layers)
        self.regressors = nn.ModuleList(nn.Linear(s, t) for s, t in zip(student_widths, teacher_widths))

    def forward(self, images):
        logits, hidden = hidden_activations(self.student, images)
        return logits, [r(hidden[layer - 1]) for r, layer in zip(self.regressors, self.student_layers)]


def hint_distillation_loss(outputs, teacher_logits, labels, *teacher_features, temperature, alpha, beta):
    """Output distillation plus beta times the mean squared error between each regressed student
    layer and its teacher layer."""
    logits, hints = outputs
    loss = distillation_loss(logits, teacher_logits, labels, temperature, alpha)
    for hint, target in zip(hints, teacher_features):
        loss = loss + beta * F.mse_loss(hint, target)
    return loss
