"""MNIST, found offline when possible, checked, and cut into the subsets the lecture needs.

``load_mnist(train)`` looks, in this order, at

1. ``$LECTURE_DATA_DIR/MNIST/raw/`` (torchvision's layout; CI points it at a read-only copy),
2. ``data/MNIST/raw/`` in this repository (the download cache, ignored by git), or a
   user cache folder when the package was installed without a checkout,
3. torchvision's download into that folder.

(``lecture_utils.config`` decides the folders.) Where MNIST was found is remembered per
list of folders, so pointing ``LECTURE_DATA_DIR`` elsewhere takes effect at the next call.

Every file is checked against the official MD5 before it is used: a corrupt or
truncated file stops with an error that names it and says what to do.
"""
from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

from .config import data_dirs

NUM_CLASSES = 10

# The official files (torchvision's raw layout) and their MD5s, uncompressed and gzipped.
MNIST_FILES = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", "d53e105ee54ea40749a09fcbcd1e9432"),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", "9fb629c4189551a2d022fa330f9573f3"),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", "ec29112dd5afa0611ce80d1b7f02629c"),
}


class MNISTDataError(RuntimeError):
    """MNIST could not be found, downloaded or read."""


def _split_files(train: bool) -> tuple[str, str]:
    prefix = "train" if train else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find_file(raw_dir: Path, name: str) -> Path | None:
    """The uncompressed file if present, else the official .gz beside it."""
    for candidate in (raw_dir / name, raw_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _verified_bytes(path: Path) -> bytes:
    """The file's content, decompressed, after checking its MD5 against the official one."""
    name = path.name.removesuffix(".gz")
    expected = MNIST_FILES[name][1 if path.suffix == ".gz" else 0]
    actual = _md5(path)
    if actual != expected:
        raise MNISTDataError(
            f"MNIST file {path} is corrupt or truncated: its MD5 is {actual}, the official "
            f"file's is {expected}. Delete it and run again to download a fresh copy, or set "
            f"LECTURE_DATA_DIR to a folder holding a good MNIST/raw/."
        )
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    """Parse an IDX file (big-endian header: magic, then one uint32 per dimension)."""
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if magic >> 8 != 0x08 or body.size != int(np.prod(dims)):
        raise MNISTDataError(f"{path} is not a valid IDX file of unsigned bytes.")
    return body.reshape(dims)


def read_idx(path) -> np.ndarray:
    """Any IDX file of unsigned bytes (MNIST's format), plain or gzipped, as an array; not checked
    against MNIST's MD5s (a test set of one's own). ``MNISTDataError`` if it is not one."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        return _parse_idx(raw, path)
    except (OSError, EOFError, ValueError) as exc:  # a broken .gz, a header longer than the file
        raise MNISTDataError(f"{path} is not a valid IDX file of unsigned bytes ({type(exc).__name__}).") from None


def _download(root: Path) -> None:
    """torchvision's download of all four files into ``root/MNIST/raw``."""
    from torchvision.datasets import MNIST

    for train in (True, False):
        MNIST(root=str(root), train=train, download=True)


@lru_cache(maxsize=None)
def _locate(train: bool, dirs: tuple[tuple[str, Path], ...]) -> tuple[Path, Path]:
    """The image and label files of one split, from the first folder in ``dirs`` that has both;
    downloaded into the last folder (the cache) when none has them."""
    names = _split_files(train)
    looked = []
    for label, root in dirs:
        raw_dir = root / "MNIST" / "raw"
        found = [_find_file(raw_dir, n) for n in names]
        if all(found):
            return found[0], found[1]
        looked.append(f"{label} ({raw_dir.resolve()})")
    try:
        _download(dirs[-1][1])
    except Exception as exc:  # offline, blocked, disk full...
        raise MNISTDataError(
            "MNIST was not found and could not be downloaded "
            f"({type(exc).__name__}: {exc}).\nLooked in: {'; '.join(looked)}.\n"
            "Either connect to the internet and run again (it is downloaded once into "
            f"{dirs[-1][1] / 'MNIST' / 'raw'}), or copy the four official files (train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain "
            "or .gz) into a folder DIR/MNIST/raw/ and set LECTURE_DATA_DIR=DIR."
        ) from exc
    raw_dir = dirs[-1][1] / "MNIST" / "raw"
    found = [_find_file(raw_dir, n) for n in names]
    if not all(found):
        raise MNISTDataError(f"The download finished but {raw_dir} lacks {names}.")
    return found[0], found[1]


@lru_cache(maxsize=None)
def _load(image_path: Path, label_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images = _parse_idx(_verified_bytes(image_path), image_path)
    labels = _parse_idx(_verified_bytes(label_path), label_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise MNISTDataError(f"{image_path} and {label_path} do not hold matching images and labels.")
    x = torch.from_numpy(images.copy()).float().div_(255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def load_mnist(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as tensors: images ``(N, 1, 28, 28)`` float32 in [0, 1], labels ``(N,)`` int64.

    ``train=True`` gives the 60,000 training images, ``False`` the 10,000 test images.
    Loaded once per process; each call returns fresh copies, so callers may modify them.
    """
    x, y = _load(*_locate(bool(train), data_dirs()))
    return x.clone(), y.clone()


def data_source() -> str:
    """One line saying which data the notebooks run on (printed by every setup cell)."""
    dirs = data_dirs()
    image_path, _ = _locate(True, dirs)
    # Named by the folder's label, not its absolute path: the committed notebooks print this line,
    # and it must read the same on every machine.
    label = next(label for label, root in dirs if image_path.parent == root / "MNIST" / "raw")
    where = f"{label.rstrip('/')}/MNIST/raw" if label.startswith(("$", "data")) else f"{label} ({image_path.parent})"
    return f"official MNIST (60,000 train / 10,000 test, MD5-checked) from {where}"


def balanced_subset(images: torch.Tensor, labels: torch.Tensor, n: int, seed: int = 0):
    """``n`` examples with (as nearly as possible) the same number of each class, drawn at random."""
    classes = torch.unique(labels)
    if not 1 <= n <= len(labels):
        raise ValueError(f"n={n} is not between 1 and the {len(labels)} examples available.")
    per_class = [n // len(classes) + (1 if i < n % len(classes) else 0) for i in range(len(classes))]
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c, k in zip(classes.tolist(), per_class):
        idx = torch.nonzero(labels == c).flatten()
        if k > len(idx):
            raise ValueError(f"n={n} needs {k} examples of class {c}, but only {len(idx)} exist.")
        chosen.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    order = torch.cat(chosen)
    order = order[torch.randperm(len(order), generator=g)]
    return images[order], labels[order]


def drop_digit(images: torch.Tensor, labels: torch.Tensor, digit: int):
    """The same data with every example of ``digit`` removed (the transfer set that never saw it)."""
    if not 0 <= int(digit) < NUM_CLASSES:
        raise ValueError(f"digit={digit} is not one of 0-9.")
    keep = labels != int(digit)
    return images[keep], labels[keep]


def train_val_split(images: torch.Tensor, labels: torch.Tensor, val_size: int, seed: int = 0):
    """Hold ``val_size`` random examples out of a training set, for choosing settings
    (never choose them on the test set). Returns ``(train_x, train_y), (val_x, val_y)``."""
    if not 0 < val_size < len(labels):
        raise ValueError(f"val_size={val_size} must be between 1 and {len(labels) - 1}.")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    val, train = order[:val_size], order[val_size:]
    return (images[train], labels[train]), (images[val], labels[val])


class ShuffledBatches(Sampler):
    """Batches of indices, reshuffled every epoch from ``(seed, epoch)`` alone.

    ``fit`` calls ``set_epoch`` before each epoch, so a loader gives the same order in
    epoch k whoever used it before: two students trained from one loader see the same data.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.n, self.batch_size, self.shuffle, self.seed, self.epoch = n, batch_size, shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))
        else:
            order = torch.arange(self.n)
        self.epoch += 1  # used without set_epoch, a loader still moves on to a new order
        return iter(order.split(self.batch_size))

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size


def make_loader(*tensors: torch.Tensor, batch_size: int = 128, shuffle: bool = True, seed: int = 0) -> DataLoader:
    """A DataLoader over in-memory tensors that hands out whole batches at once.

    The tensors share their first dimension (images, labels, and, for distillation,
    the teacher's logits). With ``shuffle`` the order of epoch k depends only on
    ``seed`` and k, so students trained alike see the same batches in the same order.
    """
    if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
        raise ValueError("make_loader needs tensors of the same length.")
    # batch_size=None with a batch sampler as sampler: one index tensor per batch, one
    # tensor-indexing call per batch instead of one per example (far faster on a CPU).
    return DataLoader(TensorDataset(*tensors), sampler=ShuffledBatches(len(tensors[0]), batch_size, shuffle, seed),
                      batch_size=None)
