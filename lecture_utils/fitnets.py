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


def guided_part(student: nn.Sequential, layer: int, regressor: nn.Module) -> nn.Sequential:
    """FitNets' first stage (Romero et al. 2015): the student up to its hidden ``layer`` (numbered
    from 1, up to that layer's ReLU), followed by ``regressor``. The modules are the student's own,
    not copies: training this part to output the teacher's hint layer trains the student's lower
    layers, and the second stage then distils the whole student as usual."""
    relus = [i for i, m in enumerate(student) if isinstance(m, nn.ReLU)]
    if not 1 <= layer <= len(relus):
        raise ValueError(f"layer must be a hidden layer of the student, from 1 to {len(relus)}, got {layer}")
    return nn.Sequential(*list(student)[:relus[layer - 1] + 1], regressor)  # list: slicing an MLP would build a new MLP


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """R² = 1 - mean squared error / variance of ``target`` (over all its numbers): 1 when a student
    layer, through its regressor, reproduces the teacher layer exactly; 0 when it does no better
    than predicting the teacher layer's mean."""
    mse = F.mse_loss(predicted, target).item()
    variance = (target - target.mean(dim=0)).pow(2).mean().item()
    return 1.0 - mse / variance


def middle_layer(teacher: nn.Sequential) -> tuple[nn.Sequential, str]:
    """FitNets' hint layer: the teacher up to its middle (flattened), and what that is in words. For a
    CNN with two pooled convolutions (notebook 01's ``SmallCNN``), the second one's pooled output;
    for an MLP, its first hidden layer (after its ReLU)."""
    layers = list(teacher)  # a list: slicing a SmallCNN or an MLP would build a new one
    pools = [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)]
    relus = [i for i, m in enumerate(layers) if isinstance(m, nn.ReLU)]
    if len(pools) >= 2:
        part, what = layers[:pools[1] + 1], "the second convolution's pooled output"
    elif relus:
        part, what = layers[:relus[0] + 1], "its first hidden layer"
    else:
        raise ValueError("middle_layer needs a teacher with two pooled convolutions or at least one hidden layer")
    with torch.no_grad():
        shape = nn.Sequential(*part)(torch.zeros(1, 1, 28, 28)).shape[1:]
    size = " x ".join(map(str, shape))
    return nn.Sequential(*part, nn.Flatten()), f"{what} ({size})"


def least_squares_r2(features: torch.Tensor, target: torch.Tensor, test_features: torch.Tensor,
                     test_target: torch.Tensor) -> float:
    """The control for a hint's R²: the best linear map (with a bias) from a student layer that was
    *not* trained with hints to the teacher layer, fitted by least squares on (``features``,
    ``target``) and measured on the test pair by ``explained_variance``."""
    ones = torch.ones(len(features), 1, dtype=torch.float64)
    solution = torch.linalg.lstsq(torch.cat([features.double(), ones], 1), target.double()).solution
    test_ones = torch.ones(len(test_features), 1, dtype=torch.float64)
    predicted = torch.cat([test_features.double(), test_ones], 1) @ solution
    return explained_variance(predicted, test_target.double())
