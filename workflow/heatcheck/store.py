"""The on-disk layout of heatcheck's zarr stores: the only module that knows it.

A dataset store ``results/{dataset}/images.zarr`` is a zarr group with one subgroup per split
(``train``, ``eval``), each holding ``images`` (N, C, H, W) float32 in [0, 1], ``labels`` (N,)
int64, ``ids`` (N,) str, and where the kind has them ``boxes`` (N, K, 4) int32 and ``masks``
(N, H, W) bool. Group attributes: ``class_names``, ``mean``, ``std``, ``kind``, ``complete``.

Stores are written to a temporary sibling and renamed into place, and carry ``complete: true``
only once everything is written: a store without it is from an interrupted run and is refused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import zarr

from . import HeatcheckError, __version__


def file_checksum(path) -> str:
    """SHA-256 of a file (checkpoint provenance in saliency attributes)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tmp_path(path: Path) -> Path:
    return path.with_name(path.name + f".tmp-{os.getpid()}")


def _replace(tmp: Path, path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)


def write_dataset(path, loaded, kind: str, chunk: int = 64) -> None:
    """Write a :class:`heatcheck.data.Loaded` as a dataset store at ``path`` (atomically)."""
    path = Path(path)
    tmp = _tmp_path(path)
    if tmp.exists():
        shutil.rmtree(tmp)
    root = zarr.open_group(str(tmp), mode="w")
    for name, split in loaded.splits.items():
        g = root.create_group(name)
        n, c, h, w = split.images.shape
        g.create_array("images", data=split.images, chunks=(min(chunk, n), c, h, w))
        g.create_array("labels", data=split.labels)
        ids = g.create_array("ids", shape=(n,), dtype=str)
        ids[:] = np.array(split.ids, dtype=object)
        if split.boxes is not None:
            g.create_array("boxes", data=np.asarray(split.boxes, dtype=np.int32))
        if split.masks is not None:
            g.create_array("masks", data=split.masks.astype(bool), chunks=(min(chunk, n), h, w))
    root.attrs.update({
        "kind": kind,
        "class_names": list(loaded.class_names),
        "mean": list(loaded.mean),
        "std": list(loaded.std),
        "heatcheck_version": __version__,
        **{k: v for k, v in loaded.attrs.items()},
    })
    root.attrs["complete"] = True
    _replace(tmp, path)


class SplitView:
    """Lazy access to one split of a dataset store (zarr arrays, read on indexing)."""

    def __init__(self, group: zarr.Group, where: str):
        self.group, self.where = group, where
        self.images = group["images"]
        self.labels = group["labels"]
        self.boxes = group["boxes"] if "boxes" in group else None
        self.masks = group["masks"] if "masks" in group else None

    @property
    def ids(self) -> list[str]:
        return [str(v) for v in self.group["ids"][:]]

    def __len__(self) -> int:
        return self.images.shape[0]


class DatasetStore:
    """A dataset store opened for reading.

    Parameters
    ----------
    path : path of ``images.zarr``

    Raises
    ------
    HeatcheckError
        If the store is missing or was not completely written.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise HeatcheckError(f"dataset store {self.path} does not exist")
        try:
            self.root = zarr.open_group(str(self.path), mode="r")
        except Exception as exc:  # zarr raises several types for damaged stores
            raise HeatcheckError(f"dataset store {self.path} is unreadable: {exc}") from exc
        if not self.root.attrs.get("complete", False):
            raise HeatcheckError(f"dataset store {self.path} is incomplete (interrupted write); delete it and rerun")
        attrs = self.root.attrs
        self.kind = attrs["kind"]
        self.class_names = list(attrs["class_names"])
        self.mean = np.asarray(attrs["mean"], dtype=np.float32)
        self.std = np.asarray(attrs["std"], dtype=np.float32)

    def splits(self) -> list[str]:
        return sorted(k for k, _ in self.root.groups())

    def split(self, name: str) -> SplitView:
        if name not in self.root:
            raise HeatcheckError(f"dataset store {self.path} has no split {name!r}; it has {self.splits()}")
        return SplitView(self.root[name], f"{self.path}:{name}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


# --- saliency arrays ---------------------------------------------------------------------------
# results/{dataset}/saliency/{model}/{explainer}.zarr: one zarr array (N, H, W) float32, chunked by
# shard along N, filled with NaN until a shard job writes its slice. Attributes: the explainer's
# parameters, the checkpoint's checksum, the package version, and, once every shard is written,
# the seconds it took and ``complete: true``.


def create_saliency(path, n: int, h: int, w: int, chunk: int, attrs: dict, copies: int | None = None) -> None:
    """Create an empty (NaN-filled) saliency array (N, H, W), or (N, copies, H, W) for maps of
    several transformed copies of each image, replacing any older one at ``path``."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    inner = (copies, h, w) if copies else (h, w)
    arr = zarr.create_array(str(path), shape=(n, *inner), chunks=(min(chunk, n), *inner), dtype="float32",
                            fill_value=float("nan"))
    arr.attrs.update({**attrs, "heatcheck_version": __version__, "complete": False})


def write_saliency_shard(path, start: int, maps: np.ndarray, chunk: int) -> None:
    """Write ``maps`` at rows ``start:start+len(maps)``; ``start`` must be chunk-aligned, so that
    concurrent shard jobs never touch the same chunk file."""
    if start % chunk:
        raise ValueError(f"shard start {start} is not aligned to the chunk size {chunk}")
    arr = zarr.open_array(str(path), mode="r+")
    if maps.shape[1:] != arr.shape[1:] or start + len(maps) > arr.shape[0]:
        raise HeatcheckError(f"saliency array {path} has shape {arr.shape}; cannot write maps of shape "
                             f"{maps.shape} at row {start} (stale array from an older run? delete it)")
    arr[start:start + len(maps)] = maps.astype(np.float32)


def finalize_saliency(path, attrs: dict) -> None:
    """Check every row was written and finite, then mark the array complete."""
    arr = zarr.open_array(str(path), mode="r+")
    data = arr[:]
    missing = ~np.isfinite(data.reshape(len(data), -1)).all(axis=1)
    if missing.any():
        raise HeatcheckError(f"saliency array {path}: rows {np.flatnonzero(missing)[:10].tolist()} are "
                             f"missing or not finite; rerun their shards")
    arr.attrs.update({**attrs, "complete": True})


def open_saliency(path, n: int | None = None, shape: tuple | None = None) -> zarr.Array:
    """Open a complete saliency array for reading, checking its shape against expectations.

    Raises
    ------
    HeatcheckError
        If the array is missing, incomplete (interrupted run) or of the wrong shape (stale).
    """
    path = Path(path)
    if not path.exists():
        raise HeatcheckError(f"saliency array {path} does not exist")
    try:
        arr = zarr.open_array(str(path), mode="r")
    except Exception as exc:
        raise HeatcheckError(f"saliency array {path} is unreadable: {exc}") from exc
    if not arr.attrs.get("complete", False):
        raise HeatcheckError(f"saliency array {path} is incomplete (some shards not written)")
    if n is not None and arr.shape[0] != n:
        raise HeatcheckError(f"saliency array {path} has {arr.shape[0]} maps, expected {n} (stale)")
    if shape is not None and tuple(arr.shape[1:]) != tuple(shape):
        raise HeatcheckError(f"saliency array {path} has maps of shape {arr.shape[1:]}, expected {shape}")
    return arr
