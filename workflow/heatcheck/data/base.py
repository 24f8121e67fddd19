"""Dataset kinds: the registry and what every kind returns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .. import HeatcheckError
from ..registry import Registry

#: Dataset kinds by config name (``datasets.<name>.kind``).
DATASETS: Registry["DatasetKind"] = Registry("dataset kind")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Split:
    """Images of one split as the model sees them before normalization.

    Attributes
    ----------
    images : (N, C, H, W) float32 in [0, 1]
    labels : (N,) int64 class index (the model's output index)
    ids : N stable image ids (file stems, or ``<kind>-<split>-<index>`` for generated data)
    boxes : (N, K, 4) int32 boxes ``x0, y0, x1, y1`` (half-open pixel ranges) of the labelled
        object, rows of -1 pad images with fewer than K boxes; None where the kind has no boxes
    masks : (N, H, W) bool pixel mask of the labelled object; None where the kind has no masks
    """

    images: np.ndarray
    labels: np.ndarray
    ids: list[str]
    boxes: np.ndarray | None = None
    masks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    def __post_init__(self):
        n = len(self.images)
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {self.images.shape}")
        if len(self.labels) != n or len(self.ids) != n:
            raise ValueError("images, labels and ids must have the same length")
        if len(set(self.ids)) != n:
            raise ValueError("image ids must be unique")
        self.images = np.ascontiguousarray(self.images, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)


@dataclass
class Loaded:
    """What a dataset kind produces: its splits and metadata."""

    splits: dict[str, Split]
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    attrs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class KindFacts:
    """What a dataset entry's config tells about its data, before it is read (torch-free).

    Attributes
    ----------
    side : image side in pixels (None: only the data tells)
    num_classes : classes, i.e. the models' outputs (None: only the data tells)
    has_boxes, has_masks : True / False, or None where only the data tells
    no_boxes : why the entry can never have boxes (box metrics are refused at config check)
    n_eval, n_train : images per split (None: only the data tells; 0: no such split)
    """

    side: int | None
    num_classes: int | None
    has_boxes: bool | None
    has_masks: bool | None
    no_boxes: str | None = None
    n_eval: int | None = None
    n_train: int | None = None


class DatasetKind:
    """Base class of dataset kinds. Subclasses are registered in :data:`DATASETS`.

    Parameters are the keys of ``datasets.<name>`` in config.yaml (after schema defaults),
    less ``kind`` and ``models``.

    The class attributes are the kind's facts, declared once: config checks, rule resources and
    the cost report read them through :meth:`facts` (kind modules import no torch at module
    level, so that this stays light).
    """

    name: str = ""
    #: whether images come with object boxes / pixel masks (the pointing game needs boxes)
    has_boxes: bool = False
    has_masks: bool = False
    #: why the kind never has boxes (None: it has, or may have, boxes)
    no_boxes: str | None = None
    #: image side when the entry has no ``size`` key (None: the ``size`` key decides)
    side: int | None = None
    #: classes of the kind (None: the entry or the data decides)
    num_classes: int | None = None

    def __init__(self, **params):
        self.params = params

    @classmethod
    def facts(cls, spec: dict) -> KindFacts:
        """The facts of one validated ``datasets.<name>`` entry of this kind."""
        n_eval, n_train = cls.images(spec)
        return KindFacts(side=spec.get("size") or cls.side, num_classes=cls.num_classes,
                         has_boxes=cls.has_boxes, has_masks=cls.has_masks, no_boxes=cls.no_boxes,
                         n_eval=n_eval, n_train=n_train)

    @classmethod
    def images(cls, spec: dict) -> tuple[int | None, int | None]:
        """(eval, train) images as far as the entry tells (None: only the data tells)."""
        return None, None

    def load(self) -> Loaded:  # pragma: no cover - abstract
        raise NotImplementedError


def boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """Tight (N, 1, 4) half-open boxes around each mask; -1 rows for empty masks."""
    n = len(masks)
    out = np.full((n, 1, 4), -1, dtype=np.int32)
    for i, m in enumerate(masks):
        ys, xs = np.nonzero(m)
        if len(xs):
            out[i, 0] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return out


def split_indices(n: int, n_eval: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random train / eval partition of ``range(n)``.

    The eval part is the first ``n_eval`` entries of one seeded permutation, in that order, so a
    bigger ``n_eval`` keeps the smaller one's eval images as its first ones (and takes the added
    ones from the train part, which is sorted).
    """
    if not 0 < n_eval < n:
        raise HeatcheckError(f"n_eval must be between 1 and {n - 1} for {n} images, got {n_eval}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_eval:]), perm[:n_eval]


def _hash(*arrays) -> "hashlib._Hash":
    h = hashlib.sha256()
    for a in arrays:
        if a is not None:
            a = np.ascontiguousarray(a)
            h.update(f"{a.dtype}{a.shape}".encode())
            h.update(a.tobytes())
    return h


def image_digests(split: Split) -> list[str]:
    """A digest per image of its id, pixels, label, boxes and mask: equal digests, same image."""
    out = []
    for i, id_ in enumerate(split.ids):
        h = _hash(split.images[i], split.labels[i:i + 1],
                  None if split.boxes is None else split.boxes[i],
                  None if split.masks is None else split.masks[i])
        h.update(id_.encode())
        out.append(h.hexdigest()[:16])
    return out


def model_digest(loaded: Loaded) -> str:
    """A digest of what a model trained or wrapped for this dataset depends on: the train split
    (where there is one), the class names, the normalization and the image shape."""
    train = loaded.splits.get("train")
    h = _hash(*(() if train is None else (train.images, train.labels)),
              np.asarray(loaded.mean, np.float64), np.asarray(loaded.std, np.float64))
    h.update(repr((list(loaded.class_names), loaded.splits["eval"].images.shape[1:])).encode())
    return h.hexdigest()[:16]
