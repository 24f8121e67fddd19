"""``digits``: scikit-learn's bundled 8x8 scans of handwritten digits (real data, no download)."""

from __future__ import annotations

import numpy as np

from .base import DATASETS, DatasetKind, Loaded, Split, boxes_from_masks, split_indices


@DATASETS.register("digits")
class Digits(DatasetKind):
    """The 1,797 UCI handwritten digits shipped with scikit-learn, upsampled to ``size``.

    Grey levels are replicated over three channels so that every model takes RGB input. The
    ink (pixels above ``ink_threshold`` after upsampling) is the object mask, its box the box.

    Parameters
    ----------
    size : int
        Output side in pixels (bilinear upsampling of the 8x8 scans).
    n_eval : int
        Held-out images (a seeded random subset, ids ``digits-<scan index>``); the rest is the
        train split. A bigger ``n_eval`` keeps the smaller one's eval images first and moves the
        added ones out of the train split (so the models are trained anew).
    seed : int
        Seed of the split.
    ink_threshold : float
        Grey level in [0, 1] above which a pixel counts as ink.
    """

    has_boxes = True
    has_masks = True
    num_classes = 10
    #: scans in scikit-learn's copy
    total = 1797

    @classmethod
    def images(cls, spec):
        return spec["n_eval"], cls.total - spec["n_eval"]

    def load(self) -> Loaded:
        import torch  # here, not at the top: the kind's facts are read torch-free
        import torch.nn.functional as F
        from sklearn.datasets import load_digits

        p = self.params
        bunch = load_digits()
        x = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]
        x = F.interpolate(x, size=(p["size"], p["size"]), mode="bilinear", align_corners=False)
        x = x.clamp(0, 1).numpy()
        masks = x[:, 0] > p["ink_threshold"]
        images = np.repeat(x, 3, axis=1)
        labels = bunch.target.astype(np.int64)
        train, ev = split_indices(len(images), int(p["n_eval"]), int(p["seed"]))
        boxes = boxes_from_masks(masks)
        ids = np.array([f"digits-{i:04d}" for i in range(len(images))])
        splits = {
            name: Split(images[idx], labels[idx], list(ids[idx]), boxes[idx], masks[idx])
            for name, idx in (("train", train), ("eval", ev))
        }
        mean = tuple(float(v) for v in splits["train"].images.mean(axis=(0, 2, 3)))
        std = tuple(float(v) for v in splits["train"].images.std(axis=(0, 2, 3)))
        return Loaded(splits, [str(d) for d in range(10)], mean, std, {"seed": p["seed"]})
