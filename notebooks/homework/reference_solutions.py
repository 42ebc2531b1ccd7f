"""The homework's reference solutions (teachers' version: `make student` leaves this file out).

Four references, in the order the lecture suggests, each one ingredient more than the last and
otherwise trained alike (``train_submission``, 3 seeds each, measured by the grader):

* plain:      a plain small CNN on the labels (4 epochs, cosine schedule);
* separable:  a depthwise separable CNN on the labels, same recipe (C27): at the same budget it
              affords more channels and one more layer;
* augmented:  the same separable CNN, images shifted by up to 2 pixels and a longer one-cycle
              schedule (25 epochs, peak 1e-2);
* distilled:  the augmented recipe, distilled from ``homework_teacher`` (a wider CNN, trained once
              by ``make checkpoints``) at T = 4 with half soft targets; the teacher sees the same
              shifted images (C3).

The tiers are the means over the seeds: simple = plain, medium = separable, strong = distilled if
its accuracy is clearly above augmented's (the ranges mean ± sd do not overlap), else augmented,
and the homework says so with the numbers. ``make checkpoints`` runs this file as a script and
writes ``lecture_utils/weights/homework_tiers.json``.

Grade one yourself: ``python -m lecture_utils.grade notebooks/homework/reference_solutions.py:build_medium
notebooks/homework/reference/separable_seed0.pt``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple

from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # run as a script from anywhere: find lecture_utils

from lecture_utils.architecture import DepthwiseSeparableConv2d  # noqa: E402

SEEDS = (0, 1, 2)
SHORT = {"epochs": 4, "lr": 3e-3, "schedule": "cosine", "jitter": 0}      # train_submission's defaults
LONG = {"epochs": 25, "lr": 1e-2, "schedule": "one-cycle", "jitter": 2}   # augmentation and a longer schedule
DISTILLATION = {"temperature": 4.0, "alpha": 0.5}                         # from homework_teacher
TEACHER = "homework_teacher"  # lecture_utils.pretrained


def conv_bn_relu(conv: nn.Module, channels: int) -> list[nn.Module]:
    return [conv, nn.BatchNorm2d(channels), nn.ReLU()]


def build_simple() -> nn.Module:
    """Three plain 3x3 convolutions (8, 14, 28 channels), max pooling, global average pooling."""
    return nn.Sequential(
        *conv_bn_relu(nn.Conv2d(1, 8, 3, padding=1, bias=False), 8), nn.MaxPool2d(2),     # 28 -> 14
        *conv_bn_relu(nn.Conv2d(8, 14, 3, padding=1, bias=False), 14), nn.MaxPool2d(2),   # 14 -> 7
        *conv_bn_relu(nn.Conv2d(14, 28, 3, padding=1, bias=False), 28),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(28, 10),
    )


def build_medium() -> nn.Module:
    """A plain first convolution (one input channel: nothing to separate), then three depthwise
    separable ones (12 -> 24 -> 40 -> 48 channels), global average pooling."""
    return nn.Sequential(
        *conv_bn_relu(nn.Conv2d(1, 12, 3, padding=1, bias=False), 12), nn.MaxPool2d(2),             # 28 -> 14
        *conv_bn_relu(DepthwiseSeparableConv2d(12, 24, 3, padding=1), 24), nn.MaxPool2d(2),          # 14 -> 7
        *conv_bn_relu(DepthwiseSeparableConv2d(24, 40, 3, padding=1), 40),
        *conv_bn_relu(DepthwiseSeparableConv2d(40, 48, 3, padding=1), 48),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10),
    )


def build_strong() -> nn.Module:
    """The medium network; what differs is how it is trained."""
    return build_medium()


class Reference(NamedTuple):
    build: Callable[[], nn.Module]
    recipe: dict
    distilled: bool
    what: str

    @property
    def training(self) -> dict:
        """``train_submission``'s arguments besides the teacher: the recipe, and distillation's if distilled."""
        return {**self.recipe, **(DISTILLATION if self.distilled else {})}


REFERENCES = {
    "plain": Reference(build_simple, SHORT, False, "plain CNN, labels, 4 epochs"),
    "separable": Reference(build_medium, SHORT, False, "depthwise separable CNN, labels, 4 epochs"),
    "augmented": Reference(build_strong, LONG, False, "separable CNN, shifts of up to 2 pixels, 25 epochs one-cycle"),
    "distilled": Reference(build_strong, LONG, True, "the augmented recipe, distilled from homework_teacher (T = 4)"),
}
TIER_OF = {"simple": "plain", "medium": "separable"}  # strong: augmented or distilled, as measured


def weights_path(name: str, seed: int) -> Path:
    return HERE / "reference" / f"{name}_seed{seed}.pt"


def strong_reference(accuracies: dict) -> str:
    """Distilled if its seeds are clearly above augmented's (mean ± sd apart), else augmented."""
    from lecture_utils.evidence import Spread, clearly_below

    return ("distilled" if clearly_below(Spread(accuracies["augmented"]), Spread(accuracies["distilled"]))
            else "augmented")


def train_reference(name: str, seed: int) -> float:
    """Train reference ``name`` with ``seed`` on one thread and save its weights; return the seconds
    it took. One thread each: the result does not depend on how many cores the machine has, and
    two trainings run side by side on a 2-core machine."""
    import torch

    from lecture_utils.config import seed_everything
    from lecture_utils.deep_compression import save_state_dict
    from lecture_utils.homework import train_submission
    from lecture_utils.pretrained import load_teacher

    torch.set_num_threads(1)
    start = time.perf_counter()
    ref = REFERENCES[name]
    teacher = load_teacher(TEACHER, "lecture")[0] if ref.distilled else None
    seed_everything(seed)
    model = ref.build()
    train_submission(model, teacher, seed=seed, verbose=False, **ref.training)
    save_state_dict(weights_path(name, seed), model.cpu())
    return time.perf_counter() - start


def main(argv=None) -> None:
    import argparse
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from lecture_utils.evidence import Spread
    from lecture_utils.files import atomic_write_bytes
    from lecture_utils.grade import Judge
    from lecture_utils.homework import BUDGET, TIERS_PATH
    from lecture_utils.pretrained import load_teacher

    parser = argparse.ArgumentParser(description="Train the homework's reference solutions and measure the tiers.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"references to train again ({', '.join(REFERENCES)}; default all); the others' weights are "
                             "graded as they are")
    parser.add_argument("--workers", type=int, default=2, help="trainings side by side, one thread each (default 2)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(REFERENCES))
    if unknown:
        parser.error(f"unknown reference {', '.join(unknown)}; the references are {', '.join(REFERENCES)}")
    teacher_accuracy = load_teacher(TEACHER, "lecture")[1]  # trained first if missing
    jobs = [(name, seed) for name in reversed(REFERENCES) for seed in SEEDS  # the longest first
            if name in (args.names or REFERENCES)]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {job: pool.submit(train_reference, *job) for job in jobs}
        for (name, seed), future in futures.items():
            print(f"trained {name} seed {seed} in {future.result():.0f} s", flush=True)
    references, judge = {}, Judge()
    for name, ref in REFERENCES.items():
        with judge:
            graded = [judge.measure(f"{__file__}:{ref.build.__name__}", weights_path(name, seed)) for seed in SEEDS]
        accuracies = [g.accuracy for g in graded]
        references[name] = {
            "builder": ref.build.__name__, "what": ref.what, "parameters": graded[0].parameters,
            "seeds": list(SEEDS), "accuracies": accuracies, "errors": [g.errors for g in graded],
            "mean": round(Spread(accuracies).mean, 6), "sd": round(Spread(accuracies).sd, 6),
            "recipe": {**ref.training, "teacher": TEACHER if ref.distilled else None},
        }
        print(f"{name}: {graded[0].parameters:,} numbers, test accuracy {Spread([100 * a for a in accuracies])}% "
              f"(seeds {', '.join(f'{100 * a:.2f}' for a in accuracies)})", flush=True)
    tier_of = {**TIER_OF, "strong": strong_reference({n: r["accuracies"] for n, r in references.items()})}
    tiers = {
        "budget": BUDGET,
        "tiers": {tier: references[name]["mean"] for tier, name in tier_of.items()},
        "tier_reference": tier_of,
        "parameters": {tier: references[name]["parameters"] for tier, name in tier_of.items()},
        "references": references,
        "teacher": {"name": TEACHER, "test_accuracy": teacher_accuracy},
        "how": "reference_solutions.py trained with train_submission, 3 seeds each, measured by lecture_utils.grade; "
               "a tier is the mean of its reference's seeds",
    }
    atomic_write_bytes(TIERS_PATH, (json.dumps(tiers, indent=2) + "\n").encode())
    print(f"wrote {TIERS_PATH}: strong = {tier_of['strong']} ({time.perf_counter() - start:.0f} s in all)")


if __name__ == "__main__":
    main()
