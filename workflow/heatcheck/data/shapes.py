"""``shapes``: synthetic scenes with an exactly known object (the embedded default).

Each image holds one *target* object, whose class is the label, on a textured background,
with smaller *distractor* objects of other classes and random clutter strokes. Colours, scale,
position and rotation vary, so neither colour nor position gives the class away: a classifier
has to look at the target's outline. The target's exact pixel mask and box are stored, so that
localisation metrics have a true answer.
"""

from __future__ import annotations

import colorsys

import numpy as np

from .base import DATASETS, DatasetKind, Loaded, Split, boxes_from_masks

CLASSES = ["circle", "square", "triangle", "cross", "ring", "diamond"]
#: the splits, in the order that numbers them in the generators' seeds
SPLITS = ("train", "eval")
#: what a generator draws (the second-to-last word of its seed): an image, or a block's labels
_IMAGE, _LABELS = 0, 1


def shape_mask(kind: str, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float,
               angle: float) -> np.ndarray:
    """Boolean mask of one shape of "radius" ``r`` centred at (cy, cx), rotated by ``angle``."""
    c, s = np.cos(angle), np.sin(angle)
    dx, dy = xx - cx, yy - cy
    u, v = c * dx + s * dy, -s * dx + c * dy
    if kind == "circle":
        return u * u + v * v <= r * r
    if kind == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= 0.8 * r
    if kind == "diamond":
        return np.abs(u) + np.abs(v) <= 1.1 * r
    if kind == "ring":
        d2 = u * u + v * v
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    if kind == "cross":
        w = 0.3 * r
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    if kind == "triangle":
        # equilateral triangle pointing up (before rotation), circumradius r
        return (v <= 0.5 * r) & (np.sqrt(3) * u - v <= r) & (-np.sqrt(3) * u - v <= r)
    raise ValueError(f"unknown shape {kind!r}")


def _colour(rng: np.random.Generator, light: float) -> np.ndarray:
    return np.array(colorsys.hls_to_rgb(rng.random(), light, rng.uniform(0.5, 1.0)), dtype=np.float32)


def _background(rng: np.random.Generator, size: int, yy, xx) -> np.ndarray:
    """A textured background: two colours mixed by gratings and smooth noise, darker or lighter."""
    dark = rng.random() < 0.5
    base = [_colour(rng, rng.uniform(0.15, 0.35) if dark else rng.uniform(0.6, 0.8)) for _ in range(2)]
    t = np.zeros((size, size), dtype=np.float32)
    for _ in range(2):
        th, freq, ph = rng.uniform(0, np.pi), rng.uniform(0.15, 0.6), rng.uniform(0, 2 * np.pi)
        t += np.sin(freq * (np.cos(th) * xx + np.sin(th) * yy) + ph)
    coarse = rng.normal(size=(4, 4)).astype(np.float32)
    t += np.kron(coarse, np.ones((size // 4 + 1, size // 4 + 1), dtype=np.float32))[:size, :size]
    w = 1 / (1 + np.exp(-t))
    img = base[0][:, None, None] * w + base[1][:, None, None] * (1 - w)
    img += rng.normal(0, 0.04, size=img.shape).astype(np.float32)
    return img, dark


def render(rng: np.random.Generator, label: int, size: int, n_distractors: tuple[int, int],
           clutter: int) -> tuple[np.ndarray, np.ndarray]:
    """One scene: (3, size, size) image in [0, 1] and the target's (size, size) mask."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    img, dark = _background(rng, size, yy, xx)
    # clutter strokes: thin random lines in random colours
    for _ in range(clutter):
        y0, x0, th = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0, np.pi)
        length = rng.uniform(0.2, 0.5) * size
        d_perp = np.abs(-np.sin(th) * (xx - x0) + np.cos(th) * (yy - y0))
        d_par = np.cos(th) * (xx - x0) + np.sin(th) * (yy - y0)
        m = (d_perp < 0.6) & (np.abs(d_par) < length / 2)
        img[:, m] = _colour(rng, rng.uniform(0.3, 0.7))[:, None]
    light = (lambda: rng.uniform(0.65, 0.9)) if dark else (lambda: rng.uniform(0.1, 0.35))
    # the target: the largest object
    r = rng.uniform(0.2, 0.3) * size
    cy, cx = rng.uniform(r, size - r, size=2)
    target = shape_mask(CLASSES[label], yy, xx, cy, cx, r, rng.uniform(-0.25, 0.25))
    occupied = (yy - cy) ** 2 + (xx - cx) ** 2 <= (r * 1.25) ** 2
    others = [k for k in range(len(CLASSES)) if k != label]
    for _ in range(rng.integers(n_distractors[0], n_distractors[1] + 1)):
        for _try in range(20):  # place distractors away from the target
            rd = rng.uniform(0.09, 0.13) * size
            dy, dx = rng.uniform(rd, size - rd, size=2)
            dm = shape_mask(CLASSES[rng.choice(others)], yy, xx, dy, dx, rd, rng.uniform(-0.25, 0.25))
            if not (dm & occupied).any():
                img[:, dm] = _colour(rng, light())[:, None]
                occupied |= (yy - dy) ** 2 + (xx - dx) ** 2 <= (rd * 1.3) ** 2
                break
    img[:, target] = _colour(rng, light())[:, None]
    return np.clip(img, 0, 1), target


@DATASETS.register("shapes")
class Shapes(DatasetKind):
    """Synthetic shapes scenes, generated deterministically from ``seed``.

    Parameters
    ----------
    size : int
        Image side in pixels (32, CIFAR-sized, by default).
    n_train, n_eval : int
        Images per split. Classes are balanced per block of 6 consecutive images, and image
        ``i`` of a split (pixels, label, mask) depends only on ``seed`` and ``i``: a bigger
        ``n_eval`` adds images after the others, and the train split never depends on ``n_eval``.
    seed : int
        Seed of the generator; the same seed gives the same images.
    distractors : [int, int]
        Min and max number of distractor objects per image.
    clutter : int
        Number of clutter strokes per image.
    """

    has_boxes = True
    has_masks = True
    num_classes = len(CLASSES)

    @classmethod
    def images(cls, spec):
        return spec["n_eval"], spec["n_train"]

    def load(self) -> Loaded:
        p = self.params
        splits = {name: self._split(name, int(p[f"n_{name}"])) for name in SPLITS}
        mean = tuple(float(v) for v in splits["train"].images.mean(axis=(0, 2, 3)))
        std = tuple(float(v) for v in splits["train"].images.std(axis=(0, 2, 3)))
        return Loaded(splits, list(CLASSES), mean, std, {"seed": int(p["seed"])})

    def _split(self, name: str, n: int) -> Split:
        # Every image is drawn from its own generator, seeded by (seed, split, index), and labels
        # are balanced per block of len(CLASSES) consecutive images: image i is the same in a
        # study of any size, so growing n_eval appends images and keeps the others.
        p = self.params
        size, seed, split = int(p["size"]), int(p["seed"]), SPLITS.index(name)
        k = len(CLASSES)
        blocks = [np.random.default_rng([seed, split, _LABELS, b]).permutation(k) for b in range(-(-n // k))]
        labels = np.concatenate(blocks or [np.empty(0, np.int64)])[:n].astype(np.int64)
        images = np.empty((n, 3, size, size), dtype=np.float32)
        masks = np.empty((n, size, size), dtype=bool)
        for i, lab in enumerate(labels):
            rng = np.random.default_rng([seed, split, _IMAGE, i])
            images[i], masks[i] = render(rng, int(lab), size, tuple(p["distractors"]), int(p["clutter"]))
        return Split(images, labels, [f"shapes-{name}-{i:06d}" for i in range(n)], boxes_from_masks(masks), masks)
