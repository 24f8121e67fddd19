"""Sparsity of explanations (first paper, section 4.4): the distribution of relevance values
(Figure 3). Torch-free. The Gaussian-blurred copies of sparse maps (Figure 4, Tables 5, 6, A1)
are derived map arrays, made by :mod:`heatcheck.derived` (the analyses only read maps).

Relevance is taken after the paper's post-processing (negative relevance removed, each map
min-max scaled to [0, 1]), the maps the metrics score.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy import stats

from .. import HeatcheckError
from ..postprocess import relu_minmax
from ..store import open_saliency


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
