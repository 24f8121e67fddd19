"""Shared readers of the real-image kinds: strict decoding, resize + centre crop, VOC/ILSVRC XML."""

from __future__ import annotations

import contextlib
import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from .. import HeatcheckError

log = logging.getLogger("heatcheck.data")

#: Suffixes (lowercase) of the files taken as images when listing a folder.
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder``, sorted by name (the "sorted file order")."""
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())


@contextlib.contextmanager
def _strict_truncation():
    # Another library may have switched PIL to accept truncated files (a process-wide flag);
    # a half image would silently enter the evaluation, so refuse them while we read.
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


def read_rgb(path: Path, skip_corrupt: bool = False) -> Image.Image | None:
    """Fully decode an image file as RGB.

    Parameters
    ----------
    path : Path
        The image file.
    skip_corrupt : bool
        If true, a file that does not decode (corrupt, truncated) is skipped with a logged
        warning and None returned; otherwise it raises.

    Returns
    -------
    PIL.Image.Image or None
        The RGB image; other modes (greyscale, CMYK, palette) are converted with a warning.

    Raises
    ------
    HeatcheckError
        Naming the file, if it does not decode and ``skip_corrupt`` is false.
    """
    try:
        with _strict_truncation(), Image.open(path) as im:
            im.load()  # open() is lazy: truncation only shows when the pixels are decoded
            if im.mode != "RGB":
                log.warning("%s: %s image converted to RGB", path, im.mode)
                return im.convert("RGB")
            return im.copy()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if skip_corrupt:
            log.warning("%s: skipped, cannot decode image (%s)", path, exc)
            return None
        raise HeatcheckError(f"{path}: cannot decode image ({exc}); fix or remove the file, "
                             "or set skip_corrupt: true to skip it") from None


def to_array(im: Image.Image) -> np.ndarray:
    """(3, H, W) float32 in [0, 1] from an RGB PIL image."""
    return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32) / 255.0


def transform_boxes(boxes: np.ndarray, scale: tuple[float, float], offset: tuple[float, float],
                    out_size: tuple[int, int]) -> np.ndarray:
    """Map boxes through ``x' = x * scale - offset`` and clip them to the output image.

    Parameters
    ----------
    boxes : (K, 4) float
        ``x0, y0, x1, y1`` in pixel-edge coordinates of the source image.
    scale, offset : (sx, sy), (ox, oy)
        The resize factors and the top-left corner of the crop in resized coordinates.
    out_size : (W, H)
        Output image size.

    Returns
    -------
    (K', 4) int32
        Half-open integer boxes covering every output pixel the box touches (floor / ceil);
        boxes that fall outside the output are dropped.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    b = b * np.array([scale[0], scale[1]] * 2) - np.array([offset[0], offset[1]] * 2)
    # round first so that an edge at 5.0000000001 from float error does not grow a pixel
    b = np.round(b, 6)
    b[:, :2], b[:, 2:] = np.floor(b[:, :2]), np.ceil(b[:, 2:])
    b[:, 0::2] = b[:, 0::2].clip(0, out_size[0])
    b[:, 1::2] = b[:, 1::2].clip(0, out_size[1])
    keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return b[keep].astype(np.int32)


def resize_centre_crop(im: Image.Image, resize: int, size: int,
                       boxes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """torchvision's ``Resize(resize)`` + ``CenterCrop(size)`` on a PIL image, boxes included.

    The short side becomes ``resize`` (bilinear, the long side truncated as torchvision does),
    then the central ``size`` x ``size`` square is cut (offsets rounded as torchvision does).

    Parameters
    ----------
    im : PIL.Image.Image
        RGB image.
    resize, size : int
        Short side after resizing and side of the crop (``size <= resize``).
    boxes : (K, 4) float or None
        Boxes in pixel-edge coordinates of ``im``.

    Returns
    -------
    image : (3, size, size) float32 in [0, 1]
    boxes : (K', 4) int32 half-open boxes in the crop (see :func:`transform_boxes`), or None
    """
    w, h = im.size
    nw, nh, left, top = crop_geometry(w, h, resize, size)
    im = im.resize((nw, nh), Image.BILINEAR)
    im = im.crop((left, top, left + size, top + size))
    if boxes is not None:
        boxes = transform_boxes(boxes, (nw / w, nh / h), (left, top), (size, size))
    return to_array(im), boxes


def crop_geometry(w: int, h: int, resize: int, size: int) -> tuple[int, int, int, int]:
    """Resized width and height, then left and top of the centre crop, as torchvision's
    ``Resize(resize)`` + ``CenterCrop(size)`` compute them for a ``w`` x ``h`` image."""
    if w <= h:
        nw, nh = resize, int(resize * h / w)
    else:
        nw, nh = int(resize * w / h), resize
    return nw, nh, int(round((nw - size) / 2.0)), int(round((nh - size) / 2.0))


def resize_centre_crop_mask(mask: np.ndarray, resize: int, size: int) -> np.ndarray:
    """:func:`resize_centre_crop` of an (H, W) boolean mask (nearest neighbour): (size, size) bool."""
    h, w = mask.shape
    nw, nh, left, top = crop_geometry(w, h, resize, size)
    im = Image.fromarray(mask.astype(np.uint8) * 255).resize((nw, nh), Image.NEAREST)
    return np.asarray(im.crop((left, top, left + size, top + size))) > 0


def pad_boxes(boxes: list[np.ndarray]) -> np.ndarray:
    """Stack per-image (K_i, 4) boxes into (N, max K_i, 4) int32 (K >= 1), padding with -1 rows."""
    k = max([len(b) for b in boxes] + [1])
    out = np.full((len(boxes), k, 4), -1, dtype=np.int32)
    for i, b in enumerate(boxes):
        out[i, :len(b)] = b
    return out


@dataclass
class XmlObject:
    """One ``<object>`` of a Pascal VOC / ILSVRC annotation."""

    name: str
    #: ``x0, y0, x1, y1`` as floats in pixel-edge coordinates (0-based, half-open)
    box: tuple[float, float, float, float]
    difficult: bool


def parse_annotation(path: Path) -> list[XmlObject]:
    """The objects of a Pascal VOC / ILSVRC annotation XML.

    Both datasets use the VOC devkit convention: 1-based pixel indexes, ``xmax`` inclusive. The
    box ``(xmin - 1, ymin - 1, xmax, ymax)`` is thus the half-open 0-based range; a few ILSVRC
    boxes start at 0, which is clipped to 0.

    Raises
    ------
    HeatcheckError
        Naming the file, if it is not well-formed or a box coordinate is missing.
    """
    try:
        root = ET.parse(path).getroot()
        objs = []
        for o in root.iter("object"):
            bb = o.find("bndbox")
            x0, y0, x1, y1 = (float(bb.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            diff = o.findtext("difficult", "0").strip()
            objs.append(XmlObject(o.findtext("name", "").strip(),
                                  (max(x0 - 1, 0.0), max(y0 - 1, 0.0), x1, y1), diff == "1"))
        return objs
    except (ET.ParseError, AttributeError, TypeError, ValueError) as exc:
        raise HeatcheckError(f"{path}: not a valid Pascal VOC / ILSVRC annotation ({exc})") from None


def expand_box(box: tuple[float, float, float, float], margin: float,
               width: int, height: int) -> tuple[int, int, int, int]:
    """Integer crop rectangle: ``box`` grown by ``margin`` x its size on each side, clipped."""
    x0, y0, x1, y1 = box
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    return (max(math.floor(x0 - dx), 0), max(math.floor(y0 - dy), 0),
            min(math.ceil(x1 + dx), width), min(math.ceil(y1 + dy), height))
