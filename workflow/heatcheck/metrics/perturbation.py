"""Model-centred metrics of the first paper: Average Drop (real and binarized), insertion and
deletion (RISE, Petsiuk et al. 2018) in all baseline x granularity configurations.

F is the softmax probability of the target class; images are normalized, so the dataset mean is
0. Maps are post-processed as in the paper (section 3.5): negative relevance removed, then
min-max scaled to [0, 1] per image (``relu: false`` keeps negative values in the ordering).
"""

from __future__ import annotations

import numpy as np

from ..lazy import torch
from .. import metric_configs
from ..batching import gaussian_blur, image_generator, target_scores
from ..costs import blur_kernel, curve_steps, region_side
from ..postprocess import relu_minmax
from .base import METRICS, Metric, MetricResult, Param
from .ordering import descending_order, pixel_schedule, region_schedule


def auc(curves: np.ndarray) -> np.ndarray:
    """Trapezoid area under curves sampled at equally spaced fractions 0..1 (last axis).

    Each curve is integrated over its own points: curves of configurations with fewer points
    (the ``pixel`` granularity often has fewer than ``region``) are padded at the end with NaN
    to a common length, and a curve of K + 1 points has the spacing 1 / K. A NaN before the
    padding (or fewer than 2 points) gives NaN, never a silently shortened curve.
    """
    c = np.asarray(curves)
    finite = np.isfinite(c)
    n = finite.sum(-1)
    padded_only = np.cumprod(finite, -1).sum(-1) == n  # the finite points are a prefix
    both = finite[..., 1:] & finite[..., :-1]
    pairs = np.where(both, c[..., 1:] + c[..., :-1], 0).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        area = pairs / (2 * (n - 1))
    return np.where(padded_only & (n >= 2), area, np.nan).astype(c.dtype, copy=False)


def binarize_top(maps: np.ndarray, percentile: float) -> np.ndarray:
    """Per image, 1 for the pixels ranked above the ``percentile``-th percentile, else 0.

    Rank-based (ties broken by pixel index), so the 50th percentile keeps exactly half the
    pixels even on maps with ties.
    """
    b = len(maps)
    flat = maps.reshape(b, -1)
    n = flat.shape[1]
    keep = int(round(n * (1 - percentile / 100)))
    order = descending_order(flat)
    out = np.zeros_like(flat, dtype=np.float32)
    np.put_along_axis(out, order[:, :keep], 1.0, axis=1)
    return out.reshape(maps.shape)


@METRICS.register("average_drop")
class AverageDrop(Metric):
    """Average Drop % (Chattopadhyay et al. 2018), eq. (1) of the first paper, per image:
    ``max(0, F(I)_c - F(S o I)_c) / F(I)_c`` with ``S`` the [0, 1] map multiplied into the
    normalized image; the mean over images is the Average Drop %. Lower is better.

    Configurations: ``real`` (the map itself) and the map binarized per image at each
    percentile in ``percentiles`` (supplement C). Extra columns from the same forward passes:
    ``increase`` (Increase in Confidence, F(S o I)_c > F(I)_c), ``p_full``, ``p_masked``.
    """

    higher_is_better = False
    axes = ("binarize",)
    primary = "real"
    params = (Param("real", "boolean", True, "Score the real-valued map."),
              Param("percentiles", "array", [50, 70, 75, 80, 85, 90],
                    "Binarize each map at these per-image percentiles (supplement C).",
                    items={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100}, unique=True),
              Param("relu", "boolean", True, "remove negative relevance before min-max scaling"))
    configs = staticmethod(metric_configs.average_drop)
    primary_params = staticmethod(metric_configs.average_drop_primary)

    @classmethod
    def passes(cls, params, side):
        return 1.0 + len(cls.configs(params)), 0.0

    def __call__(self, model, x, saliency, targets, **kw):
        maps = relu_minmax(saliency.cpu().numpy(), relu=self.params["relu"])
        masks = []
        for cfg in self.configurations():
            q = cfg["binarize"]
            masks.append(maps if q == "real" else binarize_top(maps, float(q[1:])))
        m = torch.from_numpy(np.stack(masks, 1)).to(x.device)  # (B, n_cfg, H, W)
        b, n_cfg = m.shape[:2]
        inputs = (x.unsqueeze(1) * m.unsqueeze(2)).flatten(0, 1)
        p_full = target_scores(model, x, targets, self.batch_size)
        p_masked = target_scores(model, inputs, targets.repeat_interleave(n_cfg), self.batch_size).view(b, n_cfg)
        p_full = p_full.view(b, 1).expand(b, n_cfg)
        drop = (p_full - p_masked).clamp(min=0) / p_full.clamp(min=1e-12)
        return MetricResult(drop.cpu().numpy(), extra={
            "increase": (p_masked > p_full).cpu().numpy().astype(np.int8),
            "p_full": p_full.cpu().numpy(), "p_masked": p_masked.cpu().numpy()})


class _PixelPerturbation(Metric):
    """Shared machinery of insertion and deletion.

    Parameters (config ``metrics.insertion`` / ``metrics.deletion``)
    ----------------------------------------------------------------
    baselines : list of ``mean`` (0 in normalized space), ``blur`` (Gaussian blur of the image,
        kernel ``blur_kernel`` and sigma ``blur_sigma``, 11 and 5 at 224 px, scaled with the
        image), ``uniform`` (U(0, 1) noise in normalized units, one draw per seed in
        ``range(uniform_seeds)``, 5 as in the paper)
    granularities : ``pixel`` (``steps`` steps of ``ceil(H*W/steps)`` pixels, or ``step_pixels``)
        and/or ``region`` (the ``region`` x ``region`` square, 9 at 224 px scaled, around the next
        most relevant not yet perturbed pixel; a point each time the fraction passes k/steps)
    steps : curve points after the start (100: 101 points); the ``pixel`` granularity has
        ``ceil(H*W / ceil(H*W/steps))`` (94 for 100 steps at 32 px), see :func:`~heatcheck.costs.curve_steps`

    The curves (B, configurations, points) are as long as the longest configuration's; shorter
    ones are padded with NaN, and each area is over the configuration's own points (:func:`auc`).
    """

    has_curves = True
    axes = ("baseline", "granularity", "seed")
    primary = "mean+pixel"
    insert: bool = True
    params = (
        Param("baselines", "array", ["mean", "blur", "uniform"], "what perturbed pixels become",
              items={"enum": ["mean", "blur", "uniform"]}, min_items=1, unique=True),
        Param("granularities", "array", ["pixel", "region"], "pixels in steps, or squares around the most "
              "relevant pixels", items={"enum": ["pixel", "region"]}, min_items=1, unique=True),
        Param("steps", "integer", 100, "Curve points after the start.", minimum=1),
        Param("step_pixels", "integer", None, "Pixels per step (overrides steps).", minimum=1, nullable=True),
        Param("region", "integer", None, "Region side (null = 9 at 224 px, scaled).", minimum=1, nullable=True),
        Param("blur_kernel", "integer", None, "null = 11 at 224 px, scaled.", minimum=1, nullable=True),
        Param("blur_sigma", "number", None, "null = 5 at 224 px, scaled.", exclusive_minimum=0, nullable=True),
        Param("uniform_seeds", "integer", 5, "draws of the uniform baseline", minimum=1),
        Param("relu", "boolean", True, "Remove negative relevance before ordering."))
    configs = staticmethod(metric_configs.pixel_perturbation)
    config_key = staticmethod(metric_configs.pixel_perturbation_key)
    primary_params = staticmethod(metric_configs.pixel_perturbation_primary)

    @classmethod
    def passes(cls, params, side):
        return float(sum(curve_steps(params, side, cfg["granularity"]) + 1 for cfg in cls.configs(params))), 0.0

    @classmethod
    def limits(cls, params, side):
        out = []
        if "region" in params["granularities"]:
            out.append(("region", region_side(params["region"], side), side, "the image side", ""))
        if "blur" in params["baselines"]:
            out.append(("blur_kernel", blur_kernel(params["blur_kernel"], side), side, "the image side", ""))
        if params["step_pixels"] and "pixel" in params["granularities"]:
            out.append(("step_pixels", params["step_pixels"], side * side - 1, "the pixels minus 1",
                        "one step would perturb the whole image"))
        return out

    def n_points(self, side: int, granularity: str) -> int:
        """Points of a curve at ``granularity`` on ``side``-px images (start included)."""
        return curve_steps(self.params, side, granularity) + 1

    def _baseline(self, cfg, x, index):
        if cfg["baseline"] == "mean":
            return torch.zeros_like(x)
        if cfg["baseline"] == "blur":
            side = x.shape[-1]
            k = blur_kernel(self.params["blur_kernel"], side)
            k += 1 - k % 2  # odd kernel
            sigma = self.params["blur_sigma"] or max(0.5, 5.0 * side / 224)
            return gaussian_blur(x, k, float(sigma))
        gens = [image_generator(self.seed * 1000 + cfg["seed"], int(i)) for i in index]
        return torch.stack([torch.rand(x.shape[1:], generator=g) for g in gens]).to(x.device)

    def __call__(self, model, x, saliency, targets, index=None, **kw):
        b, _, h, w = x.shape
        index = torch.arange(b) if index is None else index
        maps = relu_minmax(saliency.cpu().numpy(), relu=self.params["relu"])
        steps = int(self.params["steps"])
        schedules = {}
        for gran in self.params["granularities"]:
            if gran == "pixel":
                t, k = pixel_schedule(maps, steps, self.params["step_pixels"])
            else:
                t, k = region_schedule(maps, region_side(self.params["region"], w) | 1, steps)
            schedules[gran] = (torch.from_numpy(t).to(x.device), k)
        cfgs = self.configurations()
        # NaN pads the configurations with fewer points (auc integrates each over its own)
        curves = np.full((b, len(cfgs), max(k for _, k in schedules.values()) + 1), np.nan, dtype=np.float32)
        for c, cfg in enumerate(cfgs):
            t, k = schedules[cfg["granularity"]]
            curves[:, c, : k + 1] = self._curves(model, x, self._baseline(cfg, x, index), t, k, targets)
        return MetricResult(auc(curves), curves=curves)

    def _curves(self, model, x, base, t, k, targets) -> np.ndarray:
        """Target probability at points 0..k for every image, forwards batched over images x points."""
        b = len(x)
        points = torch.arange(k + 1, device=x.device)
        # (image, point) pairs processed in chunks of batch_size forward inputs
        pairs = torch.cartesian_prod(torch.arange(b, device=x.device), points)
        out = torch.empty(len(pairs), device=x.device)
        for s in range(0, len(pairs), self.batch_size):
            i, p = pairs[s:s + self.batch_size].unbind(1)
            perturbed = (t[i] <= p.view(-1, 1, 1)).unsqueeze(1)  # (n, 1, H, W)
            src, dst = (x[i], base[i]) if not self.insert else (base[i], x[i])
            # deletion: start from the image, perturbed pixels become the baseline;
            # insertion: start from the baseline, perturbed ("inserted") pixels become the image
            out[s:s + self.batch_size] = target_scores(model, torch.where(perturbed, dst, src), targets[i],
                                                       self.batch_size)
        return out.view(b, k + 1).cpu().numpy()


@METRICS.register("insertion")
class Insertion(_PixelPerturbation):
    """Insertion: pixels of the image inserted into the baseline, most relevant first; the score
    is the area under the probability curve over the inserted fraction. Higher is better."""

    higher_is_better = True
    insert = True


@METRICS.register("deletion")
class Deletion(_PixelPerturbation):
    """Deletion: pixels replaced by the baseline, most relevant first; the score is the area
    under the probability curve over the deleted fraction. Lower is better."""

    higher_is_better = False
    insert = False


@METRICS.register("pointing_game")
class PointingGame(Metric):
    """Pointing game (Zhang et al. 2018): a hit (1) when the map's maximum lies inside a box of
    the target object, grown by ``tolerance`` pixels on each side; else 0. Higher is better.
    The maximum of the raw map is that of the post-processed map (ReLU and min-max are monotone);
    ties go to the first pixel in row-major order."""

    needs = ("boxes",)
    binary = True
    params = (Param("tolerance", "integer", 0, "pixels a box is grown by on each side", minimum=0),)

    @classmethod
    def passes(cls, params, side):
        return 0.0, 0.0

    def __call__(self, model, x, saliency, targets, boxes=None, **kw):
        tol = int(self.params["tolerance"])
        s = saliency.cpu().numpy()
        b, h, w = s.shape
        peak = s.reshape(b, -1).argmax(1)
        py, px = np.divmod(peak, w)
        hits = np.zeros((b, 1), dtype=np.float32)
        for i in range(b):
            for x0, y0, x1, y1 in np.asarray(boxes[i]).reshape(-1, 4):
                if x0 < 0:
                    continue
                if x0 - tol <= px[i] < x1 + tol and y0 - tol <= py[i] < y1 + tol:
                    hits[i, 0] = 1.0
        return MetricResult(hits)
