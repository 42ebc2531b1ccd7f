"""The networks of the lecture, built from a small configuration dict so that a
checkpoint can say exactly which network its weights belong to."""
from __future__ import annotations

import torch
from torch import nn

from .measure import count_parameters  # noqa: F401  (its home is measure; imported from here too)


class MLP(nn.Sequential):
    """784 -> hidden... -> 10 with ReLU; optional dropout after each hidden layer.

    ``MLP(hidden=(30, 30))`` is the lecture's small student; ``MLP(hidden=(1200, 1200),
    dropout=0.5)`` is Hinton et al.'s MNIST teacher. ``ranks`` (one entry per linear layer,
    0 for a full layer) makes a layer low rank: N -> rank -> M with no activation between,
    the shape ``low_rank_factorize`` gives (C25), so its weights load into this network.
    """

    def __init__(self, hidden=(30, 30), in_features: int = 784, num_classes: int = 10, dropout: float = 0.0,
                 ranks=None):
        widths = [in_features, *hidden, num_classes]
        ranks = tuple(ranks) if ranks is not None else (0,) * (len(widths) - 1)
        if len(ranks) != len(widths) - 1:
            raise ValueError(f"ranks needs one entry per linear layer ({len(widths) - 1}), got {len(ranks)}: {ranks}")
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (n, m, rank) in enumerate(zip(widths[:-1], widths[1:], ranks)):
            if rank:
                if not 1 <= rank <= min(n, m):
                    raise ValueError(f"rank of layer {i} ({n} -> {m}) must be from 1 to {min(n, m)}, got {rank}")
                layers.append(nn.Sequential(nn.Linear(n, rank, bias=False), nn.Linear(rank, m)))
            else:
                layers.append(nn.Linear(n, m))
            if i < len(hidden):
                layers.append(nn.ReLU())
                if dropout:
                    layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class SmallCNN(nn.Sequential):
    """Two 5x5 convolutions with max pooling, then two linear layers (about 170k parameters).

    The lecture profile's teacher: about 99.2% test accuracy after a few epochs on a CPU.
    """

    def __init__(self, channels=(16, 32), hidden: int = 100, num_classes: int = 10, dropout: float = 0.0):
        c1, c2 = channels
        super().__init__(
            nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 28x28 -> 14x14
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 14x14 -> 7x7
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c2 * 7 * 7, hidden), nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )


ARCHITECTURES = {"mlp": MLP, "cnn": SmallCNN}


def build_model(arch: str, **kwargs) -> nn.Module:
    """Build a network from its configuration, e.g. ``build_model("mlp", hidden=[30, 30])``."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return ARCHITECTURES[arch](**kwargs)
