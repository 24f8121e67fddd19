"""Correlation code against scipy on known inputs, ties, constant columns and sign alignment."""

import numpy as np
from scipy import stats

from heatcheck.analysis.correlation import aligned, bootstrap_corr, point_biserial, spearman


def test_spearman_matches_scipy_with_ties():
    a = [1, 2, 2, 3, 4, 4, 4, 7]
    b = [2, 1, 3, 3, 5, 4, 6, 6]
    c = spearman(a, b)
    assert np.isclose(c.value, stats.spearmanr(a, b).statistic) and c.n == 8 and c.method == "spearman"
    # by hand without ties: perfectly reversed ranks give -1
    assert np.isclose(spearman([1, 2, 3, 4], [40, 30, 20, 10]).value, -1.0)


def test_constant_columns_give_nan_with_a_reason():
    c = spearman([1, 1, 1, 1], [1, 2, 3, 4])
    assert np.isnan(c.value) and "first column is constant" in c.reason
    c = point_biserial([0, 1, 0, 1], [3, 3, 3, 3])
    assert np.isnan(c.value) and "second column is constant" in c.reason
    assert "only 2" in spearman([1, 2], [2, 1]).reason


def test_point_biserial_matches_scipy_and_pearson():
    hit = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    x = np.array([0.1, 0.9, 0.7, 0.3, 0.8, 0.4, 0.5, 0.95])
    assert np.isclose(point_biserial(hit, x).value, stats.pearsonr(hit, x).statistic)


def test_sign_alignment_on_metrics_built_to_agree_and_disagree():
    rng = np.random.default_rng(0)
    quality = rng.normal(size=200)
    insertion = quality + 0.1 * rng.normal(size=200)        # higher is better
    deletion = -quality + 0.1 * rng.normal(size=200)        # lower is better
    # raw correlation is strongly negative; aligned it is strongly positive (they agree)
    assert spearman(insertion, deletion).value < -0.9
    assert aligned(insertion, deletion, higher_a=True, higher_b=False).value > 0.9
    # a metric built to disagree stays negative after alignment
    bad = quality + 0.1 * rng.normal(size=200)              # claims lower is better, but rises with quality
    assert aligned(insertion, bad, higher_a=True, higher_b=False).value < -0.9
    # binary (pointing game) vs continuous: point-biserial, oriented
    hit = (quality > 0).astype(float)
    c = aligned(hit, deletion, higher_a=True, higher_b=False, binary_a=True)
    assert c.method == "point-biserial" and c.value > 0.6


def test_bootstrap_ci_covers_the_estimate_and_narrows_with_n():
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    y = x + rng.normal(size=400)
    lo, hi = bootstrap_corr(x[:40], y[:40], n_boot=300)
    lo2, hi2 = bootstrap_corr(x, y, n_boot=300)
    assert lo < spearman(x[:40], y[:40]).value < hi and lo2 < spearman(x, y).value < hi2
    assert (hi2 - lo2) < (hi - lo)
    assert np.isnan(bootstrap_corr([1, 1, 1, 1], [1, 2, 3, 4])[0])
