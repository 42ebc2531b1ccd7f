"""Dynamic computation (C28-C31): one network whose cost adapts at run time.

* Dynamic depth: ``EarlyExitNet`` has a small classifier ("exit") after every block and is
  trained by summing the cross-entropy of every exit against the label (C29).
* The network decides: ``early_exit_predict`` stops each image at the first exit whose
  confidence (largest softmax probability) reaches a threshold (C31).
* Dynamic width: ``SlimmableMLP`` runs at several widths with shared weights (the first
  units kept), trained by summing the losses of every width, with one set of batch-norm
  statistics per width (Slimmable Networks' fix) or one shared set (the problem) (C30).
"""
from __future__ import annotations

import numbers
import types

import torch
import torch.nn.functional as F
from torch import nn

from .measure import multiply_accumulates_each


def require_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a number from 0 to 1 (a softmax probability), got threshold={threshold!r}")
    return float(threshold)


def conv_block(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    """One block of ``EarlyExitNet``: 3x3 convolution, batch norm, ReLU, and 2x2 max pooling if ``pool``."""
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU()]
    return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool else []))


def exit_head(channels: int, num_classes: int = 10) -> nn.Sequential:
    """An exit: average the feature map down to 2x2, then one linear layer to the classes."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4 * channels, num_classes))


EXIT_CHANNELS, EXIT_POOLS = (8, 16, 32, 32), (True, True, False, False)


def conv_blocks(channels, pools) -> list[nn.Sequential]:
    """The blocks of ``EarlyExitNet`` (and of a network dedicated to one of its exits): one
    ``conv_block`` per entry of ``channels``, from one input channel."""
    channels = tuple(channels)
    return [conv_block(c_in, c, pool) for c_in, c, pool in zip((1, *channels), channels, pools)]


class EarlyExitNet(nn.Module):
    """A small CNN of four convolution blocks, each followed by an exit classifier.

    Blocks get wider as they go deeper, so early exits are cheap: with the default channels
    the first two blocks cost about a fifth of the whole network.
    """

    def __init__(self, channels=EXIT_CHANNELS, pools=EXIT_POOLS, num_classes: int = 10):
        super().__init__()
        self.blocks = nn.ModuleList(conv_blocks(channels, pools))
        self.exits = nn.ModuleList(exit_head(c, num_classes) for c in channels)

    @property
    def num_exits(self) -> int:
        return len(self.blocks)

    def require_exit(self, exit_index) -> int:
        if isinstance(exit_index, bool) or not isinstance(exit_index, numbers.Integral) or not 0 <= exit_index < self.num_exits:
            raise ValueError(f"exit_index must be one of 0 to {self.num_exits - 1} (this network has {self.num_exits} exits), "
                             f"got {exit_index!r}")
        return int(exit_index)

    def forward(self, x) -> list[torch.Tensor]:
        """The logits of every exit."""
        outputs = []
        for block, exit_ in zip(self.blocks, self.exits):
            x = block(x)
            outputs.append(exit_(x))
        return outputs

    def forward_to(self, x, exit_index: int) -> torch.Tensor:
        """Run only the blocks up to ``exit_index`` and return that exit's logits (the budget control)."""
        exit_index = self.require_exit(exit_index)
        for block in self.blocks[: exit_index + 1]:
            x = block(x)
        return self.exits[exit_index](x)

    def exit_macs(self, input_shape=(1, 1, 28, 28)) -> list[int]:
        """Multiply-accumulates of one image that leaves at each exit (blocks run so far plus that
        exit's classifier), counted by FlopCounterMode."""
        return multiply_accumulates_each(self, [lambda x, k=k: self.forward_to(x, k) for k in range(self.num_exits)],
                                         input_shape)


def dedicated_exit_network(exit_index: int, channels=EXIT_CHANNELS, pools=EXIT_POOLS, num_classes: int = 10) -> nn.Sequential:
    """The network one would train for exit ``exit_index``'s budget alone (C28's comparison): the
    same blocks up to that exit and that exit's classifier, nothing else, so an image costs exactly
    the multiply-accumulates of leaving the dynamic network there. Returns the logits."""
    if not 0 <= exit_index < len(channels):
        raise ValueError(f"exit_index must be one of 0 to {len(channels) - 1}, got {exit_index!r}")
    kept = channels[: exit_index + 1]
    return nn.Sequential(*conv_blocks(kept, pools), exit_head(kept[-1], num_classes))


def attach_exits(model: EarlyExitNet, loader, epochs: int, **fit_kwargs):
    """Train the early exits of a network whose blocks were trained for its last exit only: the
    blocks stay frozen (weights, and batch norm in evaluation mode: normalised by the statistics they
    were trained with, as they will be at test time), only the early classifiers learn, on the sum of
    their cross-entropies. Returns ``fit``'s history."""
    from .training import fit  # here: training does not import dynamic

    for p in model.blocks.parameters():
        p.requires_grad_(False)
    frozen = list(model.blocks.modules())
    for m in frozen:  # fit puts the model in training mode every epoch; the frozen blocks stay in evaluation mode
        m.train = types.MethodType(lambda self, mode=True: nn.Module.train(self, False), m)
    try:
        return fit(model, loader, lambda outputs, labels: sum_of_exit_losses(outputs[:-1], labels), epochs=epochs,
                   **fit_kwargs)
    finally:
        for m in frozen:
            del m.train  # the blocks follow the model's mode again


def sum_of_exit_losses(outputs, labels) -> torch.Tensor:
    """The lecture's training loss for dynamic depth: the cross-entropy of every exit, summed."""
    return sum(F.cross_entropy(logits, labels) for logits in outputs)


@torch.no_grad()
def early_exit_predict(model: EarlyExitNet, images: torch.Tensor, threshold: float):
    """Predictions, and the exit each image took: an image stops at the first exit whose largest
    softmax probability is at least ``threshold`` (the last exit answers whatever is left).
    Only the images still undecided are passed on to the next block."""
    threshold = require_threshold(threshold)
    model.eval()
    device = next(model.parameters()).device
    n = len(images)
    predictions = torch.empty(n, dtype=torch.long)
    exits = torch.empty(n, dtype=torch.long)
    active = torch.arange(n)
    x = images.to(device)
    for k, (block, exit_) in enumerate(zip(model.blocks, model.exits)):
        x = block(x)
        probs = torch.softmax(exit_(x), dim=1).cpu()
        confidence, guess = probs.max(dim=1)
        done = confidence >= threshold if k < model.num_exits - 1 else torch.ones_like(confidence, dtype=torch.bool)
        predictions[active[done]] = guess[done]
        exits[active[done]] = k
        active, x = active[~done], x[~done.to(device)]
        if len(active) == 0:
            break
    return predictions, exits


def exit_table(exit_probabilities: list[torch.Tensor], threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The same decision as ``early_exit_predict`` from precomputed softmax outputs of every exit
    (what a slider uses: the network is not run again). Returns ``(predictions, exits)``."""
    threshold = require_threshold(threshold)
    confidence = torch.stack([p.max(dim=1).values for p in exit_probabilities])  # (exits, n)
    guesses = torch.stack([p.argmax(dim=1) for p in exit_probabilities])
    passes = confidence >= threshold
    passes[-1] = True
    exits = passes.long().argmax(dim=0)  # the first exit that passes
    return guesses.gather(0, exits[None]).squeeze(0), exits


def threshold_outcome(exit_probabilities: list[torch.Tensor], labels: torch.Tensor, macs, threshold: float) -> dict:
    """What one threshold gives (``exit_table`` on precomputed exit outputs): the test accuracy, the
    average multiply-accumulates per image (``macs``: those of an image leaving at each exit), the
    share of the whole network's saved, and how many images leave at each exit."""
    predictions, exits = exit_table(exit_probabilities, threshold)
    macs = torch.as_tensor(macs, dtype=torch.double)
    average = macs[exits].mean().item()
    return {"threshold": threshold, "accuracy": (predictions == labels).double().mean().item(),
            "average_macs": average, "saved": 1 - average / macs[-1].item(),
            "exits": torch.bincount(exits, minlength=len(exit_probabilities)).tolist()}


def exit_outcome(accuracies, macs, exit_index: int) -> dict:
    """One exit as the compute budget: its test accuracy (``accuracies``, measured beforehand), its
    multiply-accumulates per image and their share of the whole network's (the last exit)."""
    return {"exit": exit_index, "accuracy": accuracies[exit_index], "macs": macs[exit_index],
            "share": macs[exit_index] / macs[-1]}


def slimmable_units(width: float, hidden: int) -> int:
    """Units of a hidden layer of ``hidden`` units run at ``width``: the first round(width * hidden), at least one."""
    return max(1, round(width * hidden))


class SlimmableMLP(nn.Module):
    """784 -> hidden -> hidden -> 10 that can run at several widths: at width w only the first
    round(w * h) units of each hidden layer are used (decided in advance, weights shared).

    ``switchable_bn=True`` gives each width its own batch normalisation (Slimmable Networks);
    ``False`` shares one set, whose running statistics then mix all widths.
    """

    def __init__(self, hidden: int = 256, widths=(0.25, 0.5, 0.75, 1.0), switchable_bn: bool = True):
        super().__init__()
        self.widths = tuple(widths)
        self.hidden = hidden
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 10)
        sizes = [self.units(w) for w in self.widths] if switchable_bn else [hidden]
        self.bn1 = nn.ModuleList(nn.BatchNorm1d(s) for s in sizes)
        self.bn2 = nn.ModuleList(nn.BatchNorm1d(s) for s in sizes)
        self.switchable_bn = switchable_bn

    def units(self, width: float) -> int:
        return slimmable_units(width, self.hidden)

    def require_width(self, width) -> float:
        if width not in self.widths:
            raise ValueError(f"width {width!r} was not trained; the trained widths are {self.widths}")
        return width

    def _bn(self, bns, x, width_index, k):
        if self.switchable_bn:
            return bns[width_index](x)
        bn = bns[0]  # shared: the first k running statistics serve every width
        return F.batch_norm(x, bn.running_mean[:k], bn.running_var[:k], bn.weight[:k], bn.bias[:k],
                            self.training, bn.momentum, bn.eps)

    def forward_width(self, x, width: float) -> torch.Tensor:
        i, k = self.widths.index(self.require_width(width)), self.units(width)
        x = x.flatten(1)
        x = F.relu(self._bn(self.bn1, F.linear(x, self.fc1.weight[:k], self.fc1.bias[:k]), i, k))
        x = F.relu(self._bn(self.bn2, F.linear(x, self.fc2.weight[:k, :k], self.fc2.bias[:k]), i, k))
        return F.linear(x, self.fc3.weight[:, :k], self.fc3.bias)

    def forward(self, x) -> list[torch.Tensor]:
        """The logits at every width (training sums their losses)."""
        return [self.forward_width(x, w) for w in self.widths]

    def width_macs(self) -> list[int]:
        """Multiply-accumulates of one image at each width, counted by FlopCounterMode."""
        return multiply_accumulates_each(self, [lambda x, w=w: self.forward_width(x, w) for w in self.widths], (1, 784))


def dedicated_width_network(width: float, hidden: int = 256) -> SlimmableMLP:
    """The network one would train for width ``width``'s budget alone (C28's comparison): an MLP
    with ``round(width * hidden)`` units per hidden layer and its own batch norm, so an image costs
    exactly the multiply-accumulates of the slimmable network at that width."""
    return SlimmableMLP(hidden=slimmable_units(width, hidden), widths=(1.0,))


@torch.no_grad()
def width_outcome(model: SlimmableMLP, images: torch.Tensor, labels: torch.Tensor, width: float, macs=None) -> dict:
    """Run the slimmable network at ``width`` on ``images`` (the network really runs, on its first
    units only): test accuracy, and multiply-accumulates per image and their share of full width's.
    ``macs``: ``model.width_macs()`` if already counted (a slider counts them once)."""
    model.eval()
    macs = model.width_macs() if macs is None else macs
    i = model.widths.index(model.require_width(width))
    accuracy = (model.forward_width(images, width).argmax(1) == labels).double().mean().item()
    return {"width": width, "units": model.units(width), "accuracy": accuracy, "macs": macs[i], "share": macs[i] / macs[-1]}
