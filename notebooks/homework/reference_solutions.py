"""The homework's reference solutions (teachers' version: `make student` leaves this file out).

Each tier of the homework is the test accuracy of one of these, trained by
``make checkpoints`` (this file run as a script) with ``train_submission`` and measured by the
grader; this script writes them into ``lecture_utils/weights/homework_tiers.json``:

* simple: a plain small CNN on the labels;
* medium: a depthwise separable CNN on the labels (C27): at the same budget it can afford
  more channels and one more layer;
* strong: the same depthwise separable CNN, distilled from the lecture's teacher at a low
  temperature (T = 2, half soft targets, half labels: small students prefer low T, as Hinton et
  al. saw with 30-unit nets), trained twice as long. Be aware: in our development runs,
  distillation beat training on the labels at equal epochs by a few errors at most, so the
  margin over medium comes mostly from the longer training; a recipe that wins clearly is open.

Grade one yourself: ``python -m lecture_utils.grade notebooks/homework/reference_solutions.py:build_medium
notebooks/homework/reference/medium.pt``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # run as a script from anywhere: find lecture_utils

from lecture_utils.architecture import DepthwiseSeparableConv2d  # noqa: E402

EPOCHS = {"simple": 4, "medium": 4, "strong": 8}  # over the 60,000 images, Adam, cosine schedule
DISTILLATION = {"temperature": 2.0, "alpha": 0.5}  # for the strong reference


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
    """The medium network; what differs is how it is trained (distilled from the teacher)."""
    return build_medium()


REFERENCES = {"simple": (build_simple, False), "medium": (build_medium, False), "strong": (build_strong, True)}


def weights_path(name: str) -> Path:
    return HERE / "reference" / f"{name}.pt"


def main() -> None:
    from lecture_utils.config import seed_everything
    from lecture_utils.deep_compression import save_state_dict
    from lecture_utils.files import atomic_write_bytes
    from lecture_utils.grade import measure
    from lecture_utils.homework import BUDGET, TIERS_PATH, train_submission
    from lecture_utils.pretrained import load_teacher

    teacher, _ = load_teacher("teacher", "lecture")
    measured = {}
    for name, (builder, distilled) in REFERENCES.items():
        start = time.perf_counter()
        seed_everything(0)
        model = builder()
        train_submission(model, teacher if distilled else None, epochs=EPOCHS[name], seed=0,
                         **(DISTILLATION if distilled else {}))
        save_state_dict(weights_path(name), model.cpu())
        measured[name] = measure(f"{__file__}:{builder.__name__}", weights_path(name))
        print(f"{name}: {measured[name].parameters:,} parameters, test accuracy {100 * measured[name].accuracy:.2f}% "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    tiers = {
        "budget": BUDGET,
        "tiers": {name: g.accuracy for name, g in measured.items()},
        "errors": {name: g.errors for name, g in measured.items()},
        "parameters": {name: g.parameters for name, g in measured.items()},
        "epochs": EPOCHS,
        "distillation": DISTILLATION,
        "how": "reference_solutions.py trained with train_submission, measured by lecture_utils.grade",
    }
    atomic_write_bytes(TIERS_PATH, (json.dumps(tiers, indent=2) + "\n").encode())
    print(f"wrote {TIERS_PATH}")


if __name__ == "__main__":
    main()
