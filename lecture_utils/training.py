"""One training loop for every notebook, and evaluation.

The loop takes the loss as a function, so the same ``fit`` trains on labels
(``F.cross_entropy``), on a teacher's soft targets (``distillation_loss``), and on
whatever later notebooks need. Each batch from the loader is ``(inputs, *targets)``
and the loss is ``loss_fn(model(inputs), *targets)``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .config import pick_device, progress_bars_enabled
from .data import NUM_CLASSES


@dataclass
class History:
    """What ``fit`` measured: mean training loss per epoch, wall time, and any per-epoch extras."""

    name: str
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    extras: list = field(default_factory=list)

    def __str__(self) -> str:
        # No wall time here: it changes from run to run and would change the committed notebooks.
        # The progress bar shows it to whoever watches; ``history.seconds`` keeps it.
        return f"{self.name}: {len(self.losses)} epochs, final training loss {self.losses[-1]:.4f}"


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Jitter: move each image by up to ``max_shift`` pixels in x and y (zeros fill the gap)."""
    if max_shift <= 0:
        return images
    n = images.shape[0]
    padded = F.pad(images, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    h, w = images.shape[-2:]
    rows = (dy[:, None] + torch.arange(h)[None, :])  # (n, h)
    cols = (dx[:, None] + torch.arange(w)[None, :])  # (n, w)
    idx = torch.arange(n)[:, None, None]
    return padded[:, 0][idx, rows[:, :, None], cols[:, None, :]].unsqueeze(1).to(images.dtype)


def fit(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable[..., torch.Tensor],
    epochs: int,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    device: torch.device | str | None = None,
    jitter: int = 0,
    seed: int = 0,
    name: str = "model",
    on_epoch_end: Callable[[int, nn.Module], object] | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    verbose: bool = True,
    schedule: str = "constant",
) -> History:
    """Train ``model`` for ``epochs`` passes over ``loader`` with ``optimizer``: "adam", or
    "sgd" (momentum 0.9), whose steps, unlike Adam's, scale with the gradient.

    ``jitter`` shifts inputs by up to that many pixels (data augmentation);
    ``seed`` seeds dropout and jitter so two runs alike give the same weights.
    ``on_epoch_end(epoch, model)``, if given, is called after each epoch and what it
    returns is kept in ``history.extras`` (for training curves). ``after_step(model)``, if
    given, runs after every optimizer step (BinaryConnect clips its weights there).
    ``schedule``: "constant" learning rate; "cosine", from ``lr`` down to 0 along a half
    cosine over all steps (the last epochs then settle instead of jumping around); or
    "one-cycle" (Smith's super-convergence schedule): up from ``lr / 25`` to ``lr`` over the first
    30% of the steps, then down to almost 0, so a large peak rate can be used safely.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    device = torch.device(device) if device is not None else pick_device()
    model.to(device)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    steps = epochs * len(loader)
    schedulers = {
        "constant": lambda: None,
        "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps),
        "one-cycle": lambda: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps),
    }
    if schedule not in schedulers:
        raise ValueError(f"schedule must be one of {', '.join(map(repr, schedulers))}, got {schedule!r}")
    scheduler = schedulers[schedule]()
    torch.manual_seed(seed)
    jitter_gen = torch.Generator().manual_seed(seed + 1)
    history = History(name)
    start = time.perf_counter()
    # A bar that closes itself when done (leave=False). TQDM_DISABLE=1 turns bars off (tqdm's
    # notebook bar ignores that variable, so it is read here): headless runs save no dead widgets.
    quiet = not verbose or not progress_bars_enabled()
    for epoch in tqdm(range(epochs), desc=name, leave=False, disable=quiet):
        model.train()
        if hasattr(getattr(loader, "sampler", None), "set_epoch"):
            loader.sampler.set_epoch(epoch)  # the same order in epoch k, however often the loader was used
        total, count = 0.0, 0
        for inputs, *targets in loader:
            if jitter:
                inputs = random_shift(inputs, jitter, jitter_gen)
            inputs = inputs.to(device, non_blocking=True)
            targets = [t.to(device, non_blocking=True) for t in targets]
            loss = loss_fn(model(inputs), *targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
            if after_step is not None:
                after_step(model)
            total += loss.item() * len(inputs)
            count += len(inputs)
        history.losses.append(total / count)
        if on_epoch_end is not None:
            history.extras.append(on_epoch_end(epoch, model))
    model.eval()
    history.seconds = time.perf_counter() - start
    if verbose:
        print(history)
    return history


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 2000, device=None) -> torch.Tensor:
    """The model's logits for ``images``, in eval mode, returned on the CPU."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = torch.cat([model(images[i:i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)])
    model.train(was_training)
    return out


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """``C[i, j]`` = how many examples of true class i were predicted as j."""
    flat = labels.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class Evaluation:
    """Accuracy, error count, per-class accuracy and confusion matrix on one data set."""

    predictions: torch.Tensor
    labels: torch.Tensor

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def errors(self) -> int:
        return int((self.predictions != self.labels).sum())

    @property
    def accuracy(self) -> float:
        return 1.0 - self.errors / self.n

    @property
    def confusion(self) -> torch.Tensor:
        return confusion_matrix(self.predictions, self.labels)

    @property
    def per_class_accuracy(self) -> torch.Tensor:
        c = self.confusion.double()
        return c.diag() / c.sum(dim=1).clamp_min(1)

    def __str__(self) -> str:
        return f"accuracy {100 * self.accuracy:.2f}% ({self.errors} errors of {self.n:,})"


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    """Evaluate a classifier: ``evaluate(model, x, y).errors``, ``.accuracy``, ``.confusion``..."""
    return Evaluation(predict_logits(model, images).argmax(dim=1), labels.cpu())
