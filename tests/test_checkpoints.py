import io
import pickle

import pytest
import torch

from lecture_utils import MLP, build_model, evaluate, load_mnist
from lecture_utils.checkpoints import CHECKPOINT_DIR, CheckpointError, load_checkpoint, save_checkpoint
from lecture_utils.pretrained import TEACHERS, load_teacher, teacher_path

CONFIG = {"model": {"arch": "mlp", "hidden": [8]}, "epochs": 1}


def test_round_trip_is_exact_and_atomic(tmp_path):
    model = MLP(hidden=(8,))
    path = save_checkpoint(tmp_path / "m.pt", model, CONFIG, {"test_accuracy": 0.5})
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind
    loaded, ckpt = load_checkpoint(path, CONFIG)
    assert ckpt["metrics"] == {"test_accuracy": 0.5}
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded(x), model(x))


def test_other_configuration_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", MLP(hidden=(8,)), CONFIG)
    other = {"model": {"arch": "mlp", "hidden": [16]}, "epochs": 1}
    with pytest.raises(CheckpointError, match=r"model\.hidden: asked for \[16\], checkpoint has \[8\]"):
        load_checkpoint(path, other)
    with pytest.raises(CheckpointError, match="epochs"):
        load_checkpoint(path, {**CONFIG, "epochs": 2})


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="make checkpoints"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(bad)
    torch.save({"weights": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a lecture_utils checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


class Payload:
    def __reduce__(self):
        return (print, ("this code must not run",))


def test_pickled_code_is_refused(tmp_path):
    """weights_only=True: a file that would run code when unpickled is rejected."""
    path = tmp_path / "evil.pt"
    buffer = io.BytesIO()
    torch.save({"format": 1, "config": CONFIG, "state_dict": Payload()}, buffer, pickle_module=pickle)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(path)


def test_save_needs_the_model_config(tmp_path):
    with pytest.raises(ValueError, match="model"):
        save_checkpoint(tmp_path / "m.pt", MLP(), {"epochs": 1})


COMMITTED = sorted(CHECKPOINT_DIR.glob("*.pt"))


def test_lecture_teacher_is_committed_and_small():
    for name in TEACHERS:
        assert teacher_path(name, "lecture") in COMMITTED
    for path in COMMITTED:
        assert path.stat().st_size <= 2_000_000, f"{path} is over 2 MB"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_committed_checkpoint_reloads_and_its_accuracy_holds(path):
    model, ckpt = load_checkpoint(path)
    x, y = load_mnist(train=False)
    measured = evaluate(model, x, y)
    stored = ckpt["metrics"]["test_accuracy"]
    assert abs(measured.accuracy - stored) <= 3 / len(y), (measured.accuracy, stored)


def test_teacher_loads_with_its_recipe():
    model, accuracy = load_teacher("teacher", "lecture", train_if_missing=False)
    assert accuracy > 0.985
    # the loaded network is the one its recipe builds, with trained (not fresh) weights
    fresh = build_model(**TEACHERS["teacher"]["lecture"]["model"])
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in fresh.state_dict().items()}
    assert not all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    with pytest.raises(ValueError, match="unknown teacher"):
        load_teacher("nobody")
