"""The teachers, trained once by ``make checkpoints`` and committed under data/checkpoints/.

``python -m lecture_utils.teachers`` retrains them (deterministic on a CPU). Each
recipe below is the checkpoint's configuration: change it and the old checkpoint
is refused until it is rebuilt.
"""
from __future__ import annotations

import argparse
from pathlib import Path
import time

import torch.nn.functional as F

from .checkpoints import CHECKPOINT_DIR, CheckpointError, load_checkpoint, save_checkpoint
from .config import get_profile, seed_everything
from .data import load_mnist, make_loader
from .models import build_model, count_parameters
from .training import evaluate, fit

# One recipe per profile. The lecture teacher is a small CNN (a CPU trains it in a
# couple of minutes); the full one is Hinton et al.'s 784-1200-1200-10 MLP with
# dropout and inputs jittered by up to 2 pixels.
TEACHER_RECIPES = {
    "lecture": {
        "model": {"arch": "cnn", "channels": [16, 32], "hidden": 100, "dropout": 0.3},
        "epochs": 6, "lr": 1e-3, "batch_size": 128, "jitter": 2, "seed": 0, "train_size": 60_000,
    },
    "full": {
        "model": {"arch": "mlp", "hidden": [1200, 1200], "dropout": 0.5},
        "epochs": 60, "lr": 1e-3, "batch_size": 128, "jitter": 2, "seed": 0, "train_size": 60_000,
    },
}


def teacher_path(profile: str) -> Path:
    # Full-profile weights are large (9.6 MB) and rebuilt on demand, so they live in an ignored folder.
    folder = CHECKPOINT_DIR if profile == "lecture" else CHECKPOINT_DIR / "full"
    return folder / "teacher.pt"


def train_teacher(profile: str, verbose: bool = True):
    """Train the teacher of ``profile`` from its recipe; return ``(model, test_accuracy)``."""
    recipe = TEACHER_RECIPES[profile]
    x, y = load_mnist(train=True)
    x_test, y_test = load_mnist(train=False)
    seed_everything(recipe["seed"])
    model = build_model(**recipe["model"])
    loader = make_loader(x[: recipe["train_size"]], y[: recipe["train_size"]], batch_size=recipe["batch_size"], seed=recipe["seed"])
    fit(model, loader, F.cross_entropy, epochs=recipe["epochs"], lr=recipe["lr"], jitter=recipe["jitter"],
        seed=recipe["seed"], name=f"teacher ({profile})", verbose=verbose)
    model.cpu()
    return model, evaluate(model, x_test, y_test).accuracy


def build_teacher_checkpoint(profile: str, verbose: bool = True):
    start = time.perf_counter()
    model, accuracy = train_teacher(profile, verbose)
    path = save_checkpoint(teacher_path(profile), model, TEACHER_RECIPES[profile],
                           {"test_accuracy": accuracy, "parameters": count_parameters(model)})
    if verbose:
        print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB): test accuracy {100 * accuracy:.2f}%, "
              f"{count_parameters(model):,} parameters, {time.perf_counter() - start:.0f} s")
    return model


def load_teacher(profile: str | None = None, train_if_missing: bool = True):
    """The profile's trained teacher (in eval mode, on the CPU), with its stored test accuracy.

    A missing checkpoint is trained and saved first (minutes on a CPU for the lecture
    profile; use a GPU for the full one). A checkpoint from another recipe is refused.
    """
    name = get_profile(profile).name
    path = teacher_path(name)
    if not path.is_file() and train_if_missing:
        print(f"No teacher checkpoint at {path}: training it now (run `make checkpoints` to do this ahead).")
        build_teacher_checkpoint(name)
    model, ckpt = load_checkpoint(path, TEACHER_RECIPES[name])
    return model, ckpt["metrics"]["test_accuracy"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Train the teachers and save their checkpoints.")
    parser.add_argument("--profile", choices=sorted(TEACHER_RECIPES), default=None,
                        help="profile to build (default: $LECTURE_PROFILE or lecture)")
    args = parser.parse_args(argv)
    build_teacher_checkpoint(get_profile(args.profile).name)


if __name__ == "__main__":
    main()
