"""Sparsity of explanations (first paper, section 4.4): the distribution of relevance values
(Figure 3) and Gaussian-blurred copies of sparse maps (Figure 4, Tables 5, 6, A1). Torch-free.

Relevance is taken after the paper's post-processing (negative relevance removed, each map
min-max scaled to [0, 1]), the maps the metrics score.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from .. import HeatcheckError
from ..costs import blur_kernel
from ..postprocess import relu_minmax
from ..store import create_saliency, finalize_saliency, open_saliency, write_saliency_shard


def blur_maps(maps: np.ndarray, kernel: int, sigma: float) -> np.ndarray:
    """Post-process (ReLU, min-max) then Gaussian-blur each (H, W) map with a ``kernel``-wide
    window (radius kernel // 2) and ``sigma``, reflecting at the borders; the result is
    min-max scaled again so that it is on the same [0, 1] scale as the maps it is compared with."""
    m = relu_minmax(np.asarray(maps, dtype=np.float32))
    radius = max(int(kernel) // 2, 1)
    out = ndimage.gaussian_filter(m, sigma=(0, sigma, sigma), mode="reflect", truncate=radius / sigma)
    return relu_minmax(out)


def blur_params(params: dict, side: int) -> tuple[int, float]:
    """Kernel and sigma of the map blur: given, or 11 and 5 at 224 px scaled to ``side`` (the
    values the paper uses for its blurred baseline)."""
    kernel = blur_kernel(params.get("kernel"), side)
    sigma = float(params.get("sigma") or max(0.5, 5.0 * side / 224))
    return kernel, sigma


def blur_saliency(src_json, out_zarr, out_json, params: dict, chunk: int = 256) -> dict:
    """Write ``{explainer}+blur``: the blurred copy of a complete saliency array, chunk by chunk,
    marked complete only at the end (an interrupted run leaves an array readers refuse)."""
    with open(src_json) as fh:
        src = open_saliency(json.load(fh)["path"])
    n, h, w = src.shape
    kernel, sigma = blur_params(params, h)
    attrs = {k: v for k, v in src.attrs.items() if k not in ("complete", "heatcheck_version")}
    attrs.setdefault("explainer", Path(out_zarr).stem)
    attrs.update({"variant": "blur", "blur": {"kernel": kernel, "sigma": sigma}})
    create_saliency(out_zarr, n, h, w, chunk, attrs)
    for start in range(0, n, chunk):
        write_saliency_shard(out_zarr, start, blur_maps(src[start:start + chunk], kernel, sigma), chunk)
    finalize_saliency(out_zarr, {})
    summary = {"path": str(out_zarr), "source": str(src_json), "n": n, "kernel": kernel, "sigma": sigma}
    with open(out_json, "w") as fh:
        json.dump(summary, fh, indent=1)
    return summary


def gini(maps: np.ndarray) -> np.ndarray:
    """Gini index of each map's (non-negative) values: 0 when all pixels are equally relevant,
    1 - 1/P when one pixel holds all relevance: a standard sparsity measure."""
    v = np.sort(np.asarray(maps, dtype=np.float64).reshape(len(maps), -1), axis=1)
    p = v.shape[1]
    total = v.sum(1)
    k = np.arange(1, p + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = 1 - 2 * ((v * (p - k + 0.5)).sum(1) / (p * total))
    return np.where(total > 0, g, np.nan)


def relevance_kde(values: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, str]:
    """Gaussian KDE (Scott's bandwidth) of relevance values on ``grid``; NaN with a reason when
    the values do not vary."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2 or np.ptp(v) == 0:
        return np.full(len(grid), np.nan), "relevance values are constant"
    return stats.gaussian_kde(v)(grid), ""


def sparsity_tables(saliency_jsons: dict, points: int = 101, max_values: int = 200_000,
                    seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The KDE of post-processed relevance per (model, explainer) on ``points`` values in [0, 1]
    (from at most ``max_values`` pixels drawn with a seed), and per-map sparsity statistics
    averaged over images: Gini index, mean relevance, share of pixels above 0.5.

    ``saliency_jsons`` maps (model, explainer) to the completeness marker of its array.
    """
    grid = np.linspace(0, 1, points)
    kde_rows, stat_rows = [], []
    for (model, explainer), path in saliency_jsons.items():
        with open(path) as fh:
            arr = open_saliency(json.load(fh)["path"])
        if arr.ndim != 3:
            raise HeatcheckError(f"saliency array {path}: expected (N, H, W) maps, got shape {arr.shape}")
        maps = relu_minmax(arr[:])
        flat = maps.reshape(-1)
        rng = np.random.default_rng(seed)
        sample = flat if len(flat) <= max_values else rng.choice(flat, max_values, replace=False)
        dens, reason = relevance_kde(sample, grid)
        kde_rows.append(pd.DataFrame({"model": model, "explainer": explainer, "relevance": grid,
                                      "density": dens, "reason": reason}))
        g = gini(maps)
        stat_rows.append({"model": model, "explainer": explainer, "n": len(maps), "gini": float(np.nanmean(g)),
                          "mean": float(maps.mean()), "above_half": float((maps > 0.5).mean()),
                          "zero": float((maps == 0).mean())})
    kde = pd.concat(kde_rows, ignore_index=True) if kde_rows else pd.DataFrame(
        columns=["model", "explainer", "relevance", "density", "reason"])
    return kde, pd.DataFrame(stat_rows, columns=["model", "explainer", "n", "gini", "mean", "above_half", "zero"])
