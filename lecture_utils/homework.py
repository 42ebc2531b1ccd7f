"""The homework (C20, C27): the most accurate MNIST classifier carrying at most ``BUDGET`` numbers.

The budget rule is ``count_budget`` (``lecture_utils.measure``; the grader, the notebook's checks
and this module all use it): every number the trained model carries counts, in its parameters and
its buffers alike, except batch norm's running statistics (``running_mean``, ``running_var``,
``num_batches_tracked`` of batch-norm layers that learn a scale and a shift, ``affine=True``). Numbers are *counted*, not bytes, so storing them in fewer bits does not
help (C20); keeping weights in buffers instead of parameters does not either. The route the
lecture points to is depthwise separable convolution (C27) plus distillation from a larger teacher.

The three tiers are the mean test accuracies (3 seeds each) of reference solutions trained by
``make checkpoints`` and measured by the grader (``python -m lecture_utils.grade``), each one
ingredient more than the last:

* simple: a plain small CNN trained on the labels;
* medium: a depthwise separable CNN trained on the labels, same recipe (C27);
* strong: the same network with shifted images and a longer schedule, distilled from a wider
  teacher if that measurably helped (``tiers["tier_reference"]["strong"]`` says which).

Their code lives with the solution version of the homework
(``notebooks/homework/reference_solutions.py``); the measured tiers, every reference's seeds
included, are in ``lecture_utils/weights/homework_tiers.json``, which travels with the student
version.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch.nn.functional as F
from torch import nn

from .config import WEIGHTS_DIR
from .data import load_mnist, make_loader
from .distillation import TeacherAlongside, distillation_loss
from .measure import count_budget  # the budget rule, offered here with the homework
from .training import History, fit

BUDGET = 5_000  # numbers counted by count_budget
TIER_NAMES = ("simple", "medium", "strong")
TIERS_PATH = WEIGHTS_DIR / "homework_tiers.json"  # package data: it travels with the student version and the wheel


def load_tiers(path: Path = TIERS_PATH) -> dict:
    """``{"budget": ..., "tiers": {"simple": accuracy, ...}}`` as measured by ``make checkpoints``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no tiers file at {path}: run `make checkpoints` to train and measure the reference solutions")
    tiers = json.loads(path.read_text())
    if tiers.get("budget") != BUDGET or set(tiers.get("tiers", {})) != set(TIER_NAMES):
        raise ValueError(f"{path} was measured for another budget or other tiers ({tiers.get('budget')}, "
                         f"{sorted(tiers.get('tiers', {}))}); run `make checkpoints` again")
    return tiers


def train_submission(model: nn.Module, teacher: nn.Module | None = None, epochs: int = 4, lr: float = 3e-3,
                     temperature: float = 4.0, alpha: float = 0.9, train_size: int = 60_000, seed: int = 0,
                     jitter: int = 0, schedule: str = "cosine", verbose: bool = True) -> History:
    """Train a homework model on (the first ``train_size`` of) the 60,000 training images with Adam,
    on the labels, or with a ``teacher`` on the distillation loss (soft targets at ``temperature``,
    weight ``alpha``; notebook 01), the teacher seeing the same images as the student.

    ``jitter`` shifts every image by up to that many pixels (data augmentation); ``schedule`` is
    "cosine" (``lr`` down to 0) or "one-cycle" (up to ``lr``, then down; see ``fit``). The reference
    solutions are trained with this function, so yours can be compared with them fairly. A model
    over the budget (``count_budget``) is trained all the same, with a warning: the grader will
    refuse it."""
    counted = count_budget(model)
    if counted > BUDGET:
        warnings.warn(f"the model carries {counted:,} numbers counted (parameters and buffers, batch norm's running "
                      f"statistics aside), over the homework's budget of {BUDGET:,}: the grader will refuse it",
                      stacklevel=2)
    x, y = load_mnist(train=True)
    loader = make_loader(x[:train_size], y[:train_size], seed=seed)
    if teacher is None:
        trained, loss_fn = model, F.cross_entropy
    else:
        trained = TeacherAlongside(model, teacher)

        def loss_fn(outputs, labels):
            student_logits, teacher_logits = outputs
            return distillation_loss(student_logits, teacher_logits, labels, temperature, alpha)
    return fit(trained, loader, loss_fn, epochs=epochs, lr=lr, seed=seed, schedule=schedule, jitter=jitter,
               name="homework model" + (" (distilled)" if teacher is not None else ""), verbose=verbose)
