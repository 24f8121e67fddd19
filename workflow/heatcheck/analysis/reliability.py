"""Reliability tables of the first paper (section 4, supplements A and C), from a dataset's
``scores.parquet`` (long format, see :mod:`heatcheck.tables`). Torch-free.

- :func:`internal_consistency`: Spearman over images between every two configurations of a
  metric, per (model, explainer) and averaged over explainers (Tables 3, A4, A5);
- :func:`inter_method`: the correlation over images between every two metrics per (model,
  explainer), sign-aligned by direction (Tables 4, 7);
- :func:`binarized_average_drop`: Average Drop per binarization threshold (Table A2) and each
  threshold's correlation with the other metrics (Table A3);
- :func:`blur_study`: each ``{explainer}+blur`` against its original, paired over images
  (Tables 5, 6, A1).

Every correlation carries a percentile bootstrap CI over images. The resamples are shared by all
correlations of one model, so that an average over explainers has a CI from the same resamples.
A correlation that cannot be computed is NaN with its reason.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from ..derived import BLUR, parse_derived
from ..metric_configs import SEED_SUFFIX as _SEED, primary_config
from ..tables import bootstrap_ci
from .correlation import _rowwise_pearson, aligned, boot_indices, percentile_ci, spearman

#: metrics whose configurations are not settings of one measurement (they name other explainers)
NOT_CONFIGURATIONS = ("mutual_verification",)
KEYS = ["model", "explainer", "metric", "config"]


def collapse_seeds(scores: pd.DataFrame) -> pd.DataFrame:
    """Average the uniform-baseline seeds (``uniform+pixel+s0``, ``+s1``...) into one
    configuration (``uniform+pixel``) per image, as the paper does with its 5 seeds."""
    s = scores[KEYS + ["image_index", "score", "higher_is_better", "binary"]].copy()
    s["config"] = s["config"].str.replace(_SEED, "", regex=True)
    order = list(dict.fromkeys(s["config"]))
    out = s.groupby(KEYS + ["image_index"], sort=False, as_index=False).agg(
        score=("score", "mean"), higher_is_better=("higher_is_better", "first"), binary=("binary", "first"))
    out["_o"] = out["config"].map({c: i for i, c in enumerate(order)})
    return out.sort_values(["model", "metric", "_o", "explainer", "image_index"], kind="stable").drop(columns="_o")


def primary_configs(scores: pd.DataFrame, overrides: dict | None = None) -> dict[str, str]:
    """The configuration standing for each metric: ``overrides``, else the one its class
    declares (:func:`heatcheck.metric_configs.primary_config`), else the only configuration, else
    ``"mean"`` (the mean over configurations)."""
    out = {}
    for metric, g in scores.groupby("metric", sort=False):
        configs = list(dict.fromkeys(g["config"]))
        wanted = primary_config(metric, overrides=overrides)
        if wanted in configs or wanted == "mean" and metric in (overrides or {}):
            out[metric] = wanted
        else:
            out[metric] = configs[0] if len(configs) == 1 else "mean"
    return out


def primary_table(scores: pd.DataFrame, overrides: dict | None = None, collapsed: bool = False) -> pd.DataFrame:
    """One score per (model, explainer, metric, image): the metric's primary configuration
    (``collapsed``: ``scores`` already went through :func:`collapse_seeds`)."""
    s = scores if collapsed else collapse_seeds(scores)
    frames = []
    for metric, cfg in primary_configs(s, overrides).items():
        g = s[s["metric"] == metric]
        if cfg == "mean":
            g = g.groupby(["model", "explainer", "metric", "image_index"], sort=False, as_index=False).agg(
                score=("score", "mean"), higher_is_better=("higher_is_better", "first"),
                binary=("binary", "first"))
            g["config"] = "mean"
        else:
            g = g[g["config"] == cfg]
        frames.append(g)
    cols = KEYS + ["image_index", "score", "higher_is_better", "binary"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _columns(g: pd.DataFrame, by: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Images present in every column, and each column's scores on them."""
    wide = g.pivot_table(index="image_index", columns=by, values="score", sort=False).dropna()
    return wide.index.to_numpy(), {c: wide[c].to_numpy() for c in wide.columns}


class _Boot:
    """Bootstrap resamples of one model's images, with each column's resampled ranks cached."""

    def __init__(self, images: np.ndarray, n_boot: int, seed: int):
        self.pos = {int(i): k for k, i in enumerate(images)}
        self.idx = boot_indices(len(images), n_boot, seed) if n_boot and len(images) >= 3 else None
        self._ranks: dict = {}

    def values(self, key, images: np.ndarray, col: np.ndarray, ranked: bool) -> np.ndarray | None:
        if self.idx is None or len(images) != len(self.pos):
            return None  # only on the model's full image set (columns with gaps: no CI)
        if (key, ranked) not in self._ranks:
            v = col[self.idx]
            self._ranks[(key, ranked)] = stats.rankdata(v, axis=-1) if ranked else v
        return self._ranks[(key, ranked)]

    def corr(self, ka, a, kb, b, images, method: str) -> np.ndarray | None:
        ranked = method == "spearman"
        va, vb = self.values(ka, images, a, ranked), self.values(kb, images, b, ranked)
        return None if va is None or vb is None else _rowwise_pearson(va, vb)


def _row(corr, boot, level: float, **keys) -> dict:
    lo, hi = percentile_ci(boot, level) if boot is not None else (np.nan, np.nan)
    return {**keys, "method": corr.method, "value": corr.value, "ci_low": lo, "ci_high": hi, "n": corr.n,
            "reason": corr.reason}


def internal_consistency(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                         level: float = 0.95) -> pd.DataFrame:
    """Spearman over images between every two configurations of each metric with several, per
    (model, explainer); rows with ``explainer == "mean"`` average over the explainers (the
    paper's Table 3), their CI from the mean over explainers on each resample."""
    s = collapse_seeds(scores)
    s = s[~s["metric"].isin(NOT_CONFIGURATIONS)]
    rows = []
    for model, gm in s.groupby("model", sort=False):
        boot = _Boot(np.sort(gm["image_index"].unique()), n_boot, seed)
        for metric, g in gm.groupby("metric", sort=False):
            configs = list(dict.fromkeys(g["config"]))
            if len(configs) < 2:
                continue
            cols = {e: _columns(ge, "config") for e, ge in g.groupby("explainer", sort=False)}
            for ca, cb in itertools.combinations(configs, 2):
                vals, boots = [], []
                for e, (images, col) in cols.items():
                    c = spearman(col[ca], col[cb])
                    b = boot.corr((e, metric, ca), col[ca], (e, metric, cb), col[cb], images, "spearman")
                    rows.append(_row(c, b, level, model=model, metric=metric, explainer=e, config_a=ca,
                                     config_b=cb))
                    vals.append(c.value)
                    boots.append(b)
                mean = float(np.nanmean(vals)) if np.isfinite(vals).any() else np.nan
                ok = [b for b in boots if b is not None]
                mb = np.nanmean(np.stack(ok), axis=0) if ok and len(ok) == len(boots) else None
                lo, hi = percentile_ci(mb, level) if mb is not None else (np.nan, np.nan)
                rows.append({"model": model, "metric": metric, "explainer": "mean", "config_a": ca,
                             "config_b": cb, "method": "spearman", "value": mean, "ci_low": lo,
                             "ci_high": hi, "n": int(np.sum(np.isfinite(vals))),
                             "reason": "" if np.isfinite(mean) else "no explainer gave a defined value"})
    return pd.DataFrame(rows, columns=["model", "metric", "explainer", "config_a", "config_b", "method",
                                       "value", "ci_low", "ci_high", "n", "reason"])


def _metric_pairs(prim: pd.DataFrame, pairs, n_boot: int, seed: int, level: float) -> list[dict]:
    """Aligned correlations for the given ((metric, config), (metric, config)) column pairs of
    ``prim`` (columns keyed by (metric, config)), per (model, explainer)."""
    rows = []
    for model, gm in prim.groupby("model", sort=False):
        boot = _Boot(np.sort(gm["image_index"].unique()), n_boot, seed)
        info = gm.groupby(["metric", "config"], sort=False)[["higher_is_better", "binary"]].first()
        higher = {k: bool(v) for k, v in info["higher_is_better"].items()}
        binary = {k: bool(v) for k, v in info["binary"].items()}
        for e, ge in gm.groupby("explainer", sort=False):
            wide = ge.pivot_table(index="image_index", columns=["metric", "config"], values="score",
                                  sort=False)
            # numpy columns: a pandas selection per pair cost 4 ms, most of a table of 2,450 pairs
            index, values = wide.index.to_numpy(), wide.to_numpy(dtype=float)
            column = {k: i for i, k in enumerate(wide.columns)}
            for ka, kb in pairs(list(wide.columns)):
                va, vb = values[:, column[ka]], values[:, column[kb]]
                keep = ~(np.isnan(va) | np.isnan(vb))  # the images both metrics scored
                images = index[keep]
                ha, hb = higher[ka], higher[kb]
                a, b = va[keep] * (1 if ha else -1), vb[keep] * (1 if hb else -1)
                c = aligned(a, b, binary_a=binary[ka], binary_b=binary[kb])
                bt = boot.corr((e, ka), a, (e, kb), b, images, c.method)
                row = _row(c, bt, level, model=model, explainer=e, metric_a=ka[0], config_a=ka[1],
                           metric_b=kb[0], config_b=kb[1])
                # the paper's tables report the correlation of the raw scores (no alignment)
                row["raw"] = c.value * (1 if ha == hb else -1)
                rows.append(row)
    return rows


INTER_COLUMNS = ["model", "explainer", "metric_a", "config_a", "metric_b", "config_b", "method", "value",
                 "raw", "ci_low", "ci_high", "n", "reason"]


def inter_method(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                 primary: dict | None = None) -> pd.DataFrame:
    """Correlation over images between every two metrics (their primary configurations), per
    (model, explainer). ``value`` is sign-aligned (positive = the metrics agree on which images
    are explained well); ``raw`` is the correlation of the raw scores, as the paper reports it.
    Spearman for two continuous metrics, point-biserial with a binary one, phi for two binary."""
    prim = primary_table(scores, primary)

    def pairs(cols):
        return list(itertools.combinations(cols, 2))

    return pd.DataFrame(_metric_pairs(prim, pairs, n_boot, seed, level), columns=INTER_COLUMNS)


def binarized_average_drop(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                           primary: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Supplement C: Table A2 (mean Average Drop per threshold, real-valued first, with CIs) and
    Table A3 (every Average Drop configuration against the other metrics' primary
    configurations, per explainer, as in :func:`inter_method`)."""
    s = collapse_seeds(scores)
    ad = s[s["metric"] == "average_drop"]
    a2 = []
    for (model, e, cfg), g in ad.groupby(["model", "explainer", "config"], sort=False):
        v = g["score"].to_numpy()
        lo, hi = bootstrap_ci(v, n_boot, seed, level)
        a2.append({"model": model, "explainer": e, "config": cfg, "n": len(v), "mean": v.mean(),
                   "ci_low": lo, "ci_high": hi})
    a2 = pd.DataFrame(a2, columns=["model", "explainer", "config", "n", "mean", "ci_low", "ci_high"])
    prim = primary_table(s, primary, collapsed=True)
    prim = pd.concat([prim[prim["metric"] != "average_drop"], ad[prim.columns]], ignore_index=True)

    def pairs(cols):
        return [(a, b) for a in cols if a[0] == "average_drop" for b in cols if b[0] != "average_drop"]

    a3 = pd.DataFrame(_metric_pairs(prim, pairs, n_boot, seed, level), columns=INTER_COLUMNS)
    return a2, a3


def blur_study(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Each ``{explainer}+blur`` against its original on the same images: mean score of both, the
    paired difference (blurred - original) with a bootstrap CI, and whether blurring improved
    the score in the metric's direction with the CI excluding zero."""
    s = collapse_seeds(scores)
    blurred = [e for e in s["explainer"].unique() if parse_derived(e)[1] == BLUR]
    rows = []
    for eb in blurred:
        e = parse_derived(eb)[0]
        for (model, metric, cfg), g in s[s["explainer"].isin([e, eb])].groupby(["model", "metric", "config"],
                                                                                sort=False):
            wide = g.pivot_table(index="image_index", columns="explainer", values="score").dropna()
            if e not in wide or eb not in wide or not len(wide):
                continue
            d = (wide[eb] - wide[e]).to_numpy()
            lo, hi = bootstrap_ci(d, n_boot, seed, level)
            higher = bool(g["higher_is_better"].iloc[0])
            better = lo > 0 if higher else hi < 0
            rows.append({"model": model, "explainer": e, "metric": metric, "config": cfg, "n": len(d),
                         "higher_is_better": higher, "original": wide[e].mean(), "blurred": wide[eb].mean(),
                         "difference": d.mean(), "ci_low": lo, "ci_high": hi, "improved": bool(better)})
    return pd.DataFrame(rows, columns=["model", "explainer", "metric", "config", "n", "higher_is_better",
                                       "original", "blurred", "difference", "ci_low", "ci_high", "improved"])
