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


def krippendorff_alpha(data, level: str = "ordinal") -> float:
    """Krippendorff's alpha of a raters x units matrix (NaN = missing).

    alpha = 1 - D_o / D_e, with the coincidence matrix o_ck = sum over units of the number of
    ordered pairs of values (c, k) from different raters divided by (m_u - 1), m_u the number of
    values in unit u (units with fewer than 2 are not pairable), n_c = sum_k o_ck,
    D_o = sum o_ck delta2_ck / n and D_e = sum n_c n_k delta2_ck / (n (n - 1)).
    """
    data = np.asarray(data, dtype=float)
    values = np.unique(data[np.isfinite(data)])
    if len(values) < 2:
        return float("nan")
    index = {v: i for i, v in enumerate(values)}
    o = np.zeros((len(values), len(values)))
    for unit in data.T:
        vals = unit[np.isfinite(unit)]
        m = len(vals)
        if m < 2:
            continue
        idx = np.array([index[v] for v in vals])
        pair = np.zeros_like(o)
        np.add.at(pair, (idx[:, None].repeat(m, 1), idx[None, :].repeat(m, 0)), 1.0)
        pair[np.diag_indices_from(pair)] -= np.bincount(idx, minlength=len(values))  # drop self-pairs
        o += pair / (m - 1)
    n_c = o.sum(1)
    n = n_c.sum()
    d2 = _delta2(values, n_c, level)
    d_o = (o * d2).sum() / n
    d_e = (n_c[:, None] * n_c[None, :] * d2).sum() / (n * (n - 1))
    return float(1 - d_o / d_e) if d_e > 0 else float("nan")


def kendalls_w(ranks) -> float:
    """Kendall's coefficient of concordance of an m raters x n items matrix of ranks (no ties
    correction): W = 12 S / (m^2 (n^3 - n)), S the sum of squared deviations of the rank sums."""
    r = np.asarray(ranks, dtype=float)
    m, n = r.shape
    totals = r.sum(0)
    s = ((totals - totals.mean()) ** 2).sum()
    return float(12 * s / (m ** 2 * (n ** 3 - n)))
