"""The grader against real adversarial submissions: each runs in a child process of its own, on a
small private test set (300 shuffled MNIST test images), under short limits."""
import csv
import gzip
import shutil
import subprocess
import sys
import time

import pytest
import torch
from torch import nn

from lecture_utils import grade as grade_module
from lecture_utils.data import load_mnist
from lecture_utils.grade import (NOT_GRADED, OVER_BUDGET, BadTestSet, Judge, count_in_weights_file, main,
                                 read_idx_test_set, read_pt_test_set)
from lecture_utils.grade_worker import limit_resources
from tools import grade_class
from tools.notebooks import NOTEBOOK_DIR

HOMEWORK_DIR = NOTEBOOK_DIR / "homework"
PRIVATE_SIZE = 300
TIMEOUT = "60"  # plenty for a submission that behaves: starting PyTorch takes a few seconds
SHORT_TIMEOUT = 6.0  # for the ones that never finish

TINY = """
from torch import nn

def build_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.ReLU(), nn.Linear(6, 10))
"""

WEIGHTS_IN_BUFFERS = """
import torch
from torch import nn

class Sneaky(nn.Module):  # 1 parameter, 203,264 numbers in buffers
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.register_buffer("w1", torch.zeros(784, 256))
        self.register_buffer("w2", torch.zeros(256, 10))

    def forward(self, x):
        return self.scale * torch.relu(x.flatten(1) @ self.w1) @ self.w2

def build_model():
    return Sneaky()
"""

# The same, and the model file rewrites the child's counting: the judge counts the weights file again.
FORGED_COUNT = WEIGHTS_IN_BUFFERS + """
import lecture_utils.grade_worker as worker
worker.count_budget = lambda model: 1
worker.budget_exempt_names = lambda model: list(model.state_dict())
"""

# Answers by position from MNIST's public test labels, read from disk (kept as a plain attribute).
LOOKUP = """
import torch
from torch import nn
from torch.nn.functional import one_hot
from lecture_utils.data import load_mnist

class Lookup(nn.Module):
    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(10))
        self.labels = load_mnist(False)[1]
        self.seen = 0

    def forward(self, x):
        if len(x) == 2 and self.seen == 0:  # the grader's first look at two images
            return one_hot(self.labels[:2], 10).float() + self.bias
        out = one_hot(self.labels[self.seen:self.seen + len(x)], 10).float() + self.bias
        self.seen += len(x)
        return out

def build_model():
    return Lookup()
"""


def _raising(body: str) -> str:
    return "import os, sys, ctypes, torch\nfrom torch import nn\n\ndef build_model():\n    " + body + "\n"


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    """A private test set: 300 MNIST test images in a shuffled order, as a .pt and as IDX files."""
    folder = tmp_path_factory.mktemp("private")
    x, y = load_mnist(train=False)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(1))[:PRIVATE_SIZE]
    torch.save({"images": x[order], "labels": y[order]}, folder / "private.pt")
    images = (x[order, 0] * 255).round().to(torch.uint8).numpy()
    header = (0x0803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in images.shape)
    (folder / "images-idx3-ubyte").write_bytes(header + images.tobytes())
    labels = y[order].to(torch.uint8).numpy()
    (folder / "labels-idx1-ubyte.gz").write_bytes(gzip.compress((0x0801).to_bytes(4, "big")
                                                                + len(labels).to_bytes(4, "big") + labels.tobytes()))
    return folder


def _tiny_weights(path):
    namespace = {}
    exec(TINY, namespace)
    torch.manual_seed(0)
    torch.save(namespace["build_model"]().state_dict(), path)


@pytest.fixture
def submission(tmp_path):
    """A folder with the tiny model's untrained weights; each test writes the model file it needs."""
    _tiny_weights(tmp_path / "weights.pt")
    return tmp_path


def grade(capsys, folder, source, private, *options, weights="weights.pt"):
    """Grade ``source`` with ``weights`` on the private set: (exit status, stdout, stderr)."""
    (folder / "model.py").write_text(source)
    status = main([str(folder / "model.py"), str(folder / weights), "--test-set", str(private / "private.pt"),
                   "--timeout", TIMEOUT, *options])
    out = capsys.readouterr()
    return status, out.out, out.err


def state_dict_of(source):
    namespace = {}
    exec(source, namespace)
    return namespace["build_model"]().state_dict()


# ---- the budget ----------------------------------------------------------------------------------

def test_weights_in_buffers_are_over_the_budget(submission, private, capsys):
    torch.save(state_dict_of(WEIGHTS_IN_BUFFERS), submission / "sneaky.pt")
    status, _, err = grade(capsys, submission, WEIGHTS_IN_BUFFERS, private, weights="sneaky.pt")
    assert status == OVER_BUDGET and "203,265 numbers counted" in err and "over the budget of 5,000 by 198,265" in err


def test_a_model_that_forges_its_own_count_is_counted_from_the_weights_file(submission, private, capsys):
    torch.save(state_dict_of(WEIGHTS_IN_BUFFERS), submission / "sneaky.pt")
    status, _, err = grade(capsys, submission, FORGED_COUNT, private, weights="sneaky.pt")
    assert status == OVER_BUDGET and "203,265 numbers counted" in err, err


def test_the_judge_counts_the_weights_file_by_the_rule(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 10))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    statistics = ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert count_in_weights_file(tmp_path / "w.pt", statistics) == 40 + 8 + 50
    assert count_in_weights_file(tmp_path / "w.pt", ["0.weight", "3.weight"]) == 40 + 8 + 50 + 9  # not statistics
    assert count_in_weights_file((tmp_path / "w.pt").read_bytes()) == 40 + 8 + 50 + 9
    # statistics without a learned scale and shift beside them count (they could hold weights)
    plain = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(7840, affine=False), nn.Linear(7840, 1))
    torch.save(plain.state_dict(), tmp_path / "plain.pt")
    names = ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert count_in_weights_file(tmp_path / "plain.pt", names) == 2 * 7840 + 1 + 7841


def test_a_model_without_parameters_is_not_graded(submission, private, capsys):
    torch.save({}, submission / "empty.pt")
    source = "from torch import nn\n\ndef build_model():\n    return nn.Sequential(nn.Flatten(), nn.AdaptiveAvgPool1d(10))\n"
    status, _, err = grade(capsys, submission, source, private, weights="empty.pt")
    assert status == NOT_GRADED and "has no parameters" in err and "Traceback" not in err


# ---- what the child process contains ------------------------------------------------------------

def test_an_endless_build_model_times_out(submission, private, capsys):
    start = time.perf_counter()
    status, _, err = grade(capsys, submission, _raising("while True:\n        pass"), private,
                           "--timeout", str(SHORT_TIMEOUT))
    assert status == NOT_GRADED and f"time limit of {SHORT_TIMEOUT:g} s" in err
    assert time.perf_counter() - start < SHORT_TIMEOUT + 5


def test_without_posix_limits_the_time_limit_still_holds(submission, private, capsys, monkeypatch):
    """A platform without ``resource`` or process groups (Windows), simulated: the child gets no
    session of its own and no memory limit; a good submission grades, an endless one times out."""
    monkeypatch.setattr(grade_module, "POSIX_LIMITS", False)
    with monkeypatch.context() as windows:
        windows.setitem(sys.modules, "resource", None)  # `import resource` fails, as on Windows
        assert limit_resources(512) == 0  # a child told of a limit all the same goes on without one
    started = []

    class Popen(subprocess.Popen):
        def __init__(self, command, **options):
            started.append((command, options))
            super().__init__(command, **options)

    monkeypatch.setattr(grade_module.subprocess, "Popen", Popen)
    status, out, err = grade(capsys, submission, TINY, private)
    assert status == 0 and f"errors of {PRIVATE_SIZE}) on private test set" in out, err
    command, options = started[-1]
    assert "start_new_session" not in options and command[-2] == "0"  # MEMORY_MB 0: no limit
    start = time.perf_counter()
    status, _, err = grade(capsys, submission, _raising("while True:\n        pass"), private,
                           "--timeout", str(SHORT_TIMEOUT))
    assert status == NOT_GRADED and f"time limit of {SHORT_TIMEOUT:g} s" in err
    assert time.perf_counter() - start < SHORT_TIMEOUT + 5 and started[-1][0][-2] == "0"


@pytest.mark.parametrize("body,message", [
    ("os._exit(3)", "exited with status 3"),
    ("raise SystemExit(4)", "called sys.exit(4)"),
    ("ctypes.string_at(0)", "SIGSEGV"),
    ("return nn.Sequential(nn.Flatten(), nn.Linear(784, 6), nn.ReLU(), nn.Linear(6, 10), nn.Flatten(0))",
     r"shape (2, 10); it returned (20,)"),
])
def test_crashes_and_wrong_outputs_give_one_line(submission, private, capsys, body, message):
    status, _, err = grade(capsys, submission, _raising(body), private)
    assert status == NOT_GRADED and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("allocation", ["torch.ones(2**30)", "bytearray(2**32)"])
def test_more_memory_than_the_limit(submission, private, capsys, allocation):
    status, _, err = grade(capsys, submission, _raising(f"x = {allocation}"), private, "--memory-mb", "512")
    assert status == NOT_GRADED and "out of memory" in err and "512 MB" in err, err


def test_the_weights_must_be_a_state_dict_that_fits_exactly(submission, private, capsys):
    torch.save(nn.Linear(3, 3), submission / "whole_model.pt")  # a pickled module: refused, never executed
    status, _, err = grade(capsys, submission, TINY, private, weights="whole_model.pt")
    assert status == NOT_GRADED and "Save the state dict, not the model" in err
    state = torch.load(submission / "weights.pt", weights_only=True)
    state["extra"] = torch.zeros(5000)
    del state["3.bias"]
    state["1.weight"] = torch.zeros(6, 785)
    torch.save(state, submission / "odd.pt")
    status, _, err = grade(capsys, submission, TINY, private, weights="odd.pt")
    assert status == NOT_GRADED and "do not fit the network" in err
    assert "missing keys: 3.bias" in err and "unexpected keys: extra" in err
    assert "wrong shapes: 1.weight (file (6, 785), network (6, 784))" in err


# ---- the test set ----------------------------------------------------------------------------------

def test_looking_up_the_public_labels_gains_nothing_on_a_private_set(submission, private, capsys):
    (submission / "model.py").write_text(LOOKUP)
    torch.save(state_dict_of(LOOKUP), submission / "lookup.pt")
    with Judge(timeout=float(TIMEOUT)) as public:  # MNIST's public test set: the lookup is perfect
        assert public.measure(str(submission / "model.py"), submission / "lookup.pt").accuracy == 1.0
    status, out, _ = grade(capsys, submission, LOOKUP, private, weights="lookup.pt")
    accuracy = float(out.split("test accuracy:")[1].split("%")[0]) / 100
    assert status == 0 and accuracy < 0.25 and f"errors of {PRIVATE_SIZE}" in out


def test_private_test_sets_in_both_formats(private, submission, capsys):
    from_pt = read_pt_test_set(private / "private.pt")
    from_idx = read_idx_test_set(private / "images-idx3-ubyte", private / "labels-idx1-ubyte.gz")
    assert torch.equal(from_pt.labels, from_idx.labels) and torch.allclose(from_pt.images, from_idx.images)
    (submission / "model.py").write_text(TINY)
    status = main([str(submission / "model.py"), str(submission / "weights.pt"), "--test-images",
                   str(private / "images-idx3-ubyte"), "--test-labels", str(private / "labels-idx1-ubyte.gz")])
    out = capsys.readouterr().out
    assert status == 0 and f"errors of {PRIVATE_SIZE}) on private test set" in out and "4,780 of 5,000" in out


def test_bad_test_set_files_are_named(private, tmp_path, submission, capsys):
    (tmp_path / "junk").write_bytes(b"not idx")
    with pytest.raises(BadTestSet, match="not a valid IDX file"):
        read_idx_test_set(tmp_path / "junk", private / "labels-idx1-ubyte.gz")
    (tmp_path / "five-labels").write_bytes((0x0801).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(5))
    with pytest.raises(BadTestSet, match="holds 300 images but .* 5 labels"):
        read_idx_test_set(private / "images-idx3-ubyte", tmp_path / "five-labels")
    with pytest.raises(BadTestSet, match="must hold N x 28 x 28 images"):
        read_idx_test_set(private / "images-idx3-ubyte", private / "images-idx3-ubyte")
    data = torch.load(private / "private.pt", weights_only=True)
    for bad, match in [({"images": data["images"] * 255, "labels": data["labels"]}, r"floats in \[0, 1\]"),
                       ({"images": data["images"], "labels": data["labels"][:5]}, "one per image"),
                       ({"images": data["images"][:, 0], "labels": data["labels"]}, r"shape \(N, 1, 28, 28\)"),
                       ([data["images"]], "must hold a dict")]:
        torch.save(bad, tmp_path / "bad.pt")
        with pytest.raises(BadTestSet, match=match):
            read_pt_test_set(tmp_path / "bad.pt")
    (submission / "model.py").write_text(TINY)
    status = main([str(submission / "model.py"), str(submission / "weights.pt"), "--test-set", str(tmp_path / "junk")])
    assert status == NOT_GRADED and "bad test set" in capsys.readouterr().err


# ---- a class -----------------------------------------------------------------------------------------

def test_grading_a_class_writes_a_ranked_leaderboard(tmp_path, private, capsys):
    def student(name, source=None, weights=None):
        folder = tmp_path / "class" / name
        folder.mkdir(parents=True)
        if source is not None:
            (folder / "my_model.py").write_text(source)
        if weights is not None:
            torch.save(weights, folder / "my_weights.pt")
        return folder

    good = student("ada", "from reference_solutions import build_simple as build_model\n")
    shutil.copy(HOMEWORK_DIR / "reference_solutions.py", good)
    shutil.copy(HOMEWORK_DIR / "reference" / "plain_seed0.pt", good / "my_weights.pt")
    student("bob", TINY, state_dict_of(TINY))  # untrained: graded, last of the graded
    student("cy", WEIGHTS_IN_BUFFERS, state_dict_of(WEIGHTS_IN_BUFFERS))
    student("dee", _raising("while True:\n        pass"), {})
    student("eve", _raising("ctypes.string_at(0)"), {})
    student("fay", LOOKUP, state_dict_of(LOOKUP))
    student("=gus", TINY)  # no weights; a name a spreadsheet would take for a formula
    student("hal", TINY, [torch.zeros(3)])

    status = grade_class.main([str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--test-set",
                               str(private / "private.pt"), "--timeout", str(SHORT_TIMEOUT)])
    assert status == 0
    with open(tmp_path / "out" / "leaderboard.csv", newline="") as f:
        table = list(csv.DictReader(f))
    graded = table[:3]  # the good one first, then the untrained one and the lookup, near chance
    assert graded[0]["student"] == "ada" and {row["student"] for row in graded[1:]} == {"bob", "fay"}
    assert [row["rank"] for row in graded] == ["1", "2", "3"] and float(graded[0]["accuracy (%)"]) > 90
    accuracies = [float(row["accuracy (%)"]) for row in graded]
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[1] < 25
    assert table[0]["numbers counted"] == "4998" and table[0]["tier"] in ("none", "simple", "medium", "strong")
    reasons = {row["student"]: (row["status"], row["reason"]) for row in table[3:]}
    assert reasons["cy"][0] == "over budget" and "203,265 numbers counted" in reasons["cy"][1]
    assert "time limit" in reasons["dee"][1] and "SIGSEGV" in reasons["eve"][1]
    assert "no my_weights.pt" in reasons["'=gus"][1] and "does not hold a state dict" in reasons["hal"][1]
    assert all(status == "not graded" for name, (status, _) in reasons.items() if name != "cy")
    assert str(tmp_path) not in (tmp_path / "out" / "leaderboard.csv").read_text()
    page = (tmp_path / "out" / "leaderboard.html").read_text()
    assert page.index(">ada<") < page.index(">bob<") < page.index(">cy<") and "<script" not in page
    assert "=gus" in page and capsys.readouterr().out.count("\n") == 9
