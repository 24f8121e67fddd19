"""Similarity of two sets of maps of the same images, per image (torch-free): how much an
explanation changed when the model's parameters were randomized (Adebayo et al. 2018, "Sanity
Checks for Saliency Maps", section 3), or under any other intervention.

- :func:`spearman_abs`: Spearman rank correlation of the absolute values (their Figure 4's
  "rank correlation (abs)");
- :func:`ssim`: the structural similarity index (Wang et al. 2004) of the maps normalized to
  [0, 1], with an 11 x 11 Gaussian window (sigma 1.5), as Adebayo et al. report it.

A value near 1 means the map did not change; a map that passes the sanity check has a low value
once the model is randomized.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, stats

from .correlation import _rowwise_pearson

#: Wang et al.'s constants: Gaussian window sigma, its truncation (radius 5: an 11 x 11 window,
#: as in scikit-image with gaussian_weights=True), and K1, K2 of the stabilizing terms
SSIM_SIGMA, SSIM_TRUNCATE, SSIM_K1, SSIM_K2 = 1.5, 3.5, 0.01, 0.03


def _pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"expected two (B, H, W) stacks of maps of one shape; got {a.shape} and {b.shape}")
    return a, b


def spearman_abs(a, b) -> np.ndarray:
    """Spearman's rank correlation of ``|a|`` and ``|b|`` over the pixels, per image: (B,).

    Ties get average ranks (scipy's definition); NaN where a map is constant.
    """
    a, b = _pairs(a, b)
    ra = stats.rankdata(np.abs(a).reshape(len(a), -1), axis=1)
    rb = stats.rankdata(np.abs(b).reshape(len(b), -1), axis=1)
    return _rowwise_pearson(ra, rb)


def unit_range(maps: np.ndarray, absolute: bool = True) -> np.ndarray:
    """Each map (of ``|map|`` when ``absolute``) min-max scaled to [0, 1]; a constant map is 0."""
    m = np.abs(maps) if absolute else np.asarray(maps, dtype=np.float64)
    flat = m.reshape(len(m), -1)
    lo = flat.min(1, keepdims=True)
    span = flat.max(1, keepdims=True) - lo
    return ((flat - lo) / np.where(span > 0, span, 1)).reshape(m.shape)


def ssim(a, b, absolute: bool = True, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Mean structural similarity of two maps, per image: (B,).

    Both maps are scaled to [0, 1] first (:func:`unit_range`, of the absolute values by default
    as in Adebayo et al.), so the data range is 1. With Gaussian-weighted local means
    ``mu``, variances ``s^2`` and covariance ``s_ab`` (window sigma 1.5, radius 5):

    .. math::

        \\mathrm{SSIM} = \\frac{(2\\mu_a\\mu_b + C_1)(2 s_{ab} + C_2)}
                              {(\\mu_a^2 + \\mu_b^2 + C_1)(s_a^2 + s_b^2 + C_2)},
        \\quad C_1 = (0.01)^2,\\ C_2 = (0.03)^2,

    averaged over the pixels whose window lies inside the map (a border of 5 pixels is left
    out), which is scikit-image's ``structural_similarity(gaussian_weights=True,
    use_sample_covariance=False, data_range=1)``. Maps must be at least 11 x 11.
    """
    a, b = _pairs(a, b)
    x, y = unit_range(a, absolute), unit_range(b, absolute)
    radius = int(SSIM_TRUNCATE * sigma + 0.5)
    if min(a.shape[1:]) < 2 * radius + 1:
        raise ValueError(f"ssim needs maps of at least {2 * radius + 1} x {2 * radius + 1} pixels, got {a.shape[1:]}")

    def blur(v):
        return ndimage.gaussian_filter(v, sigma=(0, sigma, sigma), truncate=SSIM_TRUNCATE, mode="reflect")

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s[:, radius:-radius, radius:-radius].reshape(len(s), -1).mean(1)


#: the map similarities of the randomization table, by name
MEASURES = {"spearman_abs": spearman_abs, "ssim": ssim}


def randomization_similarity(original, randomized) -> dict[str, np.ndarray]:
    """Per image, each of :data:`MEASURES` between the trained model's maps and a randomized
    model's maps of the same images: name -> (B,)."""
    return {name: fn(original, randomized) for name, fn in MEASURES.items()}


def randomization_table(markers, n_boot: int = 1000, seed: int = 0, level: float = 0.95):
    """The randomization test's table (Adebayo et al.'s Figure 4 as numbers) from saliency
    markers (``saliency/{model}/{explainer}.json``) of originals and their ``+randomized{k}``
    reruns: per (model, explainer, step k, measure) the mean similarity over images with a
    bootstrap CI; ``layer`` is the layer re-initialised at step k (from the rerun's shard report).
    """
    import json

    import pandas as pd

    from ..derived import RANDOMIZED, parse_derived
    from ..store import open_saliency, read_saliency, saliency_name, saliency_shard_reports
    from ..tables import bootstrap_ci

    paths = {saliency_name(p): p for p in markers}

    def maps(key):
        with open(paths[key]) as fh:
            return read_saliency(open_saliency(json.load(fh)["path"], repair=True), repair=True)

    rows, cache = [], {}
    for (model, name), marker in paths.items():
        base, kind, step = parse_derived(name)
        if kind != RANDOMIZED or (model, base) not in paths:
            continue
        if (model, base) not in cache:
            cache[(model, base)] = maps((model, base))
        with open(marker) as fh:
            array = json.load(fh)["path"]
        report = saliency_shard_reports(array) / "0.json"
        layer = json.loads(report.read_text()).get("layer", "") if report.exists() else ""
        for measure, per_image in randomization_similarity(cache[(model, base)], maps((model, name))).items():
            v = per_image[np.isfinite(per_image)]
            lo, hi = bootstrap_ci(v, n_boot, seed, level)
            rows.append({"model": model, "explainer": base, "step": step, "layer": layer, "measure": measure,
                         "value": float(v.mean()) if len(v) else np.nan, "ci_low": lo, "ci_high": hi, "n": len(v),
                         "reason": "" if len(v) else "every map constant (no rank correlation)"})
    columns = ["model", "explainer", "step", "layer", "measure", "value", "ci_low", "ci_high", "n", "reason"]
    t = pd.DataFrame(rows, columns=columns)
    return t.sort_values(["model", "explainer", "measure", "step"], kind="stable").reset_index(drop=True)
