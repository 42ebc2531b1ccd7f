import os
import shutil
import urllib.error

import pytest
import torch

from lecture_utils import config
from lecture_utils.data import (MNISTDataError, balanced_subset, drop_digit, load_mnist, make_loader,
                                train_val_split)

# From shared/data/README.md: label counts of the official files.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.parametrize("train,counts", [(True, TRAIN_COUNTS), (False, TEST_COUNTS)])
def test_load_mnist(train, counts):
    x, y = load_mnist(train)
    assert x.shape == (sum(counts), 1, 28, 28) and x.dtype == torch.float32
    assert y.dtype == torch.int64
    assert torch.bincount(y).tolist() == counts
    assert x.min() == 0 and x.max() == 1
    mean = 33.3184 if train else 33.7912
    assert abs(x.mean().item() * 255 - mean) < 1e-3


def test_load_returns_copies():
    x, _ = load_mnist(False)
    x.zero_()
    assert load_mnist(False)[0].sum() > 0


def _copy_raw(src_root, dst_root, gz: bool):
    raw = dst_root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in (src_root / "MNIST" / "raw").iterdir():
        if f.name.endswith(".gz") == gz:
            shutil.copy(f, raw / f.name)
    return raw


def _src():
    return __import__("pathlib").Path(os.environ["LECTURE_DATA_DIR"])


def test_gz_files_alone_are_enough(tmp_path, monkeypatch, data_module):
    _copy_raw(_src(), tmp_path, gz=True)
    monkeypatch.setenv("LECTURE_DATA_DIR", str(tmp_path))
    x, y = load_mnist(False)
    assert x.shape[0] == 10_000 and torch.bincount(y).tolist() == TEST_COUNTS


def test_data_source_names_the_folder_not_this_machines_path(tmp_path, monkeypatch, data_module):
    """Every committed notebook prints this line: it must not change with where the data lies."""
    from lecture_utils.data import data_source

    _copy_raw(_src(), tmp_path, gz=True)
    monkeypatch.setenv("LECTURE_DATA_DIR", str(tmp_path))
    line = data_source()
    assert line.endswith("from $LECTURE_DATA_DIR/MNIST/raw") and str(tmp_path) not in line


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_file_is_named(tmp_path, monkeypatch, data_module, damage):
    raw = _copy_raw(_src(), tmp_path, gz=True)
    bad = raw / "t10k-labels-idx1-ubyte.gz"
    data = bad.read_bytes()
    bad.write_bytes(data[:-100] if damage == "truncate" else data[:50] + bytes([data[50] ^ 1]) + data[51:])
    monkeypatch.setenv("LECTURE_DATA_DIR", str(tmp_path))
    with pytest.raises(MNISTDataError, match=r"t10k-labels-idx1-ubyte\.gz is corrupt or truncated.*Delete it"):
        load_mnist(False)


def test_nothing_found_and_offline_gives_one_clear_message(tmp_path, monkeypatch, data_module):
    monkeypatch.setenv("LECTURE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(config, "cache_dir", lambda: tmp_path / "cache")

    def offline(root):
        raise urllib.error.URLError("no internet")

    monkeypatch.setattr(data_module, "_download", offline)
    with pytest.raises(MNISTDataError, match=r"(?s)not found and could not be downloaded.*LECTURE_DATA_DIR"):
        load_mnist(True)


def test_balanced_subset():
    x, y = load_mnist(False)
    xs, ys = balanced_subset(x, y, 1005, seed=3)
    counts = torch.bincount(ys, minlength=10)
    assert len(ys) == 1005 and counts.max() - counts.min() <= 1
    # the images still belong to their labels: each subset image is in the original with the same label
    again = balanced_subset(x, y, 1005, seed=3)
    assert torch.equal(again[1], ys) and torch.equal(again[0], xs)
    with pytest.raises(ValueError, match="n=0"):
        balanced_subset(x, y, 0)
    with pytest.raises(ValueError, match="class"):
        balanced_subset(x[:100], y[:100], 100)


def test_drop_digit():
    x, y = load_mnist(False)
    xs, ys = drop_digit(x, y, 7)
    assert (ys != 7).all() and len(ys) == 10_000 - TEST_COUNTS[7] and len(xs) == len(ys)
    with pytest.raises(ValueError, match="digit=10"):
        drop_digit(x, y, 10)


def test_train_val_split_is_disjoint():
    x = torch.arange(100).float().view(100, 1)
    y = torch.arange(100)
    (tx, ty), (vx, vy) = train_val_split(x, y, 20, seed=1)
    assert len(vy) == 20 and len(ty) == 80
    assert set(ty.tolist()).isdisjoint(vy.tolist())
    with pytest.raises(ValueError, match="val_size"):
        train_val_split(x, y, 100)


def test_loader_is_seeded_and_batched():
    x = torch.arange(10).float()
    y = torch.arange(10)
    a = [b[1].tolist() for b in make_loader(x, y, batch_size=4, seed=5)]
    b = [b[1].tolist() for b in make_loader(x, y, batch_size=4, seed=5)]
    assert a == b and [len(v) for v in a] == [4, 4, 2] and sorted(sum(a, [])) == list(range(10))
    assert [b[1].tolist() for b in make_loader(x, y, batch_size=4, shuffle=False)][0] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        make_loader(x, y[:5])


def test_a_reused_loader_repeats_its_epochs_for_fit():
    """Two students trained one after the other from one loader see the same data in the same order."""
    x = torch.arange(20).float()
    loader = make_loader(x, x, batch_size=5, seed=3)
    first, second = [b[0].tolist() for b in loader], [b[0].tolist() for b in loader]
    assert first != second  # a plain second pass moves on to a new order
    loader.sampler.set_epoch(0)
    assert [b[0].tolist() for b in loader] == first
    assert len(loader) == 4
