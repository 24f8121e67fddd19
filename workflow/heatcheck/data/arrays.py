"""``arrays``: images, labels and optional masks and boxes from one ``.npz`` file or zarr store."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import HeatcheckError
from .base import DATASETS, DatasetKind, KindFacts, Loaded, Split, boxes_from_masks
from .folder import _class_list, _constants


def _open(path: Path) -> dict:
    """Name -> array-like of an ``.npz`` file or a zarr group (read lazily where they allow)."""
    if not path.exists():
        raise HeatcheckError(f"arrays file {path} (key 'path') does not exist")
    try:
        if path.is_dir():
            import zarr

            g = zarr.open_group(str(path), mode="r")
            return {k: v for k, v in g.arrays()}
        return dict(np.load(path, allow_pickle=False))
    except HeatcheckError:
        raise
    except Exception as exc:  # numpy and zarr raise several types for damaged files
        raise HeatcheckError(f"arrays file {path} (key 'path') is unreadable: {exc}") from None


def _peek_shape(path: Path, key: str) -> tuple[int, ...] | None:
    """Shape of the images array from the file's metadata alone (None if it cannot be read)."""
    try:
        if path.is_dir():
            import zarr

            return tuple(zarr.open_group(str(path), mode="r")[key].shape)
        import zipfile

        with zipfile.ZipFile(path) as z, z.open(f"{key}.npy") as fh:
            fmt = np.lib.format
            major, _ = fmt.read_magic(fh)
            read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            return tuple(read(fh)[0])
    except Exception:  # noqa: BLE001 - facts only report what is known; the load names the problem
        return None


@DATASETS.register("arrays")
class Arrays(DatasetKind):
    """Eval images from arrays: an ``.npz`` file or a zarr store (a group of arrays).

    Image ids are ``<index>`` (six digits, the position in the file), or the strings of an
    ``ids`` array when there is one: stable across studies.

    Parameters
    ----------
    path : str
        The ``.npz`` file or zarr store.
    images, labels, masks, boxes : str or None
        Names of the arrays: images (N, C, H, W) or (N, H, W, C) with C = 1 or 3, uint8 in
        0-255 or float in [0, 1]; labels (N,) integer class indexes; optional masks (N, H, W),
        any non-zero pixel object; optional boxes (N, 4) or (N, K, 4) ``x0, y0, x1, y1`` pixel
        edges (x1 / y1 exclusive; rows of -1 pad images with fewer boxes). A missing optional
        array is fine; a named one that is absent is an error. With masks but no boxes, boxes
        are the masks' tight boxes.
    classes : str or None
        Class list file (one per line in output order), ``imagenet`` for the 1000 ILSVRC wnids,
        or None for ``0 .. max(label)`` (then ``num_classes`` can widen it).
    num_classes : int or None
        Outputs of the models (None: from ``classes`` or the labels).
    mean, std : list of float or None
        Normalization constants (None: the images' own per-channel mean / std).
    """

    has_boxes = None  # only the arrays tell
    has_masks = None

    @classmethod
    def facts(cls, spec: dict) -> KindFacts:
        try:
            names = _class_list(spec, None)
        except HeatcheckError:
            names = None
        n = spec.get("num_classes") or (None if names is None else len(names))
        shape = _peek_shape(Path(spec["path"]).expanduser(), spec.get("images", "images"))
        side = None if shape is None else (shape[-1] if shape[1] in (1, 3) else shape[-2])
        return KindFacts(side=side, num_classes=n, has_boxes=None, has_masks=None,
                         n_eval=None if shape is None else int(shape[0]), n_train=0)

    def load(self) -> Loaded:
        p = self.params
        path = Path(p["path"]).expanduser()
        arrays = _open(path)

        def get(key: str, required: bool):
            name = p.get(key)
            if name is None:
                return None
            if name not in arrays:
                if not required and name == key:  # the default name: optional array not there
                    return None
                raise HeatcheckError(f"arrays file {path} has no array {name!r} (key {key!r}); it has "
                                     f"{', '.join(sorted(arrays)) or 'none'}")
            return np.asarray(arrays[name][...])

        images = _images(get("images", True), path, p["images"])
        n, _, h, w = images.shape
        labels = get("labels", True)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise HeatcheckError(f"arrays file {path}: labels {p['labels']!r} must be (N,) = ({n},) integers, "
                                 f"got {labels.dtype} {labels.shape}")
        names = _class_list(p, None)
        k = p.get("num_classes") or (len(names) if names else int(labels.max()) + 1)
        if labels.min() < 0 or labels.max() >= k:
            bad = int(np.flatnonzero((labels < 0) | (labels >= k))[0])
            raise HeatcheckError(f"arrays file {path}: label {int(labels[bad])} of image {bad} is not a "
                                 f"class index 0..{k - 1}")
        names = names or [str(i) for i in range(k)]
        masks = get("masks", False)
        if masks is not None:
            if masks.shape != (n, h, w):
                raise HeatcheckError(f"arrays file {path}: masks {p['masks']!r} have shape {masks.shape}, the "
                                     f"images need ({n}, {h}, {w})")
            masks = masks != 0
        boxes = get("boxes", False)
        if boxes is not None:
            boxes = _boxes(boxes, n, h, w, path, p["boxes"])
        elif masks is not None:
            boxes = boxes_from_masks(masks)
        ids_arr = arrays.get("ids")
        ids = [str(v) for v in np.asarray(ids_arr[...])] if ids_arr is not None else [f"{i:06d}" for i in range(n)]
        split = Split(images, labels.astype(np.int64), ids, boxes, masks)
        mean, std = _constants(p, split.images)
        return Loaded({"eval": split}, names, mean, std, {"has_boxes": boxes is not None, "path": str(path)})


def _images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """(N, 3, H, W) float32 in [0, 1] from NCHW / NHWC, 1 or 3 channels, uint8 or float."""
    if x.ndim != 4:
        raise HeatcheckError(f"arrays file {path}: images {key!r} must be (N, C, H, W) or (N, H, W, C), got shape {x.shape}")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    if x.shape[1] not in (1, 3):
        raise HeatcheckError(f"arrays file {path}: images {key!r} of shape {x.shape} have no axis of 1 or 3 channels")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        if not np.isfinite(x).all() or lo < 0 or hi > 1:
            raise HeatcheckError(f"arrays file {path}: float images {key!r} must be finite and in [0, 1] "
                                 f"(found {lo:g} .. {hi:g}); store uint8 0-255 or scale them")
    else:
        raise HeatcheckError(f"arrays file {path}: images {key!r} have dtype {x.dtype}; use uint8 or float")
    return np.repeat(x, 3, axis=1) if x.shape[1] == 1 else x


def _boxes(b: np.ndarray, n: int, h: int, w: int, path: Path, key: str) -> np.ndarray:
    b = b.reshape(n, -1, 4) if b.ndim == 2 and b.shape == (n, 4) else b
    if b.ndim != 3 or b.shape[0] != n or b.shape[2] != 4:
        raise HeatcheckError(f"arrays file {path}: boxes {key!r} must be (N, 4) or (N, K, 4) with N = {n}, "
                             f"got {b.shape}")
    for i, rows in enumerate(b):
        for x0, y0, x1, y1 in rows:
            if (x0, y0, x1, y1) == (-1, -1, -1, -1):
                continue
            if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
                raise HeatcheckError(f"arrays file {path}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) of image {i} lies "
                                     f"outside the {w}x{h} image or is empty")
    return b.astype(np.int32)
