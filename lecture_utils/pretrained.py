"""The pretrained networks: the teachers of the distillation notebooks, and LeNet-300-100 (the
network Deep Compression compressed), trained once by ``make checkpoints`` and committed inside
the package (``lecture_utils/weights/``).

``python -m lecture_utils.pretrained`` retrains them (deterministic on a CPU). Each
recipe below is the checkpoint's configuration: change it and the old checkpoint
is refused until it is rebuilt.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import time

import torch.nn.functional as F

from .checkpoints import CHECKPOINT_DIR, full_profile_dir, load_checkpoint, save_checkpoint
from .config import get_profile, seed_everything
from .data import load_mnist, make_loader
from .models import build_model, count_parameters
from .training import evaluate, fit

# Each teacher has one recipe per profile.
# * teacher: the distillation notebooks' teacher. Lecture profile: a small CNN (a CPU trains
#   it in a few minutes). Full profile: Hinton et al.'s 784-1200-1200-10 MLP with dropout
#   and inputs jittered by up to 2 pixels.
# * deep_teacher: a 12-hidden-layer MLP, for matching intermediate layers (notebook 04).
# * lenet_300_100: LeNet-300-100, the network Deep Compression compressed; notebooks 05 and
#   06 quantize and cluster it (a trained network to compress rather than a teacher).
# * homework_teacher: a wider CNN for the homework's distilled reference (issue: a teacher barely
#   better than its 5,000-number student has little to teach): 32 and 64 channels, inputs shifted
#   by up to 2 pixels, a one-cycle schedule. The same recipe in both profiles (the homework has one).
HOMEWORK_TEACHER = {
    "model": {"arch": "cnn", "channels": [32, 64], "hidden": 128, "dropout": 0.3},
    "epochs": 15, "lr": 5e-3, "schedule": "one-cycle", "batch_size": 128, "jitter": 2, "seed": 0,
    "train_size": 60_000,
}
TEACHERS = {
    "teacher": {
        "lecture": {
            "model": {"arch": "cnn", "channels": [16, 32], "hidden": 100, "dropout": 0.3},
            "epochs": 6, "lr": 1e-3, "batch_size": 128, "jitter": 2, "seed": 0, "train_size": 60_000,
        },
        "full": {
            "model": {"arch": "mlp", "hidden": [1200, 1200], "dropout": 0.5},
            "epochs": 60, "lr": 1e-3, "batch_size": 128, "jitter": 2, "seed": 0, "train_size": 60_000,
        },
    },
    "deep_teacher": {
        "lecture": {
            "model": {"arch": "mlp", "hidden": [128] * 12},
            "epochs": 8, "lr": 1e-3, "batch_size": 128, "jitter": 1, "seed": 0, "train_size": 60_000,
        },
        "full": {
            "model": {"arch": "mlp", "hidden": [256] * 12},
            "epochs": 20, "lr": 1e-3, "batch_size": 128, "jitter": 0, "seed": 0, "train_size": 60_000,
        },
    },
    "lenet_300_100": {
        "lecture": {
            "model": {"arch": "mlp", "hidden": [300, 100]},
            "epochs": 8, "lr": 1e-3, "batch_size": 128, "jitter": 0, "seed": 0, "train_size": 60_000,
        },
        "full": {
            "model": {"arch": "mlp", "hidden": [300, 100]},
            "epochs": 30, "lr": 1e-3, "batch_size": 128, "jitter": 0, "seed": 0, "train_size": 60_000,
        },
    },
    "homework_teacher": {"lecture": HOMEWORK_TEACHER, "full": HOMEWORK_TEACHER},
}


def teacher_path(name: str, profile: str) -> Path:
    """The checkpoint file of teacher ``name`` in ``profile``: committed in the package for the
    lecture profile, in the cache folder for the full one."""
    folder = CHECKPOINT_DIR if profile == "lecture" else full_profile_dir()
    return folder / f"{name}.pt"


def _recipe(name: str, profile: str) -> dict:
    if name not in TEACHERS:
        raise ValueError(f"unknown teacher {name!r}; known: {', '.join(TEACHERS)}")
    return TEACHERS[name][profile]


def train_teacher(name: str, profile: str, verbose: bool = True):
    """Train teacher ``name`` of ``profile`` from its recipe; return ``(model, test_accuracy)``."""
    recipe = _recipe(name, profile)
    x, y = load_mnist(train=True)
    x_test, y_test = load_mnist(train=False)
    seed_everything(recipe["seed"])
    model = build_model(**recipe["model"])
    loader = make_loader(x[: recipe["train_size"]], y[: recipe["train_size"]], batch_size=recipe["batch_size"], seed=recipe["seed"])
    fit(model, loader, F.cross_entropy, epochs=recipe["epochs"], lr=recipe["lr"], jitter=recipe["jitter"],
        schedule=recipe.get("schedule", "constant"), seed=recipe["seed"], name=f"{name} ({profile})", verbose=verbose)
    model.cpu()
    return model, evaluate(model, x_test, y_test).accuracy


def build_teacher_checkpoint(name: str, profile: str, verbose: bool = True):
    """Train teacher ``name`` of ``profile`` and save it at ``teacher_path`` with its recipe and
    measured test accuracy; return the trained model."""
    start = time.perf_counter()
    model, accuracy = train_teacher(name, profile, verbose)
    path = save_checkpoint(teacher_path(name, profile), model, _recipe(name, profile),
                           {"test_accuracy": accuracy, "parameters": count_parameters(model)})
    if verbose:
        print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB): test accuracy {100 * accuracy:.2f}%, "
              f"{count_parameters(model):,} parameters, {time.perf_counter() - start:.0f} s")
    return model


def load_teacher(name: str = "teacher", profile: str | None = None, train_if_missing: bool = True):
    """A trained teacher (in eval mode, on the CPU) with its stored test accuracy.

    A missing checkpoint is trained and saved first (minutes on a CPU for the lecture
    profile; use a GPU for the full one). A checkpoint from another recipe is refused.
    """
    profile = get_profile(profile).name
    recipe = _recipe(name, profile)
    path = teacher_path(name, profile)
    if not path.is_file() and train_if_missing:
        print(f"No checkpoint at {path}: training {name} now (run `make checkpoints` to do this ahead).")
        build_teacher_checkpoint(name, profile)
    model, ckpt = load_checkpoint(path, recipe)
    return model, ckpt["metrics"]["test_accuracy"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Train the teachers and save their checkpoints.")
    parser.add_argument("names", nargs="*", help=f"teachers to build: {', '.join(TEACHERS)} (default: all)")
    parser.add_argument("--profile", choices=sorted(TEACHERS["teacher"]), default=None,
                        help="profile to build (default: $LECTURE_PROFILE or lecture)")
    args = parser.parse_args(argv)
    for name in args.names or TEACHERS:
        build_teacher_checkpoint(name, get_profile(args.profile).name)


if __name__ == "__main__":
    main()
