"""The grader's child process: it builds and runs one submission, away from the judging process.

``python -m lecture_utils.grade_worker MODEL_SPEC WEIGHTS IMAGES RESULT MEMORY_MB BUDGET``
(started by ``lecture_utils.grade``, not by hand). It loads the test images (a tensor file, no
labels: they stay with the judge), limits its own memory to what Python and PyTorch have taken
plus ``MEMORY_MB`` and the files it may write, then imports the model file, builds the network,
counts it against ``BUDGET`` (``count_budget``), loads the weights (``weights_only=True``, keys and
shapes exactly the network's), and computes its scores for every image on the CPU. It writes
RESULT, a ``torch.save`` of plain values (``logits``, ``counted``, ``parameters``, ``exempt``; or
``error`` and ``status``), and ends with ``os._exit(0)``, so no exit handler of the submission runs
after it. Anything else (an exit, a signal, no RESULT) the judge reports as a crash.

The limits are POSIX (``resource``): Linux and macOS only. Where the judge's ``POSIX_LIMITS`` is
false (Windows) it passes ``MEMORY_MB`` 0 and the child sets no limit; where macOS refuses an
address-space limit, it goes on without one. The judge's time limit holds everywhere.

Nothing here is trusted by the judge beyond what it checks itself: the submission's code runs in
this process and could change it. What it cannot change is that it never sees the labels, and
that the judge counts the numbers in the weights file again.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

from .grade import OVER_BUDGET, SubmissionError, first_line, over_budget_message, shape_message
from .measure import budget_exempt_names, count_budget, count_parameters
from .training import predict_logits

MAX_FILE_BYTES = 256 * 2**20  # the largest file the child may write (its output, its result)
SHOWN_KEYS = 6  # keys named in a message about a state dict that does not fit


def _mapped_bytes() -> int | None:
    """The process's virtual memory now: Linux's VmSize, else ``ps``'s VSZ (macOS); None where
    neither can be read."""
    try:
        return int(re.search(r"VmSize:\s*(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024
    except (OSError, AttributeError):
        pass
    try:
        return int(subprocess.run(["ps", "-o", "vsz=", "-p", str(os.getpid())], capture_output=True, text=True,
                                  timeout=10, check=True).stdout) * 1024
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def _set_limit(resource, kind: int, value: int) -> bool:
    """``setrlimit(kind, value)``; False where the system refuses it (macOS may, for ``RLIMIT_AS``)."""
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        return False
    return True


def limit_resources(memory_mb: int) -> int:
    """At most ``memory_mb`` MB of address space beyond what the process has mapped now (Python,
    PyTorch), and no file written larger than ``MAX_FILE_BYTES``. Returns the memory limit in
    force: ``memory_mb``, or 0 where there is none (``memory_mb`` 0, as on Windows; the memory in
    use unreadable; or the limit refused, as macOS may)."""
    if memory_mb <= 0:
        return 0
    try:
        import resource  # POSIX only: the judge passes 0 where there is none
    except ImportError:
        return 0

    _set_limit(resource, resource.RLIMIT_FSIZE, MAX_FILE_BYTES)
    mapped = _mapped_bytes()
    if mapped is None or not _set_limit(resource, resource.RLIMIT_AS, mapped + memory_mb * 2**20):
        return 0
    return memory_mb


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "bad_alloc" in text or "out of memory" in text.lower()))


def guarded(what: str, memory_mb: int, call):
    """``call()``, running the submission's code; whatever it raises (an exit included) becomes a
    one-line ``SubmissionError``: ``what`` (say, "building the model failed"), then why."""
    try:
        return call()
    except SubmissionError:
        raise
    except SystemExit as exc:
        raise SubmissionError(f"{what}: it called sys.exit({exc.code!r}); a model file must not end the program") from None
    except BaseException as exc:  # the submission's code: any failure is its message, never a traceback
        if _out_of_memory(exc):
            limit = f", it asked for more than the limit of {memory_mb:,} MB" if memory_mb > 0 else ""
            raise SubmissionError(f"{what}: out of memory{limit}") from None
        raise SubmissionError(f"{what}: {type(exc).__name__}: {exc}") from None


def load_builder(spec: str, memory_mb: int):
    """The function named by ``path/to/model.py[:function]`` (default ``build_model``). The model
    file's folder stays on ``sys.path``, so it can import files beside it."""
    path_text, _, name = spec.partition(":") if not Path(spec).is_file() else (spec, "", "")
    path, name = Path(path_text), name or "build_model"
    if not path.is_file():
        raise SubmissionError(f"no model file at {path}: hand in a .py file that defines {name}()")
    module_name = f"_submission_{abs(hash(path.resolve()))}"
    spec_obj = importlib.util.spec_from_file_location(module_name, path)
    if spec_obj is None or spec_obj.loader is None:
        raise SubmissionError(f"{path} cannot be imported as Python: is it a .py file?")
    module = importlib.util.module_from_spec(spec_obj)
    sys.path.insert(0, str(path.resolve().parent))
    guarded(f"importing {path} failed", memory_mb, lambda: spec_obj.loader.exec_module(module))
    builder = getattr(module, name, None)
    if not callable(builder):
        defined = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise SubmissionError(f"{path} has no function {name}(); it defines: {', '.join(defined) or 'nothing callable'}")
    return builder


def build(spec: str, memory_mb: int) -> nn.Module:
    """The submission's network: ``build_model()`` (or the function ``spec`` names) called once,
    seeded, its failures one-line ``SubmissionError``s; it must return an ``nn.Module``."""
    builder = load_builder(spec, memory_mb)
    torch.manual_seed(0)

    def call_builder():
        try:
            return builder()
        except NotImplementedError:
            raise SubmissionError(f"{spec}: build_model() still raises NotImplementedError: write your network there") from None

    model = guarded(f"{spec}: building the model failed", memory_mb, call_builder)
    if not isinstance(model, nn.Module):
        raise SubmissionError(f"{spec}: the builder must return a torch.nn.Module, it returned {type(model).__name__}")
    return model


def _listed(names) -> str:
    names = sorted(names)
    return ", ".join(names[:SHOWN_KEYS]) + (f" and {len(names) - SHOWN_KEYS} more" if len(names) > SHOWN_KEYS else "")


def state_dict_mismatch(expected: dict, given: dict) -> str | None:
    """What differs between the network's state dict and the file's (keys and shapes), or None."""
    missing, unexpected = set(expected) - set(given), set(given) - set(expected)
    shapes = [f"{k} (file {tuple(given[k].shape)}, network {tuple(expected[k].shape)})"
              for k in sorted(set(expected) & set(given)) if given[k].shape != expected[k].shape]
    parts = [f"missing keys: {_listed(missing)}" if missing else "",
             f"unexpected keys: {_listed(unexpected)}" if unexpected else "",
             f"wrong shapes: {_listed(shapes)}" if shapes else ""]
    return "; ".join(p for p in parts if p) or None


def load_state(path) -> dict:
    """The state dict in ``path``, loaded with ``weights_only=True`` (a file that would run code is
    refused); ``SubmissionError`` with what is wrong otherwise."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        why = (f"no weights file at {path}: save them with torch.save(model.state_dict(), '{path.name}')"
               if not path.is_file() else
               f"{path} could not be loaded with weights_only=True ({type(exc).__name__}: {first_line(exc)}). "
               "Save the state dict, not the model: torch.save(model.state_dict(), path)")
        raise SubmissionError(why) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise SubmissionError(f"{path} does not hold a state dict (names -> tensors): save model.state_dict()")
    return state


def load_weights(model: nn.Module, path, memory_mb: int) -> None:
    """Load the state dict in ``path`` into ``model``: its keys and shapes must be exactly the model's."""
    state = load_state(path)
    expected = guarded("reading the network's state dict failed", memory_mb, model.state_dict)
    mismatch = state_dict_mismatch(expected, state)
    if mismatch:
        raise SubmissionError(f"the weights in {path} do not fit the network that build_model() returns: {mismatch}")
    guarded(f"loading the weights in {path} failed", memory_mb, lambda: model.load_state_dict(state))


def run_submission(spec: str, weights, images: torch.Tensor, budget: int, memory_mb: int) -> dict:
    """Build, count, load and run one submission: its scores for ``images`` and its counts."""
    model = build(spec, memory_mb)
    counted = guarded("counting the model's numbers failed", memory_mb, lambda: count_budget(model))
    if counted > budget:
        raise SubmissionError(over_budget_message(spec, counted, budget), OVER_BUDGET)
    parameters = guarded("counting the model's parameters failed", memory_mb, lambda: count_parameters(model))
    if parameters == 0:
        raise SubmissionError(f"{spec}: the model has no parameters (model.parameters() is empty), so there is "
                              "nothing to train: give it layers with weights (nn.Linear, nn.Conv2d ...)")
    exempt = guarded("naming batch norm's running statistics failed", memory_mb, lambda: budget_exempt_names(model))
    load_weights(model, weights, memory_mb)

    probe = images[:2]  # a first look, for a clear message

    def first_look():
        model.eval()
        with torch.no_grad():
            return model(probe)

    out = guarded(f"the model failed on a batch of MNIST images (shape {tuple(probe.shape)})", memory_mb, first_look)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(probe), 10):
        raise SubmissionError(shape_message(len(probe), out))
    logits = guarded(f"the model failed on the {len(images):,} test images", memory_mb,
                     lambda: predict_logits(model, images, device="cpu"))
    if tuple(logits.shape) != (len(images), 10):
        raise SubmissionError(shape_message(len(images), logits))
    return {"logits": logits.detach().float().contiguous(), "counted": int(counted), "parameters": int(parameters),
            "exempt": [str(name) for name in exempt]}


def main(argv=None) -> None:
    """The child's whole run (arguments as in the module's docstring): load the images, limit
    itself, judge the submission, write RESULT, then ``os._exit(0)``."""
    spec, weights, images_path, result_path, memory_mb, budget = argv if argv is not None else sys.argv[1:]
    memory_mb, budget = int(memory_mb), int(budget)
    images = torch.load(images_path, weights_only=True)
    memory_mb = limit_resources(memory_mb)  # 0 when no memory limit holds
    try:
        answer = run_submission(spec, weights, images, budget, memory_mb)
    except SubmissionError as exc:
        answer = {"error": str(exc), "status": exc.status}
    tmp = Path(f"{result_path}.tmp")
    torch.save(answer, tmp)
    os.replace(tmp, result_path)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no exit handler of the submission runs after the result is written


if __name__ == "__main__":
    main()
