"""Inter-rater agreement against Krippendorff's published worked example and hand cases."""

import numpy as np
import pytest

from heatcheck.analysis.agreement import kendalls_w, krippendorff_alpha

N = np.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers,
# 12 units, values 1-5 with missing data; published alphas below.
EXAMPLE = [[1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
           [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
           [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
           [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]]


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815),
                                               ("interval", 0.849), ("ratio", 0.797)])
def test_krippendorff_published_example(level, published):
    assert round(krippendorff_alpha(EXAMPLE, level), 3) == published


def test_krippendorff_extremes():
    same = [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]
    assert krippendorff_alpha(same, "ordinal") == 1.0
    assert np.isnan(krippendorff_alpha([[1, 1], [1, 1]]))  # no variation: undefined
    rng = np.random.default_rng(0)
    noise = rng.integers(1, 6, size=(5, 400)).astype(float)
    assert abs(krippendorff_alpha(noise, "interval")) < 0.05  # chance agreement


def test_kendalls_w_by_hand():
    assert kendalls_w([[1, 2, 3], [1, 2, 3], [1, 2, 3]]) == 1.0
    # two raters in exactly opposite order: rank sums all equal, W = 0
    assert kendalls_w([[1, 2, 3, 4], [4, 3, 2, 1]]) == 0.0
    # 2 raters, 3 items: rank sums 2, 5, 5 -> S = 6, W = 12*6 / (4 * 24) = 0.75
    assert np.isclose(kendalls_w([[1, 2, 3], [1, 3, 2]]), 0.75)


def test_krippendorff_unit_weights_equal_duplicated_units():
    rng = np.random.default_rng(0)
    data = rng.integers(1, 5, size=(3, 12)).astype(float)
    data[0, 3] = np.nan
    w = rng.integers(0, 3, size=12)
    dup = np.repeat(data, w, axis=1)
    for level in ("nominal", "ordinal", "interval"):
        assert krippendorff_alpha(data, level, weights=w[None])[0] == pytest.approx(krippendorff_alpha(dup, level))
