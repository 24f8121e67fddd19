"""Map similarities of the randomization test: Spearman of absolute values and SSIM, against
their definitions, scipy and scikit-image."""

import numpy as np
import pytest
from scipy import ndimage, stats
from skimage.metrics import structural_similarity

from heatcheck.analysis.similarity import spearman_abs, ssim, unit_range


@pytest.fixture
def maps():
    rng = np.random.default_rng(0)
    smooth = ndimage.gaussian_filter(rng.normal(size=(4, 32, 32)), (0, 2, 2))
    return smooth, rng


def test_spearman_abs_by_hand_and_against_scipy(maps):
    a = np.array([[[1.0, -2.0], [3.0, 4.0]]])
    b = np.array([[[4.0, 3.0], [-2.0, 1.0]]])
    assert np.isclose(spearman_abs(a, b)[0], -1.0)           # |a| = 1 2 3 4, |b| = 4 3 2 1
    assert np.isclose(spearman_abs(a, -a)[0], 1.0)           # the sign does not matter
    m, rng = maps
    other = m + rng.normal(size=m.shape) * 0.1
    ref = [stats.spearmanr(np.abs(x).ravel(), np.abs(y).ravel()).statistic for x, y in zip(m, other)]
    assert np.allclose(spearman_abs(m, other), ref)
    assert np.isnan(spearman_abs(np.ones((1, 4, 4)), m[:1, :4, :4])[0])


def test_identity_is_one_and_independent_maps_are_near_zero(maps):
    m, rng = maps
    assert np.allclose(spearman_abs(m, m), 1) and np.allclose(ssim(m, m), 1)
    noise = rng.normal(size=(50, 32, 32))
    indep = rng.normal(size=(50, 32, 32))
    assert np.abs(spearman_abs(noise, indep)).max() < 0.15   # sd of rho on 1,024 pixels: ~0.03
    assert np.abs(spearman_abs(noise, indep).mean()) < 0.02
    assert np.abs(ssim(noise, indep)).max() < 0.15
    # an independent smooth map: low, far below the similarity of a slightly perturbed copy
    smooth_indep = ndimage.gaussian_filter(rng.normal(size=m.shape), (0, 2, 2))
    assert ssim(m, smooth_indep).max() < 0.5 < ssim(m, m + 0.02 * rng.normal(size=m.shape)).min()


def test_ssim_equals_scikit_image(maps):
    m, rng = maps
    other = m + rng.normal(size=m.shape) * 0.3
    ref = [structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
           for x, y in zip(unit_range(m), unit_range(other))]
    assert np.allclose(ssim(m, other), ref, atol=1e-12)
    # signed maps without the absolute value: a positive affine change leaves them equal
    assert np.allclose(ssim(m, 3 * m + 2, absolute=False), 1)
    with pytest.raises(ValueError, match="at least 11"):
        ssim(m[:, :8, :8], m[:, :8, :8])


def test_unit_range():
    u = unit_range(np.array([[[-4.0, 2.0], [1.0, 0.0]]]))
    assert np.allclose(u, [[[1.0, 0.5], [0.25, 0.0]]])
    assert np.all(unit_range(np.full((1, 2, 2), 3.0)) == 0)
