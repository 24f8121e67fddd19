"""Agreement between raters: Krippendorff's alpha (inter-rater reliability of the metrics, after
Tomsett et al.) and Kendall's W.

Used with the metrics as raters and (image, explainer) pairs as units, the values being the rank
each metric gives the explainer on that image: "do the metrics agree on which explainer is best"
becomes one number.
"""

from __future__ import annotations

import numpy as np


def _delta2(values: np.ndarray, counts: np.ndarray, level: str) -> np.ndarray:
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        s = c + k
        return np.where(s != 0, ((c - k) / np.where(s != 0, s, 1)) ** 2, 0.0)
    if level == "ordinal":
        # (sum of n_g for g between c and k) - (n_c + n_k) / 2, squared (values sorted ascending)
        cum = np.concatenate([[0.0], np.cumsum(counts)])
        i, j = np.meshgrid(np.arange(len(values)), np.arange(len(values)), indexing="ij")
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        return (cum[hi + 1] - cum[lo] - (counts[i] + counts[j]) / 2) ** 2
    raise ValueError(f"unknown level {level!r}; valid: nominal, ordinal, interval, ratio")


def _value_counts(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values, and a units x values matrix of how many raters gave each value."""
    values = np.unique(data[np.isfinite(data)])
    counts = np.zeros((data.shape[1], len(values)))
    for r in data:  # one row per rater: few raters, many units
        ok = np.isfinite(r)
        np.add.at(counts, (np.flatnonzero(ok), np.searchsorted(values, r[ok])), 1.0)
    return values, counts


def _alpha_from_coincidences(o: np.ndarray, values: np.ndarray, level: str) -> np.ndarray:
    """alpha for a stack (..., V, V) of coincidence matrices."""
    n_c = o.sum(-1)
    n = n_c.sum(-1)
    out = np.full(o.shape[:-2], np.nan)
    for i in np.ndindex(*o.shape[:-2]):
        d2 = _delta2(values, n_c[i], level)
        d_o = (o[i] * d2).sum() / n[i]
        d_e = (n_c[i][:, None] * n_c[i][None, :] * d2).sum() / (n[i] * (n[i] - 1))
        out[i] = 1 - d_o / d_e if d_e > 0 else np.nan
    return out


def _unit_coincidences(counts: np.ndarray) -> np.ndarray:
    """Per unit: (c c^T - diag(c)) / (m - 1), zero for units with fewer than two values."""
    m = counts.sum(1)
    pair = counts[:, :, None] * counts[:, None, :]
    pair[:, np.arange(counts.shape[1]), np.arange(counts.shape[1])] -= counts
    scale = np.where(m >= 2, 1.0 / np.where(m >= 2, m - 1, 1), 0.0)
    return pair * scale[:, None, None]


def krippendorff_alpha(data, level: str = "ordinal", weights=None) -> float | np.ndarray:
    """Krippendorff's alpha of a raters x units matrix (NaN = missing).

    alpha = 1 - D_o / D_e, with the coincidence matrix o_ck = sum over units of the number of
    ordered pairs of values (c, k) from different raters divided by (m_u - 1), m_u the number of
    values in unit u (units with fewer than 2 are not pairable), n_c = sum_k o_ck,
    D_o = sum o_ck delta2_ck / n and D_e = sum n_c n_k delta2_ck / (n (n - 1)).

    ``weights`` (optional, (B, units)): how often each unit is counted, e.g. bootstrap
    multiplicities; then one alpha per row is returned, all from one pass over the data.
    """
    data = np.asarray(data, dtype=float)
    values, counts = _value_counts(data)
    if len(values) < 2:
        return float("nan") if weights is None else np.full(len(weights), np.nan)
    per_unit = _unit_coincidences(counts)
    if weights is None:
        return float(_alpha_from_coincidences(per_unit.sum(0), values, level))
    o = np.einsum("bu,uvw->bvw", np.asarray(weights, dtype=float), per_unit)
    return _alpha_from_coincidences(o, values, level)


def kendalls_w(ranks) -> float:
    """Kendall's coefficient of concordance of an m raters x n items matrix of ranks (no ties
    correction): W = 12 S / (m^2 (n^3 - n)), S the sum of squared deviations of the rank sums."""
    r = np.asarray(ranks, dtype=float)
    m, n = r.shape
    totals = r.sum(0)
    s = ((totals - totals.mean()) ** 2).sum()
    return float(12 * s / (m ** 2 * (n ** 3 - n)))
