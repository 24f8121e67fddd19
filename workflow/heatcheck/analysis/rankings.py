"""Explainer rankings per metric, and how far the metrics agree on them.

- :func:`rankings`: per (model, metric), the mean score of each explainer over images with a
  bootstrap CI, and its rank (1 = best in the metric's direction, ties averaged);
- :func:`agreement`: per model, Kendall's W of those rankings across metrics, and Krippendorff's
  alpha (ordinal) of the per-image rankings, the metrics as raters and (image, explainer) pairs
  as units (Tomsett et al.), both with a bootstrap CI over images.

Only original explainers are ranked (no derived arrays such as the ``+blur`` copies). A metric that scored only some of the
explainers (``masking_robustness`` restricted to a subset) is ranked, but left out of the
agreement statistics, which need every rater to rank the same explainers; the table says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .agreement import kendalls_w, krippendorff_alpha
from ..tables import bootstrap_ci
from .correlation import boot_indices, percentile_ci
from ..derived import is_derived
from .reliability import primary_table


def _cube(prim: pd.DataFrame, metrics: list[str], explainers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(images, metrics, explainers) scores oriented so that higher is better, on the images every
    (metric, explainer) scored."""
    wide = prim.pivot_table(index="image_index", columns=["metric", "explainer"], values="score").dropna()
    cube = np.stack([np.stack([wide[(m, e)].to_numpy() for e in explainers], -1) for m in metrics], 1)
    sign = np.array([1.0 if prim.loc[prim["metric"] == m, "higher_is_better"].iloc[0] else -1.0 for m in metrics])
    return wide.index.to_numpy(), cube * sign[None, :, None]


def _ranks(oriented: np.ndarray) -> np.ndarray:
    """Rank along the last axis, 1 = best (highest oriented score), ties averaged."""
    return stats.rankdata(-oriented, axis=-1)


def rankings(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
             primary: dict | None = None) -> pd.DataFrame:
    prim = primary_table(scores, primary)
    prim = prim[~prim["explainer"].map(is_derived)]
    rows = []
    for (model, metric), g in prim.groupby(["model", "metric"], sort=False):
        higher = bool(g["higher_is_better"].iloc[0])
        means = g.groupby("explainer", sort=False)["score"].mean()
        rank = _ranks(means.to_numpy() * (1 if higher else -1))
        for (e, mean), r in zip(means.items(), rank):
            v = g.loc[g["explainer"] == e, "score"].to_numpy()
            lo, hi = bootstrap_ci(v, n_boot, seed, level)
            rows.append({"model": model, "metric": metric, "config": g["config"].iloc[0], "explainer": e,
                         "higher_is_better": higher, "n": len(v), "mean": mean, "ci_low": lo, "ci_high": hi,
                         "rank": float(r)})
    return pd.DataFrame(rows, columns=["model", "metric", "config", "explainer", "higher_is_better", "n", "mean",
                                       "ci_low", "ci_high", "rank"])


def agreement(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
              primary: dict | None = None) -> pd.DataFrame:
    prim = primary_table(scores, primary)
    prim = prim[~prim["explainer"].map(is_derived)]
    rows = []
    for model, g in prim.groupby("model", sort=False):
        explainers = list(dict.fromkeys(g["explainer"]))
        covered = g.groupby("metric", sort=False)["explainer"].nunique()
        metrics = [m for m, k in covered.items() if k == len(explainers)]
        left_out = [m for m in covered.index if m not in metrics]
        base = {"model": model, "raters": " ".join(metrics), "explainers": " ".join(explainers),
                "left_out": " ".join(left_out)}
        if len(metrics) < 2 or len(explainers) < 2:
            why = f"{len(metrics)} metric(s) scored all {len(explainers)} explainer(s); need 2 and 2"
            for stat in ("kendalls_w", "krippendorff_alpha"):
                rows.append({**base, "statistic": stat, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                             "n_images": 0, "reason": why})
            continue
        images, cube = _cube(g, metrics, explainers)
        n = len(images)
        idx = boot_indices(n, n_boot, seed) if n_boot and n >= 3 else None
        # Kendall's W of the mean-score rankings; resample images, re-average, re-rank
        w = kendalls_w(_ranks(cube.mean(0)))
        w_boot = None
        if idx is not None:
            mean_b = cube[idx].mean(1)  # (boot, metrics, explainers)
            w_boot = np.array([kendalls_w(r) for r in _ranks(mean_b)])
        # alpha: raters = metrics, units = (image, explainer), value = the explainer's rank on that image
        per_image = _ranks(cube)  # (images, metrics, explainers)
        data = per_image.transpose(1, 0, 2).reshape(len(metrics), -1)
        alpha = krippendorff_alpha(data, "ordinal")
        a_boot = None
        if idx is not None:
            counts = np.stack([np.bincount(i, minlength=n) for i in idx])  # image multiplicities
            a_boot = krippendorff_alpha(data, "ordinal", weights=np.repeat(counts, len(explainers), axis=1))
        for stat, value, b in (("kendalls_w", w, w_boot), ("krippendorff_alpha", alpha, a_boot)):
            lo, hi = percentile_ci(b, level) if b is not None else (np.nan, np.nan)
            rows.append({**base, "statistic": stat, "value": value, "ci_low": lo, "ci_high": hi, "n_images": n,
                         "reason": "" if np.isfinite(value) else "no variation in the rankings"})
    return pd.DataFrame(rows, columns=["model", "statistic", "value", "ci_low", "ci_high", "n_images", "raters",
                                       "explainers", "left_out", "reason"])
