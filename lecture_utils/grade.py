"""The homework's grader: ``python -m lecture_utils.grade MODEL.py WEIGHTS.pt``.

A submission is two files:

* ``MODEL.py`` with a function ``build_model()`` that returns the network (untrained);
  ``MODEL.py:other_name`` picks another function;
* ``WEIGHTS.pt``, its trained weights: ``torch.save(model.state_dict(), "WEIGHTS.pt")``.

The grader builds the network, counts its parameters against the budget, loads the weights
with ``torch.load(..., weights_only=True)`` (a weights file cannot run code), measures the test
accuracy on the 10,000 MNIST test images (``load_mnist(train=False)``: float images in [0, 1],
shape (N, 1, 28, 28)), and prints the tier reached.

Exit status: 0 graded; 1 the submission could not be built, loaded or run; 2 over the budget.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .config import pick_device
from .homework import BUDGET, TIER_NAMES, load_tiers
from .measure import count_parameters
from .training import evaluate

NOT_GRADED, OVER_BUDGET = 1, 2


class SubmissionError(Exception):
    """What is wrong with a submission; ``status`` is the grader's exit status."""

    def __init__(self, message: str, status: int = NOT_GRADED):
        super().__init__(message)
        self.status = status


@dataclass
class Grade:
    parameters: int
    budget: int
    errors: int
    accuracy: float
    tier: str | None  # the best tier reached, None below "simple"


def load_builder(spec: str):
    """The function named by ``path/to/model.py[:function]`` (default ``build_model``)."""
    path_text, _, name = spec.partition(":") if not Path(spec).is_file() else (spec, "", "")
    path, name = Path(path_text), name or "build_model"
    if not path.is_file():
        raise SubmissionError(f"no model file at {path}: hand in a .py file that defines {name}()")
    module_name = f"_submission_{abs(hash(path.resolve()))}"
    spec_obj = importlib.util.spec_from_file_location(module_name, path)
    if spec_obj is None or spec_obj.loader is None:
        raise SubmissionError(f"{path} cannot be imported as Python: is it a .py file?")
    module = importlib.util.module_from_spec(spec_obj)
    sys.path.insert(0, str(path.resolve().parent))  # so it can import files beside it
    try:
        spec_obj.loader.exec_module(module)
    except Exception as exc:
        raise SubmissionError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(path.resolve().parent))
    builder = getattr(module, name, None)
    if not callable(builder):
        defined = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise SubmissionError(f"{path} has no function {name}(); it defines: {', '.join(defined) or 'nothing callable'}")
    return builder


def build(spec: str) -> nn.Module:
    builder = load_builder(spec)
    try:
        model = builder()
    except NotImplementedError:
        raise SubmissionError(f"{spec}: build_model() still raises NotImplementedError: write your network there")
    except Exception as exc:
        raise SubmissionError(f"{spec}: building the model failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise SubmissionError(f"{spec}: the builder must return a torch.nn.Module, it returned {type(model).__name__}")
    return model


def load_weights(model: nn.Module, path) -> None:
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"no weights file at {path}: save them with torch.save(model.state_dict(), '{path.name}')")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SubmissionError(
            f"{path} could not be loaded with weights_only=True ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
            "Save the state dict, not the model: torch.save(model.state_dict(), path)") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SubmissionError(f"{path} does not hold a state dict (names -> tensors): save model.state_dict()")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise SubmissionError(f"the weights in {path} do not fit the network that build_model() returns:\n{exc}") from exc


def measure(model_spec: str, weights, budget: int = BUDGET) -> Grade:
    """Build, count, load and measure a submission (``tier`` left None); raises ``SubmissionError``
    when it cannot be graded."""
    from .data import load_mnist

    model = build(model_spec)
    parameters = count_parameters(model)
    if parameters > budget:
        raise SubmissionError(f"{model_spec}: {parameters:,} parameters, over the budget of {budget:,} by "
                              f"{parameters - budget:,}. Parameters are counted, not bytes (C20): make the network smaller.",
                              OVER_BUDGET)
    load_weights(model, weights)
    x_test, y_test = load_mnist(train=False)
    model.to(pick_device()).eval()
    try:
        with torch.no_grad():
            out = model(x_test[:2].to(pick_device()))
    except Exception as exc:
        raise SubmissionError(f"the model failed on a batch of MNIST images (shape (2, 1, 28, 28)): "
                              f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 10):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise SubmissionError(f"the model must return one row of 10 class scores per image: for 2 images, shape "
                              f"(2, 10); it returned {shape}")
    result = evaluate(model, x_test, y_test)
    return Grade(parameters, budget, result.errors, result.accuracy, None)


def grade(model_spec: str, weights, budget: int = BUDGET, tiers: dict | None = None) -> Grade:
    """``measure``, then the best tier whose reference accuracy the submission reaches
    (``tiers``: ``{name: accuracy}``, read from tiers.json when not given)."""
    g = measure(model_spec, weights, budget)
    tiers = load_tiers()["tiers"] if tiers is None else tiers
    reached = [name for name in TIER_NAMES if g.accuracy >= tiers[name]]
    g.tier = reached[-1] if reached else None
    return g


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lecture_utils.grade",
                                     description="Grade a homework submission: parameter budget, test accuracy, tier.")
    parser.add_argument("model", help="the .py file defining build_model() (or file.py:function)")
    parser.add_argument("weights", help="the state dict saved with torch.save(model.state_dict(), path)")
    args = parser.parse_args(argv)
    tiers = load_tiers()["tiers"]
    try:
        g = grade(args.model, args.weights, tiers=tiers)
    except SubmissionError as exc:
        print(f"not graded: {exc}", file=sys.stderr)
        return exc.status
    print(f"parameters:    {g.parameters:,} of {g.budget:,} allowed")
    print(f"test accuracy: {100 * g.accuracy:.2f}% ({g.errors} errors of 10,000)")
    print("tiers (test accuracy of the reference solutions): " + ", ".join(
        f"{name} {100 * tiers[name]:.2f}% {'✓' if g.accuracy >= tiers[name] else '✗'}" for name in TIER_NAMES))
    print(f"tier reached:  {g.tier or 'none yet (below simple)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
