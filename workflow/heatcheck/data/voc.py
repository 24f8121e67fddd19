"""``voc``: Pascal VOC 2012 objects cropped by their boxes, read from a local ``VOC2012`` folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from .. import HeatcheckError
from .base import DATASETS, IMAGENET_MEAN, IMAGENET_STD, DatasetKind, Loaded, Split
from .images import expand_box, pad_boxes, parse_annotation, read_rgb, to_array, transform_boxes

#: The 20 classes in the standard VOC order (the label is the index).
VOC_CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor"]


@DATASETS.register("voc")
class VOC(DatasetKind):
    """Pascal VOC 2012 objects, each cropped by its box (plus a margin) and resized to a square.

    One sample per kept object, id ``<image stem>-<object index in the XML>``; its box is where
    the object lies in the crop (the whole crop when ``margin`` is 0).

    Parameters
    ----------
    root : str
        The ``VOC2012`` folder (``JPEGImages/``, ``Annotations/``, ``ImageSets/Main/``).
    train_set, eval_set : str or None
        Image sets (``ImageSets/Main/<name>.txt``) of the train and eval splits; a None
        ``train_set`` leaves out the train split.
    size : int
        Side of the square each crop is resized to (bilinear, aspect not kept).
    margin : float
        Context added on each side, as a fraction of the box's width / height (clipped).
    min_size : int
        Objects whose box is narrower or lower than this (pixels) are skipped.
    skip_difficult : bool
        Skip objects flagged ``difficult``.
    max_train, max_eval : int or None
        The first N objects of each split (None: all).
    skip_corrupt : bool
        Skip (with a warning) images that do not decode instead of failing.
    """

    has_boxes = True
    has_masks = False
    num_classes = len(VOC_CLASSES)

    @classmethod
    def images(cls, spec):
        return spec.get("max_eval"), (spec.get("max_train") if spec.get("train_set") else 0)

    def load(self) -> Loaded:
        p = self.params
        root = Path(p["root"]).expanduser()
        for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
            if not (root / sub).is_dir():
                raise HeatcheckError(f"voc root {root} (key 'root') has no {sub} folder "
                                     "(root must be the VOC2012 folder)")
        plans = {}  # all annotations are checked before any image is decoded
        for split, key, max_key in (("train", "train_set", "max_train"), ("eval", "eval_set", "max_eval")):
            if p[key] is not None:
                objs = self._objects(root, p[key], key)
                plans[split] = objs if p[max_key] is None else objs[:int(p[max_key])]
        skipped: list[str] = []
        splits = {s: self._crop(root, objs, skipped) for s, objs in plans.items()}
        attrs = {"has_boxes": True, "skipped": sorted(set(skipped))}
        return Loaded(splits, list(VOC_CLASSES), IMAGENET_MEAN, IMAGENET_STD, attrs)

    def _objects(self, root: Path, set_name: str, key: str) -> list[tuple]:
        """(xml, stem, object index, label, box) of the kept objects of an image set."""
        p = self.params
        set_file = root / "ImageSets" / "Main" / f"{set_name}.txt"
        if not set_file.is_file():
            raise HeatcheckError(f"voc image set {set_file} (key '{key}') does not exist")
        stems = [ln.split()[0] for ln in set_file.read_text().splitlines() if ln.strip()]
        out = []
        for stem in stems:
            xml = root / "Annotations" / f"{stem}.xml"
            if not xml.is_file():
                raise HeatcheckError(f"voc: annotation {xml} of image {stem} (listed in {set_file}) "
                                     "is missing")
            for i, o in enumerate(parse_annotation(xml)):
                if o.name not in VOC_CLASSES:
                    raise HeatcheckError(f"voc: annotation {xml} has unknown class {o.name!r}")
                x0, y0, x1, y1 = o.box
                if (o.difficult and p["skip_difficult"]) or min(x1 - x0, y1 - y0) < p["min_size"]:
                    continue
                out.append((xml, stem, i, VOC_CLASSES.index(o.name), o.box))
        for stem in dict.fromkeys(o[1] for o in out):
            if not (root / "JPEGImages" / f"{stem}.jpg").is_file():
                raise HeatcheckError(f"voc: image {root / 'JPEGImages' / f'{stem}.jpg'} "
                                     f"(listed in {set_file}) is missing")
        return out

    def _crop(self, root: Path, objs: list[tuple], skipped: list[str]) -> Split:
        p = self.params
        size, margin = int(p["size"]), float(p["margin"])
        images = np.empty((len(objs), 3, size, size), dtype=np.float32)
        labels, ids, boxes = [], [], []
        stem_open, im = None, None
        for xml, stem, i, label, box in objs:
            if stem != stem_open:  # the objects of an image are consecutive: decode it once
                path = root / "JPEGImages" / f"{stem}.jpg"
                stem_open, im = stem, read_rgb(path, bool(p["skip_corrupt"]))
            if im is None:
                skipped.append(str(path))
                continue
            cx0, cy0, cx1, cy1 = expand_box(box, margin, *im.size)
            if cx1 <= cx0 or cy1 <= cy0:
                raise HeatcheckError(f"voc: a box in {xml} lies outside its image {path}")
            sx, sy = size / (cx1 - cx0), size / (cy1 - cy0)
            crop = im.crop((cx0, cy0, cx1, cy1)).resize((size, size), Image.BILINEAR)
            images[len(ids)] = to_array(crop)
            boxes.append(transform_boxes(np.array(box), (sx, sy), (cx0 * sx, cy0 * sy), (size, size)))
            labels.append(label)
            ids.append(f"{stem}-{i}")
        return Split(images[:len(ids)], np.array(labels, dtype=np.int64), ids, pad_boxes(boxes), None)
