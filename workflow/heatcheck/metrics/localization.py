"""Ground-truth localization metrics of CLEVR-XAI (Arras, Osman & Samek 2022, "CLEVR-XAI: A
benchmark dataset for the ground truth evaluation of neural network explanations", Information
Fusion 81): relevance mass accuracy and relevance rank accuracy. No model pass.

The ground truth is the labelled object's pixel mask where the dataset has masks, else the
union of its boxes (the table says which: extra column ``mask_source`` = ``mask`` / ``box``).
Maps are the raw signed maps (B, H, W); both metrics are invariant to scaling a map by a
positive factor, so no min-max scaling is applied.
"""

from __future__ import annotations

import numpy as np

from .. import HeatcheckError
from .base import METRICS, Metric, MetricResult, Param


def boxes_to_masks(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """The union of each image's boxes as a pixel mask: (B, H, W) bool.

    ``boxes`` (B, K, 4) holds half-open ``x0, y0, x1, y1`` pixel ranges; rows with ``x0 < 0`` pad
    images with fewer than K boxes (the dataset store's layout). Boxes are clipped to the image.
    """
    boxes = np.asarray(boxes).reshape(len(boxes), -1, 4)
    out = np.zeros((len(boxes), height, width), dtype=bool)
    for i, rows in enumerate(boxes):  # few boxes per image: a loop over boxes, not pixels
        for x0, y0, x1, y1 in rows:
            if x0 < 0:
                continue
            out[i, max(0, int(y0)):max(0, int(y1)), max(0, int(x0)):max(0, int(x1))] = True
    return out


def _flat(maps, masks) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(maps, dtype=np.float64)
    m = np.asarray(masks, dtype=bool)
    if a.shape != m.shape or a.ndim < 2:
        raise ValueError(f"maps and masks must both be (B, H, W); got {a.shape} and {m.shape}")
    return a.reshape(len(a), -1), m.reshape(len(m), -1)


def relevance_mass_accuracy(maps, masks) -> np.ndarray:
    """Share of the positive relevance that falls inside the ground truth, per image.

    .. math::  \\mathrm{RMA} = \\frac{\\sum_{p \\in GT} \\max(R_p, 0)}{\\sum_p \\max(R_p, 0)}

    Parameters
    ----------
    maps : array (B, H, W)
        Signed relevance; negative values do not count (CLEVR-XAI takes positive relevance).
    masks : bool array (B, H, W)
        Ground truth.

    Returns
    -------
    ndarray (B,) float64
        In [0, 1]. A map without positive relevance scores 0 (it puts no relevance on the
        object); an image with an empty mask is NaN (no ground truth).
    """
    a, m = _flat(maps, masks)
    pos = np.maximum(a, 0)
    total = pos.sum(1)
    within = (pos * m).sum(1)
    out = np.where(total > 0, within / np.where(total > 0, total, 1), 0.0)
    return np.where(m.any(1), out, np.nan)


def relevance_rank_accuracy(maps, masks) -> np.ndarray:
    """Share of the K most relevant pixels that lie inside the ground truth, K = |GT|, per image.

    .. math::  \\mathrm{RRA} = \\frac{|P_{top K} \\cap GT|}{|GT|}

    Ties at the K-th value are counted as expected under a uniformly random order of the tied
    pixels: if ``a`` pixels rank strictly above the K-th value and ``t`` pixels share it, ``t_in``
    of them inside the mask, the overlap is ``|above ∩ GT| + (K - a) t_in / t``. So the score does
    not depend on pixel order, and a constant map scores ``|GT| / (H W)``, the chance level.

    Parameters
    ----------
    maps : array (B, H, W)
        Relevance, ranked by signed value (highest first).
    masks : bool array (B, H, W)
        Ground truth.

    Returns
    -------
    ndarray (B,) float64
        In [0, 1]; NaN for an image with an empty mask.
    """
    a, m = _flat(maps, masks)
    k = m.sum(1)
    rows = np.arange(len(a))
    kth = -np.sort(-a, axis=1)[rows, np.maximum(k, 1) - 1] if a.shape[1] else np.zeros(len(a))
    above = a > kth[:, None]
    tied = a == kth[:, None]
    n_above, n_tied = above.sum(1), tied.sum(1)
    overlap = (above & m).sum(1) + (k - n_above) * (tied & m).sum(1) / np.maximum(n_tied, 1)
    return np.where(k > 0, overlap / np.maximum(k, 1), np.nan)


class _Localization(Metric):
    """Shared machinery: the ground truth of each image, and the extra columns.

    Parameters (config ``metrics.relevance_mass`` / ``metrics.relevance_rank``)
    --------------------------------------------------------------------------
    ground_truth : ``auto`` (masks where the dataset has them, else boxes), ``mask`` or ``box``

    Extra columns: ``mask_source`` (``mask`` or ``box``) and ``mask_fraction`` (|GT| / (H W), the
    chance level of a random map on both metrics).
    """

    needs = ("boxes",)  # masks where there are any, boxes otherwise: every kind with masks has boxes
    higher_is_better = True
    params = (Param("ground_truth", choices=("auto", "mask", "box"), default="auto",
                    description="The object's pixel mask (auto - where the dataset has masks) or the union of its "
                                "boxes."),)

    @classmethod
    def passes(cls, params, side):
        return 0.0, 0.0

    @staticmethod
    def score(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, model, x, saliency, targets, index=None, boxes=None, masks=None, **kw):
        """Score a batch (``model``, ``x`` and ``targets`` are not used: no model pass)."""
        maps = saliency.detach().cpu().numpy() if hasattr(saliency, "detach") else np.asarray(saliency)
        b, h, w = maps.shape
        want = self.params["ground_truth"]
        if want not in ("auto", "mask", "box"):
            raise HeatcheckError(f"config key metrics.{self.name}.ground_truth = {want!r} is not a valid choice; "
                                 "valid choices: auto, mask, box")
        if masks is not None and want in ("auto", "mask"):
            gt, source = np.asarray(masks, dtype=bool), "mask"
        elif boxes is not None and want in ("auto", "box"):
            gt, source = boxes_to_masks(boxes, h, w), "box"
        else:
            raise HeatcheckError(f"metric {self.name!r} needs object {'masks' if want == 'mask' else 'boxes or masks'} "
                                 f"(ground_truth: {want}); the dataset has none")
        if gt.shape != (b, h, w):
            raise HeatcheckError(f"metric {self.name!r}: ground-truth masks of shape {gt.shape} for maps of shape "
                                 f"{maps.shape}")
        return MetricResult(self.score(maps, gt)[:, None], extra={
            "mask_source": np.full((b, 1), source), "mask_fraction": gt.reshape(b, -1).mean(1)[:, None]})


@METRICS.register("relevance_mass")
class RelevanceMass(_Localization):
    """Relevance mass accuracy (CLEVR-XAI): the share of the map's positive relevance inside the
    object (:func:`relevance_mass_accuracy`). Higher is better."""

    score = staticmethod(relevance_mass_accuracy)


@METRICS.register("relevance_rank")
class RelevanceRank(_Localization):
    """Relevance rank accuracy (CLEVR-XAI): the share of the |GT| most relevant pixels inside the
    object, ties counted by expectation (:func:`relevance_rank_accuracy`). Higher is better."""

    score = staticmethod(relevance_rank_accuracy)
