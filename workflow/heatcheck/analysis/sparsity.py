"""Sparsity of explanations (first paper, section 4.4): the distribution of relevance values
(Figure 3) and Gaussian-blurred copies of sparse maps (Figure 4, Tables 5, 6, A1). Torch-free.

Relevance is taken after the paper's post-processing (negative relevance removed, each map
min-max scaled to [0, 1]), the maps the metrics score.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from .. import HeatcheckError
from ..costs import blur_kernel
from ..postprocess import relu_minmax
from ..store import open_saliency, read_saliency, read_shard_report, write_saliency_shard


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


def blur_shard(src_report, out_array, out_report, params: dict) -> dict:
    """One shard of ``{explainer}+blur``: the blurred copy of the maps of the source shard whose
    report is ``src_report``, written into ``out_array`` (created by ``init_saliency``), resized
    like the source to its images, and this shard's report ``out_report`` (the same images and
    targets; finalize_saliency marks the array complete)."""
    src = read_shard_report(src_report)
    start, stop = src["start"], src["stop"]
    arr = open_saliency(src["array"], rows=(start, stop), repair=True)
    kernel, sigma = blur_params(params, arr.shape[-1])
    t0 = time.perf_counter()
    maps = blur_maps(read_saliency(arr, start, stop, repair=True), kernel, sigma)
    write_saliency_shard(out_array, start, maps, arr.chunks[0], ids=list(arr.attrs["ids"]))
    report = {**{k: src[k] for k in ("shard", "start", "stop", "ids", "targets", "signed") if k in src},
              "array": str(out_array),
              "source": str(src_report), "kernel": kernel, "sigma": sigma, "seconds": time.perf_counter() - t0}
    with open(out_report, "w") as fh:
        json.dump(report, fh, indent=1)
    return report


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
