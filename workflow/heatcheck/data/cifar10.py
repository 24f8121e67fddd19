"""``cifar10``: the CIFAR-10 python batches, read from a local folder."""

from __future__ import annotations

import pickle
from pathlib import Path, PurePosixPath

import numpy as np

from .. import HeatcheckError
from .base import DATASETS, DatasetKind, Loaded, Split

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise HeatcheckError(f"cifar10 batch file {path} is missing (key 'root' must be the "
                             "cifar-10-batches-py folder or the folder holding it)")
    try:
        with open(path, "rb") as f:
            # the batches are Python 2 pickles: their str keys come back as bytes
            return pickle.load(f, encoding="bytes")
    except Exception as exc:  # any unpickling failure means a damaged or foreign file
        raise HeatcheckError(f"cifar10 batch file {path} cannot be read ({exc})") from None


def _read_batches(folder: Path, names: list[str], limit: int | None):
    """Images (N, 3, 32, 32) float32, labels and filename stems of the first ``limit`` rows."""
    xs, ys, ids = [], [], []
    for name in names:
        if limit is not None and len(ids) >= limit:
            break
        d = _unpickle(folder / name)
        try:
            x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y, fn = list(d[b"labels"]), list(d[b"filenames"])
        except (KeyError, ValueError) as exc:
            raise HeatcheckError(f"cifar10 batch file {folder / name} is not a CIFAR-10 batch "
                                 f"({exc!r})") from None
        if not len(x) == len(y) == len(fn):
            raise HeatcheckError(f"cifar10 batch file {folder / name}: data, labels and filenames "
                                 "differ in length")
        xs.append(x)
        ys += y
        ids += [PurePosixPath(f.decode() if isinstance(f, bytes) else f).stem for f in fn]
    n = len(ids) if limit is None else min(limit, len(ids))
    x = np.concatenate(xs) if xs else np.empty((0, 3, 32, 32), dtype=np.uint8)
    images = x[:n].astype(np.float32) / 255.0
    return images, np.array(ys[:n], dtype=np.int64), _unique(ids[:n])


def _unique(ids: list[str]) -> list[str]:
    # Split needs unique ids; suffix any repeated file name by its occurrence (stable)
    seen: dict[str, int] = {}
    out = []
    for s in ids:
        seen[s] = seen.get(s, 0) + 1
        out.append(s if seen[s] == 1 else f"{s}~{seen[s]}")
    return out


@DATASETS.register("cifar10")
class Cifar10(DatasetKind):
    """CIFAR-10 (``data_batch_1..5`` = train, ``test_batch`` = eval) from the python batches.

    No boxes or masks; mean / std are those of the train split.

    Parameters
    ----------
    root : str
        The ``cifar-10-batches-py`` folder, or the folder that contains it.
    max_train, max_eval : int or None
        The first N images of each split (None: all).
    """

    has_boxes = False
    has_masks = False
    no_boxes = "the CIFAR-10 batches carry no object annotations"
    side = 32
    num_classes = 10

    @classmethod
    def images(cls, spec):
        return min(spec.get("max_eval") or 10000, 10000), min(spec.get("max_train") or 50000, 50000)

    def load(self) -> Loaded:
        p = self.params
        root = Path(p["root"]).expanduser()
        if not root.is_dir():
            raise HeatcheckError(f"cifar10 root {root} (key 'root') is not a folder")
        if (root / "cifar-10-batches-py").is_dir():
            root = root / "cifar-10-batches-py"
        # check every file up front rather than after minutes of unpickling
        for name in TRAIN_BATCHES + ["test_batch", "batches.meta"]:
            if not (root / name).is_file():
                raise HeatcheckError(f"cifar10 batch file {root / name} is missing (key 'root')")
        meta = _unpickle(root / "batches.meta")
        try:
            names = [n.decode() if isinstance(n, bytes) else n for n in meta[b"label_names"]]
        except KeyError:
            raise HeatcheckError(f"cifar10 {root / 'batches.meta'} has no label_names") from None
        train = Split(*_read_batches(root, TRAIN_BATCHES, p["max_train"]))
        ev = Split(*_read_batches(root, ["test_batch"], p["max_eval"]))
        if not len(train):
            raise HeatcheckError("cifar10 max_train must be at least 1 (mean / std come from the "
                                 "train split)")
        mean = tuple(float(v) for v in train.images.mean(axis=(0, 2, 3), dtype=np.float64))
        std = tuple(float(v) for v in train.images.std(axis=(0, 2, 3), dtype=np.float64))
        return Loaded({"train": train, "eval": ev}, names, mean, std, {"has_boxes": False})
