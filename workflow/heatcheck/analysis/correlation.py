"""Correlations between metrics and between configurations of one metric, with bootstrap CIs.

The first paper's sanity checks (section 3.4), after Tomsett et al.:

- *internal consistency reliability*: the Spearman rank correlation over images between two
  configurations of one metric (e.g. insertion with a mean vs a blur baseline);
- *inter-method reliability*: the correlation over images between two metrics, Spearman for two
  continuous metrics, point-biserial when one is binary (the pointing game), with signs aligned
  by each metric's direction so that a positive value always means agreement.

A correlation that cannot be computed (a constant column, fewer than 3 images) is NaN with the
reason, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass
class Corr:
    """A correlation with its method, sample size and, when NaN, the reason."""

    value: float
    method: str
    n: int
    reason: str = ""


def _undefined(a: np.ndarray, b: np.ndarray) -> str:
    if len(a) < 3:
        return f"only {len(a)} paired values"
    if np.all(a == a[0]):
        return "first column is constant"
    if np.all(b == b[0]):
        return "second column is constant"
    return ""


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def _correlate(a, b, method: str, statistic) -> Corr:
    a, b = _paired(a, b)
    why = _undefined(a, b)
    if why:
        return Corr(float("nan"), method, len(a), why)
    return Corr(float(statistic(a, b).statistic), method, len(a))


def spearman(a, b) -> Corr:
    """Spearman's rho with average ranks for ties (scipy's definition)."""
    return _correlate(a, b, "spearman", stats.spearmanr)


def point_biserial(binary, continuous) -> Corr:
    """Point-biserial correlation of a 0/1 variable with a continuous one (Pearson's r)."""
    return _correlate(binary, continuous, "point-biserial", stats.pointbiserialr)


def aligned(a, b, higher_a: bool = True, higher_b: bool = True, binary_a: bool = False,
            binary_b: bool = False) -> Corr:
    """Correlation of two metrics over the same images, oriented so that positive = agreement.

    A metric where lower is better is negated first; a binary metric pairs with a continuous one
    through the point-biserial correlation, and two binary metrics through Pearson's phi.
    """
    # orientation first: Pearson (hence point-biserial and phi) and Spearman are odd in each
    # argument, so negating a lower-is-better metric flips the sign and nothing else
    a = np.asarray(a, dtype=float) * (1 if higher_a else -1)
    b = np.asarray(b, dtype=float) * (1 if higher_b else -1)
    if binary_a and binary_b:
        c = point_biserial(a, b)
        return Corr(c.value, "phi", c.n, c.reason)
    if binary_a or binary_b:
        return point_biserial(a, b) if binary_a else point_biserial(b, a)
    return spearman(a, b)


def _rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1), np.nan)


def boot_indices(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """(n_boot, n) image indices drawn with replacement: one set shared by every correlation of
    a table, so that averages over explainers get a CI from the same resamples."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def boot_values(a, b, method: str, idx: np.ndarray) -> np.ndarray:
    """The correlation on each resample ``idx`` (rows of image indices), vectorized; NaN where a
    resample is constant. ``method``: ``spearman`` (ranks recomputed within each resample, ties
    averaged) or ``point-biserial`` / ``phi`` / ``pearson`` (Pearson's r on the values). Pairs with
    a non-finite value must have been dropped by the caller (``a``, ``b`` finite)."""
    a, b = np.asarray(a, dtype=float)[idx], np.asarray(b, dtype=float)[idx]
    if method == "spearman":
        a, b = stats.rankdata(a, axis=-1), stats.rankdata(b, axis=-1)
    return _rowwise_pearson(a, b)


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap values; NaN if fewer than half are defined."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0 or len(v) < len(np.asarray(values)) / 2:
        return (float("nan"), float("nan"))
    q = (1 - level) / 2
    return float(np.quantile(v, q)), float(np.quantile(v, 1 - q))


def bootstrap_corr(a, b, method: str = "spearman", n_boot: int = 1000, seed: int = 0,
                   level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of a correlation, resampling images (pairs) with replacement.

    Resamples where the correlation is undefined (e.g. constant) are dropped; NaN if fewer than
    half remain.
    """
    a, b = _paired(a, b)
    if len(a) < 3:
        return (float("nan"), float("nan"))
    return percentile_ci(boot_values(a, b, method, boot_indices(len(a), n_boot, seed)), level)
