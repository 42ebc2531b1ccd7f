"""The environment, read in this one module: profile, device, data folder and paths; and the seed.

Two profiles, chosen with the environment variable ``LECTURE_PROFILE``:

* ``lecture`` (default): sized for a laptop CPU; every notebook runs in about a
  minute. This is what CI runs.
* ``full``: the published settings where feasible (full training set, more
  epochs, Hinton et al.'s network sizes). Meant for a GPU or a patient CPU.

The device is picked automatically (CUDA, then Apple's MPS, then the CPU) and
can be forced with ``LECTURE_DEVICE=cpu``.

MNIST is looked for in ``$LECTURE_DATA_DIR`` first, then in the checkout's ``data/`` (or,
installed from a wheel with no checkout around it, a user cache folder), where it is
downloaded if missing. Every ``LECTURE_*`` variable is read here and nowhere else.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, make_dataclass
from pathlib import Path

import numpy as np
import torch

SEED = 0
PROFILES = ("lecture", "full")

PACKAGE_DIR = Path(__file__).resolve().parent
# The committed weights (teachers, LeNet-300-100) and the homework's measured tiers travel
# inside the package, so a wheel installed on a hosted notebook service has them too.
WEIGHTS_DIR = PACKAGE_DIR / "weights"


def repository_root() -> Path | None:
    """The checkout this package sits in (the folder with ``notebooks/`` and ``pyproject.toml``),
    or None when it was installed from a wheel."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def cache_dir() -> Path:
    """Where downloads and rebuilt files go: the checkout's ``data/``, else a user cache folder
    (``$XDG_CACHE_HOME/lecture_utils``, by default ``~/.cache/lecture_utils``)."""
    root = repository_root()
    if root is not None:
        return root / "data"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "lecture_utils"


def data_dirs() -> tuple[tuple[str, Path], ...]:
    """The folders to look for ``MNIST/raw/`` in, in order, each with a label for messages."""
    dirs = []
    env = os.environ.get("LECTURE_DATA_DIR")
    if env:
        dirs.append(("$LECTURE_DATA_DIR", Path(env).expanduser().resolve()))
    dirs.append(("data/" if repository_root() else "the cache folder", cache_dir()))
    return tuple(dirs)


def wall_times_shown() -> bool:
    """False under ``LECTURE_HIDE_WALL_TIMES=1``, which ``make notebooks`` sets: a wall time changes from
    run to run, so the committed notebooks leave them out and show them to whoever runs the cell."""
    return os.environ.get("LECTURE_HIDE_WALL_TIMES", "") in ("", "0")


def progress_bars_enabled() -> bool:
    """False under ``TQDM_DISABLE=1`` (headless builds: a saved notebook must keep no dead bars)."""
    return os.environ.get("TQDM_DISABLE", "") in ("", "0")


# Each size side by side: (lecture profile, full profile). The full profile follows Hinton, Vinyals
# & Dean (2015), section 3, where it can: 784-1200-1200-10 teacher with dropout and jitter,
# 784-800-800-10 student, T = 20, the full 60,000 training images.
SIZES = {
    # Every comparison of trained networks that carries a claim: this many seeds per recipe.
    "seeds": (3, 3),
    # Notebook 01: the transfer set the students learn from, and the main comparison
    # (student on labels against the same student distilled), trained with Adam.
    # Images in the students' training set, balanced over digits. Full: the most that every digit can
    # give in equal numbers once 5,000 images are held out for validation (MNIST has 5,421 fives);
    # Hinton et al. used all 60,000, unbalanced.
    "transfer_size": (10_000, 45_000),
    "student_hidden": ((30, 30), (800, 800)),  # hidden layer widths of the MLP student
    "student_epochs": (20, 60),
    "student_lr": (3e-3, 1e-3),
    "distill_temperature": (4.0, 20.0),  # the temperature used in the main comparison
    "distill_alpha": (0.9, 0.9),  # weight of the soft-target term (1 - alpha on the labels)
    # The temperature sweep: soft targets only (alpha = 1), plain SGD with momentum,
    # whose steps scale with the gradient (Adam's would hide the 1/T^2 shrinkage).
    "sweep_temperatures": ((1, 2, 4, 8, 20, 100, 1000), (1, 2, 4, 8, 20, 100, 1000)),
    "sweep_epochs": (10, 20),
    "sweep_lr": (0.02, 0.02),
    # Notebook 02: the student that never saw a digit (larger than 01's: 30 units are too few
    # to rebuild a class from soft targets alone).
    "unseen_hidden": ((100, 100), (800, 800)),
    "unseen_temperature": (8.0, 20.0),
    "unseen_epochs": (20, 60),
    # Notebook 03: the ensemble's members, each trained on the whole training set.
    "ensemble_size": (6, 10),
    "member_hidden": ((100,), (800, 800)),
    "member_epochs": (3, 10),
    # Notebook 04: students for logits, hints (a student half as deep as the 12-layer
    # teacher) and a teacher assistant between the teacher and a tiny student.
    "variant_epochs": (12, 60),  # every student of notebook 04 (fewer than 01's: it trains four comparisons)
    "hint_student_width": (32, 128),
    "assistant_hidden": ((100, 100), (400, 400)),
    "tiny_hidden": ((10,), (30,)),
    # Notebook 06: fine-tuning the centroids of the clustered LeNet-300-100.
    "centroid_tune_size": (10_000, 60_000),
    "centroid_tune_epochs": (3, 10),
    # Notebook 07: float and BinaryConnect MLPs trained alike, where the float one overfits.
    "binary_size": (1_000, 45_000),  # training images: few, so that the float network overfits (C16's regime)
    "binary_hidden": ((512, 512), (1024, 1024, 1024)),
    "binary_epochs": (30, 100),
    # Notebook 08: a normal and a depthwise separable CNN at the same budget, trained alike.
    "cnn_size": (5_000, 45_000),  # training images (balanced over digits)
    "cnn_epochs": (2, 15),
    # Notebook 09: the rank-K network fine-tuned after SVD, and trained from scratch.
    "low_rank_tune_epochs": (1, 5),
    "low_rank_scratch_epochs": (4, 20),
    # Notebook 10: the early-exit CNN; three seeds of it, of the networks dedicated to each exit and
    # of the exits attached afterwards (on compare_size images); the slimmable MLPs and the networks
    # dedicated to each width; a validation split for choosing the exit threshold.
    "exit_size": (12_000, 45_000),  # training images of the notebook's network, balanced
    "exit_epochs": (3, 20),
    "compare_size": (2_500, 45_000),  # the first of them: three seeds of it and of its dedicated rivals
    "compare_epochs": (3, 20),
    "slimmable_hidden": (128, 256),  # units per hidden layer at full width
    "slimmable_size": (5_000, 45_000),  # the first of the exit_size images
    "slimmable_epochs": (2, 20),
    "dynamic_val_size": (5_000, 10_000),
    # Notebook 11: the pipeline's distillation, pruning rounds and centroid fine-tuning.
    "pipeline_distill_epochs": (2, 10),
    "prune_round_epochs": ((1, 1, 2), (3, 3, 5)),
    "pipeline_centroid_epochs": (2, 5),
    # The homework notebook's demonstration run (the tiers are trained by `make checkpoints`).
    "homework_demo_epochs": (2, 15),
    "homework_demo_size": (20_000, 60_000),
}
# A profile has a name and one attribute per row of SIZES (``profile.transfer_size``, ...).
Profile = make_dataclass("Profile", [("name", str)] + [(name, type(sizes[0])) for name, sizes in SIZES.items()],
                         frozen=True)
Profile.__doc__ = ("Sizes that differ between the CPU-sized lecture run and the published settings, one "
                   "attribute per row of SIZES. (The teachers' recipes live in lecture_utils.pretrained.)")
LECTURE = Profile("lecture", **{name: sizes[0] for name, sizes in SIZES.items()})
FULL = Profile("full", **{name: sizes[1] for name, sizes in SIZES.items()})


def get_profile(name: str | None = None) -> Profile:
    """The profile named by ``name``, or by ``$LECTURE_PROFILE`` (default ``lecture``)."""
    name = (name or os.environ.get("LECTURE_PROFILE") or "lecture").strip().lower()
    if name not in PROFILES:
        raise ValueError(
            f"LECTURE_PROFILE={name!r} is not a profile; use one of {', '.join(PROFILES)}"
        )
    return LECTURE if name == "lecture" else FULL


def pick_device(name: str | None = None) -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU; ``$LECTURE_DEVICE`` overrides."""
    name = name or os.environ.get("LECTURE_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = SEED) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@dataclass(frozen=True)
class Setup:
    profile: Profile
    device: torch.device
    seed: int


def setup_notebook(seed: int = SEED) -> Setup:
    """The first cell of every notebook: seed everything, pick profile and device, and say
    which data the notebook runs on."""
    from .data import data_source  # imported here: finding the data is part of the setup

    profile = get_profile()
    device = pick_device()
    seed_everything(seed)
    try:
        import matplotlib.pyplot as plt

        plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (6, 3.2)})
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        pass
    print(f"profile: {profile.name} | device: {device} | seed: {seed} | torch {torch.__version__}")
    print(f"data: {data_source()}")
    return Setup(profile, device, seed)
