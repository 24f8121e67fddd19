"""``imagenet``: the ILSVRC-2012 validation images and boxes, read from a local folder."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np

from .. import HeatcheckError
from .base import DATASETS, IMAGENET_MEAN, IMAGENET_STD, DatasetKind, Loaded, Split
from .images import list_images, pad_boxes, parse_annotation, read_rgb, resize_centre_crop

WNID = re.compile(r"n\d{8}")
RESOURCES = resources.files(__package__) / "resources"


def read_wnids(path) -> list[str]:
    """The first word of each non-blank, non-``#`` line of a class list file."""
    lines = (Path(path) if isinstance(path, str) else path).read_text().splitlines()
    return [ln.split()[0] for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def imagenet_wnids() -> list[str]:
    """The 1000 ILSVRC-2012 wnids in sorted order: torchvision's output index order."""
    return read_wnids(RESOURCES / "imagenet_wnids.txt")


@DATASETS.register("imagenet")
class ImageNet(DatasetKind):
    """The ILSVRC-2012 validation set (eval split only: the models are pretrained).

    Labels are indexes into the 1000 sorted wnids (``class_names``), so the outputs of a
    pretrained torchvision model line up. Images go through the papers' preprocessing (short
    side to ``resize``, centre crop ``size``), boxes of the image's class through the same.

    Parameters
    ----------
    root : str
        Folder of validation images: either class subfolders ``root/<wnid>/*.JPEG`` or flat
        ``root/ILSVRC2012_val_*.JPEG`` labelled by the ``<name>`` of their bounding-box XML.
    boxes : str or None
        Folder of the ILSVRC bbox XMLs (``<image stem>.xml``); None looks next to the images,
        and without any XML there the load has no boxes (``attrs["has_boxes"]`` false).
    classes : str or None
        Class list file, one wnid per line (then optionally a name); None is the shipped list
        of the 100 classes of the coherency paper.
    images_per_class : int or None
        The first N images of each class in sorted file order (None: all). The eval split takes
        them round robin over the classes: every class's first image, then every class's
        second, and so on.
    resize, size : int
        Short side after resizing and side of the centre crop.
    skip_corrupt : bool
        Skip (with a warning) images that do not decode instead of failing.
    """

    has_boxes = True
    has_masks = False
    num_classes = 1000

    @classmethod
    def images(cls, spec):
        # the first paper's 100 classes unless a class list says otherwise; validation only
        path = RESOURCES / "coherency_100_classes.txt" if spec.get("classes") is None else Path(spec["classes"])
        try:
            n_classes = len(read_wnids(path))
        except OSError:
            return None, 0
        return spec["images_per_class"] * n_classes, 0

    def load(self) -> Loaded:
        p = self.params
        root = Path(p["root"]).expanduser()
        if not root.is_dir():
            raise HeatcheckError(f"imagenet root {root} (key 'root') is not a folder")
        resize, size = int(p["resize"]), int(p["size"])
        if not 0 < size <= resize:
            raise HeatcheckError(f"imagenet size ({size}) must be between 1 and resize ({resize})")
        wnids = imagenet_wnids()
        index = {w: i for i, w in enumerate(wnids)}
        classes = self._classes(index)
        box_dir = None
        if p["boxes"] is not None:
            box_dir = Path(p["boxes"]).expanduser()
            if not box_dir.is_dir():
                raise HeatcheckError(f"imagenet boxes folder {box_dir} (key 'boxes') is not a folder")

        # 1. the file list, labels and annotations, all checked before any image is decoded
        by_class, layout = self._list(root, box_dir, set(classes))
        n_max = p["images_per_class"]
        per_class = []
        for c in classes:
            found = by_class.get(c, [])
            if not found:
                folder = root / c if layout == "class folders" else root
                raise HeatcheckError(f"imagenet class {c} (from {self._classes_file()}) has no "
                                     f"images in {folder}")
            per_class.append([(f, c) for f in (found if n_max is None else found[:int(n_max)])])
        # round robin over the classes (each class's first image, then each one's second, ...):
        # a bigger images_per_class appends images and keeps the order of the others, and the
        # first N images (max_eval) are balanced over the classes
        files = [g[rank] for rank in range(max(map(len, per_class))) for g in per_class if rank < len(g)]
        xmls = [(box_dir or f.parent) / f"{f.stem}.xml" for f, _ in files]
        have = [x.is_file() for x in xmls]
        with_boxes = any(have)
        if with_boxes and not all(have):
            missing = xmls[have.index(False)]
            raise HeatcheckError(f"imagenet: box annotation {missing} is missing "
                                 f"({sum(have)} of {len(xmls)} images have one)")
        boxes = [self._boxes(x, c) if with_boxes else None for x, (_, c) in zip(xmls, files)]

        # 2. decode into a preallocated array (the full set is several GB)
        images = np.empty((len(files), 3, size, size), dtype=np.float32)
        labels, ids, out_boxes, skipped = [], [], [], []
        for (f, c), b in zip(files, boxes):
            im = read_rgb(f, bool(p["skip_corrupt"]))
            if im is None:
                skipped.append(str(f))
                continue
            images[len(ids)], tb = resize_centre_crop(im, resize, size, b)
            labels.append(index[c])
            ids.append(f.stem)
            out_boxes.append(tb)
        split = Split(images[:len(ids)], np.array(labels, dtype=np.int64), ids,
                      pad_boxes(out_boxes) if with_boxes else None, None)
        attrs = {"has_boxes": with_boxes, "layout": layout, "classes": classes, "skipped": skipped}
        return Loaded({"eval": split}, wnids, IMAGENET_MEAN, IMAGENET_STD, attrs)

    def _classes_file(self):
        c = self.params["classes"]
        return RESOURCES / "coherency_100_classes.txt" if c is None else Path(c).expanduser()

    def _classes(self, index: dict[str, int]) -> list[str]:
        path = self._classes_file()
        if not path.is_file():
            raise HeatcheckError(f"imagenet class list {path} (key 'classes') does not exist")
        classes = list(dict.fromkeys(read_wnids(path)))  # drop repeats, keep the order
        if not classes:
            raise HeatcheckError(f"imagenet class list {path} (key 'classes') is empty")
        unknown = [c for c in classes if c not in index]
        if unknown:
            raise HeatcheckError(f"imagenet class list {path} (key 'classes'): {', '.join(unknown[:5])} "
                                 "not among the 1000 ILSVRC-2012 wnids")
        return classes

    @staticmethod
    def _list(root: Path, box_dir: Path | None, wanted: set[str]) -> tuple[dict, str]:
        """Images of the wanted classes by wnid (sorted), and the layout found."""
        subdirs = [d for d in root.iterdir() if d.is_dir() and WNID.fullmatch(d.name)]
        if subdirs:
            return {d.name: list_images(d) for d in subdirs if d.name in wanted}, "class folders"
        flat = list_images(root)
        if not flat:
            raise HeatcheckError(f"imagenet root {root} holds neither wnid subfolders nor images")
        # flat layout: the label is the name of the boxes in the image's XML
        by_class: dict[str, list[Path]] = {}
        for f in flat:
            xml = (box_dir or root) / f"{f.stem}.xml"
            if not xml.is_file():
                raise HeatcheckError(f"imagenet: {f} is in a flat folder but its annotation {xml}, "
                                     "which gives its class, is missing (set key 'boxes' to the "
                                     "folder of the ILSVRC bbox XMLs, or sort images into wnid folders)")
            objs = parse_annotation(xml)
            if not objs:
                raise HeatcheckError(f"imagenet: annotation {xml} has no <object>, so no class for {f}")
            if objs[0].name in wanted:
                by_class.setdefault(objs[0].name, []).append(f)
        return by_class, "flat"

    @staticmethod
    def _boxes(xml: Path, wnid: str) -> np.ndarray:
        # ILSVRC val XMLs only hold boxes of the image's class, but keep the filter for safety
        return np.array([o.box for o in parse_annotation(xml) if o.name == wnid],
                        dtype=np.float64).reshape(-1, 4)
