"""The homework's grader: ``python -m lecture_utils.grade MODEL.py WEIGHTS.pt [options]``.

A submission is two files:

* ``MODEL.py`` with a function ``build_model()`` that returns the network (untrained);
  ``MODEL.py:other_name`` picks another function;
* ``WEIGHTS.pt``, its trained weights: ``torch.save(model.state_dict(), "WEIGHTS.pt")``.

**The budget** (``count_budget``): every number the model carries counts, in its parameters and in
its buffers alike, except batch norm's running statistics (``running_mean``, ``running_var``,
``num_batches_tracked`` of batch-norm layers with a learned scale and shift). Numbers, not bytes (C20).

**How it judges.** The submission's code never runs in the grader's process. A child process
(``lecture_utils.grade_worker``) imports MODEL.py, builds the network, counts it, loads the
weights (``weights_only=True``: a weights file cannot run code; its keys and shapes must be
exactly the network's) and computes the network's scores for the test *images*, on the CPU,
under a time limit (``--timeout``, default 120 s) and a memory limit (``--memory-mb``, default
4,096 MB beyond what Python and PyTorch take). The labels stay here: the grader compares the
scores with them, counts the numbers in the weights file again itself (the child's own count
cannot lower it) and prints the tier reached. A timeout, a crash, an exit, running out of memory
or a malformed file is one line saying so.

**Platforms.** The child process and its time limit work everywhere. The memory limit, and ending
whatever the child started along with it (its process group), need POSIX: they apply on Linux and
macOS only (macOS may refuse an address-space limit; the grading then goes on without one). On
Windows a submission runs under the time limit alone (``POSIX_LIMITS`` is false there).

**The test set**: MNIST's 10,000 test images by default (``load_mnist(train=False)``: float
images in [0, 1], shape (N, 1, 28, 28)). Their labels are public, so a model file could read them
and answer by lookup; a teacher grades on a private set instead: ``--test-images FILE
--test-labels FILE`` (MNIST's IDX format, plain or .gz) or ``--test-set FILE.pt`` (``{"images":
(N, 1, 28, 28) float in [0, 1], "labels": (N,) int64}``).

Exit status: 0 graded; 1 not graded (cannot be built, loaded or run; too slow; out of memory;
crashed; or a bad test set); 2 over the budget. ``tools.grade_class`` grades a whole class the
same way.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import PACKAGE_DIR
from .homework import BUDGET, TIER_NAMES, load_tiers
from .training import Evaluation

NOT_GRADED, OVER_BUDGET = 1, 2
DEFAULT_TIMEOUT = 120.0  # seconds for one submission: start, build, load, run on the test set
DEFAULT_MEMORY_MB = 4096  # beyond what Python and PyTorch take by themselves
MESSAGE_CHARS = 2000  # the longest message taken from the child
BUDGET_RULE = "parameters and buffers; batch norm's running statistics aside"

# What the platform allows, asked here and nowhere else. The child process and its time limit work
# everywhere (subprocess's timeout). The memory limit (``resource.setrlimit``, in the child) and
# ending the child's whole process group (a session of its own, ``os.killpg``) are POSIX: Linux and
# macOS. Without them (Windows) the child runs under the time limit alone and is ended by itself.
POSIX_LIMITS = (sys.platform != "win32" and hasattr(os, "killpg") and hasattr(signal, "SIGKILL")
                and importlib.util.find_spec("resource") is not None)
MEMORY_LIMIT_NOTE = "applied on Linux and macOS only; on Windows the time limit alone holds"


class SubmissionError(Exception):
    """What is wrong with a submission; ``status`` is the grader's exit status."""

    def __init__(self, message: str, status: int = NOT_GRADED):
        super().__init__(message)
        self.status = status


class BadTestSet(ValueError):
    """A test set file that cannot be used (the teacher's file, not the student's)."""


def over_budget_message(spec: str, counted: int, budget: int) -> str:
    """The one line for a model over the budget: what was counted, by how much it is over (C20)."""
    return (f"{spec}: {counted:,} numbers counted ({BUDGET_RULE}), over the budget of {budget:,} by "
            f"{counted - budget:,}. Numbers are counted, not bytes (C20): make the network smaller.")


def first_line(exc: BaseException) -> str:
    """An error's first line, without terminal colour codes (PyTorch puts some in its messages)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(exc).strip()).split("\n")[0]


def shape_message(n: int, out) -> str:
    """The one line for a model whose output ``out`` for ``n`` images is not (n, 10) class scores."""
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    return (f"the model must return one row of 10 class scores per image: for {n:,} images, shape "
            f"({n}, 10); it returned {shape}")


# ---- the test set --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabelledImages:
    """A test set: ``images`` (N, 1, 28, 28) float32 in [0, 1], ``labels`` (N,) int64 in 0-9."""

    images: torch.Tensor
    labels: torch.Tensor
    source: str  # what it is, for the report


def public_test_set() -> LabelledImages:
    """MNIST's 10,000 test images; their labels are public."""
    from .data import load_mnist

    images, labels = load_mnist(train=False)
    return LabelledImages(images, labels, "MNIST's public test set")


def checked_test_set(images, labels, source: str) -> LabelledImages:
    """``images`` and ``labels`` as a test set, or ``BadTestSet`` saying what is wrong."""
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise BadTestSet(f"{source}: images and labels must be tensors, not {type(images).__name__} "
                           f"and {type(labels).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28) or len(images) == 0:
        raise BadTestSet(f"{source}: the images must have shape (N, 1, 28, 28) with N > 0, not {tuple(images.shape)}")
    if not images.is_floating_point() or images.isnan().any() or images.min() < 0 or images.max() > 1:
        raise BadTestSet(f"{source}: the images must be floats in [0, 1] (as load_mnist gives them), "
                           f"not {images.dtype} in [{images.min().item():g}, {images.max().item():g}]")
    if labels.dtype != torch.int64 or tuple(labels.shape) != (len(images),):
        raise BadTestSet(f"{source}: the labels must be int64 of shape ({len(images)},), one per image, not "
                           f"{labels.dtype} {tuple(labels.shape)}")
    if labels.min() < 0 or labels.max() > 9:
        raise BadTestSet(f"{source}: the labels must be digits 0-9, not [{labels.min().item()}, {labels.max().item()}]")
    return LabelledImages(images.float().contiguous(), labels.contiguous(), source)


def read_idx_test_set(images_path, labels_path) -> LabelledImages:
    """A test set in MNIST's IDX format (plain or .gz): images N x 28 x 28 bytes, labels N bytes."""
    from .data import MNISTDataError, read_idx

    try:
        images, labels = read_idx(images_path), read_idx(labels_path)
    except (OSError, MNISTDataError) as exc:
        raise BadTestSet(f"cannot read the test set: {exc}") from None
    if images.ndim != 3 or labels.ndim != 1:
        raise BadTestSet(f"{images_path} must hold N x 28 x 28 images and {labels_path} N labels; they hold "
                           f"{images.shape} and {labels.shape}")
    if len(images) != len(labels):
        raise BadTestSet(f"{images_path} holds {len(images):,} images but {labels_path} {len(labels):,} labels")
    x = torch.from_numpy(images.copy()).float().div_(255.0).unsqueeze(1)
    return checked_test_set(x, torch.from_numpy(labels.astype("int64")), f"private test set {images_path}")


def read_pt_test_set(path) -> LabelledImages:
    """A test set saved as ``{"images": (N, 1, 28, 28) float in [0, 1], "labels": (N,) int64}``."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise BadTestSet(f"cannot read the test set {path} with weights_only=True: {type(exc).__name__}: "
                           f"{first_line(exc)}") from None
    if not isinstance(data, dict) or not {"images", "labels"} <= set(data):
        raise BadTestSet(f"{path} must hold a dict with 'images' and 'labels', not {type(data).__name__}"
                           + (f" with keys {sorted(map(str, data))}" if isinstance(data, dict) else ""))
    return checked_test_set(data["images"], data["labels"], f"private test set {path}")


def add_judging_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a judging command: the limits and a private test set."""
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                        help=f"seconds one submission may take, start to finish (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB, metavar="M",
                        help=f"memory one submission may take beyond Python and PyTorch (default "
                             f"{DEFAULT_MEMORY_MB}; {MEMORY_LIMIT_NOTE})")
    parser.add_argument("--test-images", metavar="FILE", help="a private test set's images, IDX format (plain or .gz)")
    parser.add_argument("--test-labels", metavar="FILE", help="its labels, IDX format (plain or .gz)")
    parser.add_argument("--test-set", metavar="FILE.pt",
                        help="a private test set: torch.save({'images': (N,1,28,28) floats in [0,1], 'labels': (N,) int64})")


def chosen_test_set(parser: argparse.ArgumentParser, args) -> LabelledImages:
    """The test set the options name (MNIST's public one if none); ``BadTestSet`` for a bad file."""
    if args.timeout <= 0 or args.memory_mb <= 0:
        parser.error("--timeout and --memory-mb must be positive")
    if args.test_set and (args.test_images or args.test_labels):
        parser.error("give either --test-set or --test-images with --test-labels, not both")
    if bool(args.test_images) != bool(args.test_labels):
        parser.error("--test-images and --test-labels go together")
    if args.test_set:
        return read_pt_test_set(args.test_set)
    if args.test_images:
        return read_idx_test_set(args.test_images, args.test_labels)
    return public_test_set()


# ---- judging -------------------------------------------------------------------------------------

@dataclass
class Grade:
    """A graded submission: the numbers counted against the budget, its errors and accuracy on
    the test set, and the best tier it reached."""

    parameters: int  # the numbers counted against the budget (count_budget: parameters and buffers)
    budget: int
    errors: int
    accuracy: float
    tier: str | None  # the best tier reached, None below "simple"
    images: int = 10_000  # the size of the test set


def _child_environment() -> dict:
    """The child's environment: this package importable (the folder it sits in), the CPU only."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_DIR.parent), env.get("PYTHONPATH")) if p)
    # the CPU only (the same result on every machine, and a memory limit CUDA would not start under);
    # no .pyc files in the student's folder; few malloc arenas (each reserves address space)
    env.update(CUDA_VISIBLE_DEVICES="", LECTURE_DEVICE="cpu", PYTHONDONTWRITEBYTECODE="1", MALLOC_ARENA_MAX="2")
    return env


def _start_options() -> dict:
    """``Popen``'s options for the child: a session of its own, so it leads a process group (POSIX)."""
    return {"start_new_session": True} if POSIX_LIMITS else {}


def _end(process: subprocess.Popen) -> None:
    """End the child and anything it started (it leads its own process group); without process
    groups (Windows), the child alone."""
    try:
        if POSIX_LIMITS:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:  # ended already (ProcessLookupError), or not ours to end (PermissionError)
        pass


def _last_line(log: Path) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 2000))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f" Its last output: {lines[-1].strip()[:300]}" if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


SIGNAL_MEANING = {
    "SIGSEGV": "a segmentation fault: the model's code crashed Python",
    "SIGKILL": "killed, most likely for using too much memory",
    "SIGXFSZ": "it wrote a file larger than the limit",
    "SIGABRT": "aborted",
}


MAX_WEIGHTS_BYTES = 256 * 2**20  # a weights file the judge reads whole (5,000 float32 numbers take 20 kB)


def _snapshot(weights) -> bytes | None:
    """The weights file's bytes before the submission runs (it could rewrite the file), None if absent."""
    path = Path(weights)
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        raise SubmissionError(f"{path} is {path.stat().st_size / 2**20:,.0f} MB: far more than a network within the "
                              f"budget needs; save model.state_dict() of the network you hand in")
    return path.read_bytes()


def _statistics_shaped(state: dict, names) -> set[str]:
    """Of the names the child says are batch norm's running statistics, those that look like them:
    a running mean and variance of one shape (one number per channel) beside a learned scale and
    shift (``weight``, ``bias``) of that shape, a step count of one number."""
    partner = {"running_mean": "running_var", "running_var": "running_mean"}
    exempt = set()
    def sibling(prefix, leaf):
        return f"{prefix}.{leaf}" if prefix else leaf

    for name in set(names) & set(state):
        prefix, _, leaf = name.rpartition(".")
        tensor = state[name]
        if leaf in partner and tensor.dim() == 1:
            siblings = [state.get(sibling(prefix, s)) for s in (partner[leaf], "weight", "bias")]
            if all(isinstance(s, torch.Tensor) and s.shape == tensor.shape for s in siblings):
                exempt.add(name)
    for name in set(names) & set(state):  # a step count, beside statistics that are exempt
        prefix, _, leaf = name.rpartition(".")
        if leaf == "num_batches_tracked" and state[name].numel() <= 1 and sibling(prefix, "running_mean") in exempt:
            exempt.add(name)
    return exempt


def count_in_weights_file(weights, exempt_names=()) -> int:
    """The numbers in a weights file (a path, or its bytes) as the budget counts them, each stored
    tensor once: every entry except those of ``exempt_names`` shaped like batch norm's running
    statistics. Counted in the judging process from the file alone (``weights_only=True``), so the
    submission's own code cannot lower it."""
    source = io.BytesIO(weights) if isinstance(weights, bytes) else weights
    state = torch.load(source, map_location="cpu", weights_only=True)
    exempt = _statistics_shaped(state, exempt_names)
    seen, total = set(), 0
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride())
        if name not in exempt and key not in seen:
            seen.add(key)
            total += tensor.numel()
    return total


class Judge:
    """Grades submissions one at a time, each in a child process of its own, on one test set
    (MNIST's public test set if none is given). Use it as a context manager: the test images are
    written once to a temporary file that every child reads."""

    def __init__(self, test_set: LabelledImages | None = None, budget: int = BUDGET,
                 timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB):
        self.test_set = test_set if test_set is not None else public_test_set()
        self.budget, self.timeout, self.memory_mb = budget, timeout, memory_mb
        self._dir: Path | None = None

    def __enter__(self) -> "Judge":
        self._dir = Path(tempfile.mkdtemp(prefix="grade-"))
        torch.save(self.test_set.images, self._dir / "images.pt")
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = None

    def _run_child(self, spec: str, weights) -> dict:
        """The child's answer for one submission; ``SubmissionError`` when it gave none."""
        result, log = self._dir / "result.pt", self._dir / "output.txt"
        result.unlink(missing_ok=True)
        memory_mb = self.memory_mb if POSIX_LIMITS else 0  # 0: no memory limit (the platform has none)
        command = [sys.executable, "-m", "lecture_utils.grade_worker", spec, str(weights),
                   str(self._dir / "images.pt"), str(result), str(memory_mb), str(self.budget)]
        with open(log, "wb") as output:
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                     env=_child_environment(), **_start_options())
            try:
                status = child.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _end(child)
                child.wait()
                raise SubmissionError(f"{spec}: not finished within the time limit of {self.timeout:g} s (starting, "
                                      f"building, loading and running on {len(self.test_set.labels):,} images): an "
                                      "endless loop, or far too slow") from None
            finally:
                _end(child)  # whatever it left running
        if status < 0:
            name = _signal_name(-status)
            raise SubmissionError(f"{spec}: the model's process was ended by {name} "
                                  f"({SIGNAL_MEANING.get(name, 'a signal')}).{_last_line(log)}")
        if status != 0:
            raise SubmissionError(f"{spec}: the model's process exited with status {status} before giving a result "
                                  f"(does the model file call os._exit() or exit()?).{_last_line(log)}")
        if not result.is_file():
            raise SubmissionError(f"{spec}: the model's process ended without a result (does the model file call "
                                  f"os._exit()?).{_last_line(log)}")
        try:
            answer = torch.load(result, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise SubmissionError(f"{spec}: the model's process left a malformed result ({type(exc).__name__})") from None
        if not isinstance(answer, dict):
            raise SubmissionError(f"{spec}: the model's process left a malformed result")
        return answer

    def measure(self, spec: str, weights) -> Grade:
        """Build, count, load and run a submission in a child process and score it (``tier``
        left None); ``SubmissionError`` when it cannot be graded."""
        if self._dir is None:
            with self:
                return self.measure(spec, weights)
        snapshot = _snapshot(weights)
        answer = self._run_child(spec, weights)
        if "error" in answer:
            status = answer.get("status")
            raise SubmissionError(str(answer["error"])[:MESSAGE_CHARS], status if status in (NOT_GRADED, OVER_BUDGET)
                                  else NOT_GRADED)
        logits, counted, exempt = answer.get("logits"), answer.get("counted"), answer.get("exempt", [])
        n = len(self.test_set.labels)
        if not isinstance(counted, int) or not isinstance(exempt, list) or not isinstance(logits, torch.Tensor):
            raise SubmissionError(f"{spec}: the model's process left a malformed result")
        if tuple(logits.shape) != (n, 10):
            raise SubmissionError(shape_message(n, logits))
        try:
            in_file = count_in_weights_file(snapshot if snapshot is not None else weights, [str(e) for e in exempt])
        except Exception as exc:  # the child loaded it, so only a file changed under us gets here
            raise SubmissionError(f"{weights} cannot be read again ({type(exc).__name__}): was it changed?") from None
        counted = max(counted, in_file)
        if counted > self.budget:
            raise SubmissionError(over_budget_message(spec, counted, self.budget), OVER_BUDGET)
        result = Evaluation(logits.float().argmax(dim=1), self.test_set.labels)
        return Grade(counted, self.budget, result.errors, result.accuracy, None, n)

    def grade(self, spec: str, weights, tiers: dict | None = None) -> Grade:
        """``measure``, then the best tier whose reference accuracy the submission reaches
        (``tiers``: ``{name: accuracy}``, read from tiers.json when not given)."""
        g = self.measure(spec, weights)
        g.tier = tier_reached(g.accuracy, load_tiers()["tiers"] if tiers is None else tiers)
        return g


def tier_reached(accuracy: float, tiers: dict) -> str | None:
    """The best tier (of ``TIER_NAMES``, in order) whose reference accuracy ``accuracy`` reaches; None below all."""
    reached = [name for name in TIER_NAMES if accuracy >= tiers[name]]
    return reached[-1] if reached else None


def measure(model_spec: str, weights, budget: int = BUDGET, test_set: LabelledImages | None = None,
            timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY_MB) -> Grade:
    """Build, count, load and measure one submission (``tier`` left None), in a child process;
    raises ``SubmissionError`` when it cannot be graded."""
    with Judge(test_set, budget, timeout, memory_mb) as judge:
        return judge.measure(model_spec, weights)


def grade(model_spec: str, weights, budget: int = BUDGET, tiers: dict | None = None,
          test_set: LabelledImages | None = None, timeout: float = DEFAULT_TIMEOUT,
          memory_mb: int = DEFAULT_MEMORY_MB) -> Grade:
    """``measure``, then the best tier whose reference accuracy the submission reaches
    (``tiers``: ``{name: accuracy}``, read from tiers.json when not given)."""
    with Judge(test_set, budget, timeout, memory_mb) as judge:
        return judge.grade(model_spec, weights, tiers)


def main(argv=None) -> int:
    """The command line: grade one submission and print its count, test accuracy and tier; the
    exit status is 0 graded, 1 not graded, 2 over the budget."""
    parser = argparse.ArgumentParser(prog="python -m lecture_utils.grade",
                                     description="Grade a homework submission: budget, test accuracy, tier.")
    parser.add_argument("model", help="the .py file defining build_model() (or file.py:function)")
    parser.add_argument("weights", help="the state dict saved with torch.save(model.state_dict(), path)")
    add_judging_arguments(parser)
    args = parser.parse_args(argv)
    tiers = load_tiers()["tiers"]
    try:
        test_set = chosen_test_set(parser, args)
    except BadTestSet as exc:
        print(f"not graded: bad test set: {exc}", file=sys.stderr)
        return NOT_GRADED
    try:
        g = grade(args.model, args.weights, tiers=tiers, test_set=test_set, timeout=args.timeout,
                  memory_mb=args.memory_mb)
    except SubmissionError as exc:
        print(f"not graded: {exc}", file=sys.stderr)
        return exc.status
    print(f"counted:       {g.parameters:,} of {g.budget:,} allowed ({BUDGET_RULE})")
    print(f"test accuracy: {100 * g.accuracy:.2f}% ({g.errors} errors of {g.images:,}) on {test_set.source}")
    print("tiers (test accuracy of the reference solutions on MNIST's test set): " + ", ".join(
        f"{name} {100 * tiers[name]:.2f}% {'✓' if g.accuracy >= tiers[name] else '✗'}" for name in TIER_NAMES))
    print(f"tier reached:  {g.tier or 'none yet (below simple)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
