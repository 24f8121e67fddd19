"""``folder``: your own images in class subfolders (torchvision's ``ImageFolder`` layout), with
optional per-image masks (PNG) and boxes (Pascal VOC XML or one CSV); ``photos``: the real
photographs scikit-image ships, exported into that layout and read through it."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .. import HeatcheckError
from .base import DATASETS, IMAGENET_MEAN, IMAGENET_STD, DatasetKind, KindFacts, Loaded, Split, boxes_from_masks
from .images import (list_images, pad_boxes, parse_annotation, read_rgb, resize_centre_crop,
                     resize_centre_crop_mask)
from .imagenet import imagenet_wnids, read_wnids

#: ``classes`` value naming the 1000 ILSVRC-2012 wnids in torchvision's output order
IMAGENET_CLASSES = "imagenet"


def _class_list(spec: dict, root: Path | None) -> list[str] | None:
    """Class names in output-index order (None where the folder cannot be listed)."""
    c = spec.get("classes")
    if c == IMAGENET_CLASSES:
        return imagenet_wnids()
    if c is not None:
        path = Path(c).expanduser()
        if not path.is_file():
            raise HeatcheckError(f"folder class list {path} (key 'classes') does not exist")
        names = list(dict.fromkeys(read_wnids(path)))
        if not names:
            raise HeatcheckError(f"folder class list {path} (key 'classes') is empty")
        return names
    if root is None or not root.is_dir():
        return None
    return sorted(d.name for d in root.iterdir() if d.is_dir())


@DATASETS.register("folder")
class Folder(DatasetKind):
    """Images in class subfolders ``root/<class>/<image>.{png,jpg,jpeg}`` (eval split only).

    Image ids are the paths relative to ``root`` without suffix (``cat/chelsea``): stable across
    studies whatever else is in the folder. Images go through resize (short side) and centre
    crop, masks and boxes through the same.

    Parameters
    ----------
    root : str
        The folder of class subfolders.
    classes : str or None
        None: the subfolders, sorted, are the classes (label = position). ``imagenet``: the 1000
        ILSVRC-2012 wnids in torchvision's output order (subfolders must be wnids): needed when
        the model is an ImageNet model, whose output index must be the label. A file: one class
        per line in output order, the first word naming the subfolder.
    masks : str or None
        Folder of object masks, ``<masks>/<class>/<stem>.png`` or ``<masks>/<stem>.png``, the
        size of the image; any non-zero pixel is object. Every image needs one.
    boxes : str or None
        A folder of Pascal VOC XMLs (``<boxes>/<stem>.xml`` or ``<boxes>/<class>/<stem>.xml``;
        the objects named like the class subfolder, or all if none is), or one CSV file of rows
        ``image,x0,y0,x1,y1`` (``image``: the relative path, file name or id; pixel edges of the
        original image, ``x1``/``y1`` exclusive; several rows per image allowed). Every image
        needs at least one box. With masks but no boxes, boxes are the masks' tight boxes.
    resize, size : int
        Short side after resizing (None: ``size``) and side of the centre crop.
    images_per_class : int or None
        The first N images of each class in sorted file order (None: all).
    mean, std : list of float or None
        Normalization constants of the dataset (None: the images' own per-channel mean / std).
    skip_corrupt : bool
        Skip (with a warning) images that do not decode instead of failing.
    """

    has_boxes = None  # the entry's boxes / masks keys decide
    has_masks = None

    @classmethod
    def facts(cls, spec: dict) -> KindFacts:
        root = Path(spec["root"]).expanduser() if spec.get("root") else None
        try:
            names = _class_list(spec, root)
        except HeatcheckError:
            names = None  # the load names the problem; facts only report what is known
        boxes = bool(spec.get("boxes") or spec.get("masks"))
        return KindFacts(side=spec["size"], num_classes=None if names is None else len(names),
                         has_boxes=boxes, has_masks=bool(spec.get("masks")),
                         no_boxes=None if boxes else "neither its 'boxes' nor its 'masks' key is set",
                         n_eval=None, n_train=0)

    def load(self) -> Loaded:
        files, names = self._files()
        masks_for = self._mask_files(files) if self.params.get("masks") else None
        boxes_for = self._box_table(files) if self.params.get("boxes") else None
        return self._decode(files, names, masks_for, boxes_for)

    # 1. what is there: every file, mask and box checked before any image is decoded -------------

    def _files(self) -> tuple[list[tuple[Path, str, str]], list[str]]:
        """(image file, class folder, id) in class order, sorted by name; the class list."""
        p = self.params
        root = Path(p["root"]).expanduser()
        if not root.is_dir():
            raise HeatcheckError(f"folder root {root} (key 'root') is not a folder")
        subdirs = sorted(d for d in root.iterdir() if d.is_dir())
        if not subdirs:
            raise HeatcheckError(f"folder root {root} (key 'root') has no class subfolders "
                                 "(expected root/<class>/<image>.png|jpg)")
        names = _class_list(p, root)
        index = {n: i for i, n in enumerate(names)}
        unknown = [d.name for d in subdirs if d.name not in index]
        if unknown:
            raise HeatcheckError(f"folder {root / unknown[0]}: class {unknown[0]!r} is not in the class list "
                                 f"({p['classes'] or 'the subfolders'}; key 'classes')")
        files = []
        for d in sorted(subdirs, key=lambda d: index[d.name]):
            found = list_images(d)
            if p.get("images_per_class") is not None:
                found = found[:int(p["images_per_class"])]
            files += [(f, d.name, f"{d.name}/{f.stem}") for f in found]
        if not files:
            raise HeatcheckError(f"folder root {root} (key 'root'): no .png/.jpg/.jpeg images in its subfolders")
        return files, names

    def _mask_files(self, files) -> list[Path]:
        folder = Path(self.params["masks"]).expanduser()
        if not folder.is_dir():
            raise HeatcheckError(f"folder masks {folder} (key 'masks') is not a folder")
        out = []
        for f, cls_name, _ in files:
            options = [folder / cls_name / f"{f.stem}.png", folder / f"{f.stem}.png"]
            found = next((m for m in options if m.is_file()), None)
            if found is None:
                raise HeatcheckError(f"folder: mask of image {f} is missing (looked for {options[0]} and {options[1]})")
            out.append(found)
        return out

    def _box_table(self, files) -> list[tuple[np.ndarray, Path]]:
        """Per image: (K, 4) float boxes in pixel edges of the original image, and their file."""
        path = Path(self.params["boxes"]).expanduser()
        if path.is_dir():
            out = []
            for f, cls_name, _ in files:
                options = [path / cls_name / f"{f.stem}.xml", path / f"{f.stem}.xml"]
                xml = next((x for x in options if x.is_file()), None)
                if xml is None:
                    raise HeatcheckError(f"folder: box annotation of image {f} is missing (looked for "
                                         f"{options[0]} and {options[1]})")
                objs = parse_annotation(xml)
                named = [o.box for o in objs if o.name == cls_name]
                out.append((np.array(named or [o.box for o in objs], dtype=np.float64).reshape(-1, 4), xml))
            return out
        if path.suffix.lower() != ".csv" or not path.is_file():
            raise HeatcheckError(f"folder boxes {path} (key 'boxes') is neither a folder of VOC XMLs nor a .csv file")
        root = Path(self.params["root"]).expanduser()
        keys = {}
        for i, (f, _, image_id) in enumerate(files):
            for k in (f.relative_to(root).as_posix(), f.name, image_id, f.stem):
                keys.setdefault(k, i)
        rows: list[list] = [[] for _ in files]
        with open(path, newline="") as fh:
            for n, row in enumerate(csv.reader(fh), start=1):
                if not row or row[0].startswith("#") or (n == 1 and row[0].strip().lower() == "image"):
                    continue
                try:
                    image, coords = row[0].strip(), [float(v) for v in row[1:5]]
                    if len(coords) != 4:
                        raise ValueError("needs 4 coordinates")
                except ValueError as exc:
                    raise HeatcheckError(f"{path} line {n}: expected image,x0,y0,x1,y1 ({exc})") from None
                if image not in keys:
                    raise HeatcheckError(f"{path} line {n}: image {image!r} is not in {root}")
                rows[keys[image]].append(coords)
        for (f, _, _), r in zip(files, rows):
            if not r:
                raise HeatcheckError(f"{path}: no box for image {f}")
        return [(np.array(r, dtype=np.float64), path) for r in rows]

    # 2. decoding --------------------------------------------------------------------------------

    def _decode(self, files, names, masks_for, boxes_for) -> Loaded:
        p = self.params
        size = int(p["size"])
        resize = int(p.get("resize") or size)
        if not 0 < size <= resize:
            raise HeatcheckError(f"folder size ({size}) must be between 1 and resize ({resize})")
        index = {n: i for i, n in enumerate(names)}
        images = np.empty((len(files), 3, size, size), dtype=np.float32)
        masks = np.empty((len(files), size, size), dtype=bool) if masks_for else None
        labels, ids, boxes, skipped = [], [], [], []
        for k, (f, cls_name, image_id) in enumerate(files):
            im = read_rgb(f, bool(p.get("skip_corrupt")))
            if im is None:
                skipped.append(str(f))
                continue
            b = None
            if boxes_for:
                b, source = boxes_for[k]
                _check_boxes(b, im.size, f, source)
            j = len(ids)
            images[j], tb = resize_centre_crop(im, resize, size, b)
            if masks_for:
                masks[j] = resize_centre_crop_mask(_read_mask(masks_for[k], im.size, f), resize, size)
            boxes.append(tb)
            labels.append(index[cls_name])
            ids.append(image_id)
        n = len(ids)
        masks = None if masks is None else masks[:n]
        box_array = pad_boxes(boxes) if boxes_for else (boxes_from_masks(masks) if masks is not None else None)
        split = Split(images[:n], np.array(labels, dtype=np.int64), ids, box_array, masks)
        mean, std = _constants(p, split.images)
        attrs = {"has_boxes": box_array is not None, "skipped": skipped, "root": str(p["root"])}
        return Loaded({"eval": split}, list(names), mean, std, attrs)


def _check_boxes(boxes: np.ndarray, image_size: tuple[int, int], image: Path, source: Path) -> None:
    w, h = image_size
    for x0, y0, x1, y1 in boxes:
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise HeatcheckError(f"{source}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) of image {image} lies "
                                 f"outside the {w}x{h} image or is empty")


def _read_mask(path: Path, image_size: tuple[int, int], image: Path) -> np.ndarray:
    try:
        with Image.open(path) as m:
            arr = np.asarray(m)
    except (OSError, SyntaxError, ValueError) as exc:
        raise HeatcheckError(f"{path}: cannot decode mask ({exc})") from None
    if (arr.shape[1], arr.shape[0]) != tuple(image_size):
        raise HeatcheckError(f"mask {path} is {arr.shape[1]}x{arr.shape[0]}, its image {image} is "
                             f"{image_size[0]}x{image_size[1]}")
    return arr.reshape(arr.shape[0], arr.shape[1], -1).any(-1)


def _constants(p: dict, images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The configured mean / std, else the images' own (float64 sums: thousands of images)."""
    mean = p.get("mean") or images.mean(axis=(0, 2, 3), dtype=np.float64)
    std = p.get("std") or images.std(axis=(0, 2, 3), dtype=np.float64)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


# --- photos: scikit-image's real photographs through the folder path ----------------------------

#: photo -> (ImageNet class index chosen by hand, hand-drawn box of that object in pixel edges of
#: the original photo, x1 / y1 exclusive). The labels are what a person would call the object
#: among the 1000 classes, not what a model predicts.
PHOTOS = {
    "chelsea": (281, (0, 0, 400, 300)),      # tabby cat (whole cat: it fills the frame)
    "coffee": (967, (170, 15, 412, 305)),    # espresso (the cup)
    "camera": (872, (226, 180, 412, 512)),   # tripod (the cameraman's, camera included)
    "rocket": (657, (285, 122, 362, 412)),   # missile (the launch vehicle on its pad)
}


def export_photos(folder, photos: list[str] | None = None) -> tuple[Path, Path]:
    """Write scikit-image's ``photos`` as ``folder/images/<wnid>/<name>.png`` and their boxes as
    ``folder/boxes.csv`` (rows ``image,x0,y0,x1,y1``), the layout :class:`Folder` reads.

    Returns
    -------
    (images folder, boxes CSV)
    """
    import skimage.data

    folder = Path(folder)
    wnids = imagenet_wnids()
    rows = ["image,x0,y0,x1,y1"]
    for name in photos or list(PHOTOS):
        if name not in PHOTOS:
            raise HeatcheckError(f"photos: unknown photo {name!r}; valid choices: {', '.join(PHOTOS)}")
        label, box = PHOTOS[name]
        out = folder / "images" / wnids[label] / f"{name}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(getattr(skimage.data, name)()).save(out)
        rows.append(f"{name}.png," + ",".join(str(v) for v in box))
    (folder / "boxes.csv").write_text("\n".join(rows) + "\n")
    return folder / "images", folder / "boxes.csv"


@DATASETS.register("photos")
class Photos(DatasetKind):
    """Real colour photographs that scikit-image ships (no download), labelled by hand with their
    ImageNet class index and a hand-drawn object box (:data:`PHOTOS`): for ImageNet models.

    The photos are exported into the ``folder`` layout (class subfolders named by wnid, a boxes
    CSV) in a temporary folder and read by :class:`Folder`, with ImageNet's mean and std. Ids are
    ``<wnid>/<photo>``. ``camera`` is a greyscale photo, converted to RGB with a warning.

    Parameters
    ----------
    photos : list of str
        Which photos (default: all of :data:`PHOTOS`).
    resize, size : int
        Short side after resizing and side of the centre crop (the first paper's 256 / 224).
    """

    has_boxes = True
    has_masks = False
    num_classes = 1000

    @classmethod
    def images(cls, spec):
        return len(spec.get("photos") or PHOTOS), 0

    def load(self) -> Loaded:
        p = self.params
        with tempfile.TemporaryDirectory(prefix="heatcheck-photos-") as tmp:
            images, boxes = export_photos(tmp, p.get("photos"))
            # ids name the photo, not the temporary folder
            spec = {"root": str(images), "classes": IMAGENET_CLASSES, "boxes": str(boxes), "masks": None,
                    "resize": p["resize"], "size": p["size"], "images_per_class": None,
                    "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "skip_corrupt": False}
            loaded = Folder(**spec).load()
        loaded.attrs["root"] = "scikit-image photos"
        return loaded
