"""Second-paper metrics (eqs. 3-6) against hand computations on tiny maps and a tiny model."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from heatcheck import HeatcheckError
from heatcheck.metrics.base import METRICS
from heatcheck.metrics.objectiveness import (
    HALVES, _subset_size, apply_half_masks, feature_alpha, half_masks, has_negative, last_conv_features,
    mask_lowest, mutual_verification, non_robustness, shapley_bias_scores)


def test_registry():
    for name in ("shapley_bias", "unexplainable_features", "masking_robustness", "mutual_verification"):
        assert METRICS.get(name).higher_is_better is False
    assert METRICS.get("mutual_verification").per_explainer is False
    assert METRICS.get("shapley_bias").per_explainer and METRICS.get("shapley_bias").axes == ("side", "k")
    assert METRICS.get("unexplainable_features").axes == ("tau",)
    assert METRICS.get("masking_robustness").axes == ("half",)


# ---------------------------------------------------------------------------- eq. (3)

# image 0: a = [3, 0, 0, -4] (||a|| = 5, a tie at players 1 and 2), shap = [1, 1, -1, 1] (norm 2)
#   s/||s|| - a/||a|| = [0.5-0.6, 0.5, -0.5, 0.5+0.8] = [-0.1, 0.5, -0.5, 1.3]
#   top order (desc, ties by index): 0, 1, 2, 3; bottom order: 3, 1, 2, 0
#   |S| for P = 4 and k = 10, 30, 50, 70, 90: 1, 1, 2, 3, 4
# image 1: a = 0 (zero norm: contributes 0), shap = [3, 0, 4, 0] -> [0.6, 0, 0.8, 0];
#   all players tie: both orders are 0, 1, 2, 3
SHAP = np.array([[1.0, 1.0, -1.0, 1.0], [3.0, 0.0, 4.0, 0.0]])
ATTR = np.array([[3.0, 0.0, 0.0, -4.0], [0.0, 0.0, 0.0, 0.0]])
EXPECTED = np.array([
    [0.1, 0.1, 0.4 / 2, 0.1 / 3, 1.2 / 4,           # top
     1.3, 1.3, 1.8 / 2, 1.3 / 3, 1.2 / 4],          # bottom: {3}, {3,1}, {3,1,2}, all
    [0.6, 0.6, 0.6 / 2, 1.4 / 3, 1.4 / 4,
     0.6, 0.6, 0.6 / 2, 1.4 / 3, 1.4 / 4],
])


def test_subset_sizes_round_half_up():
    assert [_subset_size(k, 4) for k in (10, 30, 50, 70, 90)] == [1, 1, 2, 3, 4]
    assert [_subset_size(k, 5) for k in (10, 30, 50, 70, 90)] == [1, 2, 3, 4, 5]  # 0.5->1, 1.5->2, 2.5->3
    assert _subset_size(1, 10) == 1 and _subset_size(100, 10) == 10


def test_bias_scores_by_hand():
    got = shapley_bias_scores(SHAP, ATTR)
    assert got.shape == (2, 10) and np.isfinite(got).all()
    assert np.allclose(got, EXPECTED, atol=1e-12)
    # torch input, same result; the scores do not depend on the scale of either map
    assert np.allclose(shapley_bias_scores(torch.tensor(SHAP) * 3, torch.tensor(ATTR) * 0.01), EXPECTED)


def test_bias_ties_by_player_index():
    # had players 1 and 2 swapped places in the tie, top k=50 would be |-0.1-0.5|/2 = 0.3
    got = shapley_bias_scores(SHAP[:1], ATTR[:1], ks=[50])
    assert np.allclose(got, [[0.2, 0.9]])
    # swapping the players' values (and so their indices in the tie) changes the result
    got = shapley_bias_scores(SHAP[:1, [0, 2, 1, 3]], ATTR[:1, [0, 2, 1, 3]], ks=[50])
    assert np.allclose(got, [[0.3, 0.4]])


def test_bias_zero_shapley_is_finite():
    got = shapley_bias_scores(np.zeros((1, 4)), [[3.0, 0.0, 0.0, -4.0]], ks=[10, 90])
    # shap/||shap|| := 0, so the score is |sum_S a_i| / ||a|| / |S|
    assert np.allclose(got, [[0.6, 0.2 / 4, 0.8, 0.2 / 4]])


def test_has_negative():
    assert has_negative(ATTR).tolist() == [True, False]
    assert has_negative(torch.tensor([[[0.0, 1.0]], [[-1e-9, 1.0]]])).tolist() == [False, True]


def test_shapley_bias_metric_on_cells():
    # 4x4 map whose 2x2 cells sum to [3, 0, 0, -4] (row-major cells): image 0 above
    sal = torch.tensor([[[1.0, 1.0, 1.0, -1.0],
                         [1.0, 0.0, 0.0, 0.0],
                         [0.0, 0.0, -1.0, -1.0],
                         [0.0, 0.0, -1.0, -1.0]]])
    m = METRICS.get("shapley_bias")(ks=[10, 30, 50, 70, 90], samples=100, cell=2, antithetic=True)
    assert [m.config_key(c) for c in m.configurations()][:2] == ["top+10", "top+30"]
    assert [c["side"] for c in m.configurations()] == ["top"] * 5 + ["bottom"] * 5
    x = torch.zeros(1, 3, 4, 4)
    r = m(None, x, sal, torch.tensor([0]), shapley=torch.tensor(SHAP[:1]))
    assert np.allclose(r.scores, EXPECTED[:1])
    assert r.extra["has_negative"].shape == (1, 10) and (r.extra["has_negative"] == 1).all()
    # the keyword overrides the parameter; a grid mismatch is an error, as is a missing estimate
    with pytest.raises(HeatcheckError, match="expected"):
        m(None, x, sal, torch.tensor([0]), shapley=SHAP[:1], cell=1)
    with pytest.raises(HeatcheckError, match="shapley"):
        m(None, x, sal, torch.tensor([0]))
    # pixel players (cell 1): a 2x2 map is the 4 players themselves; a (B, Hc, Wc) estimate works
    r = METRICS.get("shapley_bias")()(None, torch.zeros(1, 1, 2, 2), torch.tensor(ATTR[:1]).view(1, 2, 2),
                                      torch.tensor([0]), shapley=SHAP[:1].reshape(1, 2, 2))
    assert np.allclose(r.scores, EXPECTED[:1])


# ---------------------------------------------------------------------------- eq. (4)

# |a| ascending: 0.1 (pixel 1), 0.2 (pixel 3), 0.3 (pixel 2), 0.4 (pixel 0); sum |a| = 1
MAP = torch.tensor([[[0.4, -0.1], [0.3, 0.2]]])


@pytest.mark.parametrize("tau, masked", [
    (0.0, []), (0.05, []), (0.1, [1]), (0.2, [1]),
    (0.3, [1, 3]),          # 0.1 + 0.2 == 0.3 exactly meets the budget (despite float rounding)
    (0.59, [1, 3]), (0.6, [1, 2, 3]), (1.0, [0, 1, 2, 3]),
])
def test_mask_lowest_by_hand(tau, masked):
    got = mask_lowest(MAP, tau)
    assert got.dtype == torch.bool and got.shape == (1, 2, 2)
    assert sorted(torch.nonzero(got.view(-1)).view(-1).tolist()) == masked
    # float64 input: 0.1 + 0.2 = 0.30000000000000004 > 0.3 * 1.0 in float, still masked
    got = mask_lowest(MAP.double().numpy(), tau)
    assert isinstance(got, np.ndarray) and sorted(np.flatnonzero(got).tolist()) == masked


def test_mask_lowest_ties_zeros_and_types():
    ones = np.ones((1, 2, 2))
    got = mask_lowest(ones, 0.5)
    assert isinstance(got, np.ndarray) and got.reshape(-1).tolist() == [True, True, False, False]  # ties by index
    # zero pixels are masked for any tau > 0, never at tau = 0
    z = np.array([[[0.0, 2.0], [0.0, 2.0]]])
    assert mask_lowest(z, 0.0).sum() == 0 and mask_lowest(z, 0.1).reshape(-1).tolist() == [True, False, True, False]
    # an all-zero map masks everything for tau > 0, nothing for tau = 0 (documented choice)
    assert mask_lowest(np.zeros((2, 3, 3)), 0.05).all() and not mask_lowest(np.zeros((2, 3, 3)), 0.0).any()
    # per image
    two = torch.cat([MAP, MAP.flip(-1)])
    assert mask_lowest(two, 0.1).view(2, -1).tolist() == [[False, True, False, False], [True, False, False, False]]


class TinyNet(nn.Module):
    """features = ReLU(2 x + 1) per pixel (a 1x1 conv), then a linear head."""

    def __init__(self, side=2):
        super().__init__()
        conv = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            conv.weight.fill_(2.0)
            conv.bias.fill_(1.0)
        self.features = nn.Sequential(conv, nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(side * side, 2))

    def forward(self, x):
        return self.head(self.features(x))


def test_last_conv_features_by_hand():
    x = torch.tensor([[[[1.0, 2.0], [3.0, -4.0]]]])
    f = last_conv_features(TinyNet().eval(), x.repeat(3, 1, 1, 1), batch_size=2)
    assert f.shape == (3, 4) and torch.allclose(f, torch.tensor([3.0, 5.0, 7.0, 0.0]).expand(3, 4))
    # the hook is removed afterwards
    model = TinyNet()
    last_conv_features(model, x, 1)
    assert not model.features[1]._forward_hooks


def test_feature_alpha_on_three_images():
    # f = relu(2 x + 1): constant images 0, 1, 2 give f = 1, 3, 5 on all 4 pixels; mean 3;
    # distances to the mean 4, 0, 4 -> E = 8/3 -> alpha = 3/8
    x = torch.tensor([0.0, 1.0, 2.0]).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert math.isclose(feature_alpha(TinyNet().eval(), x, batch_size=2), 3 / 8, rel_tol=1e-12)
    assert math.isclose(feature_alpha(TinyNet().eval(), x.numpy(), batch_size=5), 3 / 8, rel_tol=1e-12)
    with pytest.raises(HeatcheckError, match="alpha"):
        feature_alpha(TinyNet().eval(), x[:1], batch_size=2)


def test_unexplainable_features_metric_by_hand():
    # image [[1, 2], [3, 4]]: f = [3, 5, 7, 9]
    # tau 0.1 masks pixel 1 -> f~ = [3, 1, 7, 9], distance 4
    # tau 0.3 masks pixels 1, 3 -> f~ = [3, 1, 7, 1], distance sqrt(16 + 64)
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    m = METRICS.get("unexplainable_features")(batch_size=1, taus=[0.1, 0.3])
    assert [m.config_key(c) for c in m.configurations()] == ["0.1", "0.3"]
    r = m(TinyNet().eval(), x, MAP, torch.tensor([0]), alpha=0.5)
    dist = np.array([[4.0, math.sqrt(80.0)]])
    assert np.allclose(r.extra["distance"], dist) and np.allclose(r.scores, 0.5 * dist)
    assert np.allclose(r.extra["masked_fraction"], [[0.25, 0.5]])
    # two images at once, default taus (0.05 masks nothing here: distance 0)
    m = METRICS.get("unexplainable_features")(batch_size=3)
    r = m(TinyNet().eval(), x.repeat(2, 1, 1, 1), MAP.repeat(2, 1, 1), torch.tensor([0, 0]), alpha=2.0)
    assert np.allclose(r.scores, [[0.0, 8.0], [0.0, 8.0]])
    with pytest.raises(HeatcheckError, match="alpha"):
        m(TinyNet().eval(), x, MAP, torch.tensor([0]))


# ---------------------------------------------------------------------------- eq. (5)

def test_half_masks_even_and_odd():
    m = half_masks(4, 4)
    assert m.shape == (4, 4, 4) and m.dtype == torch.bool
    left, right, top, bottom = m
    assert left[:, :2].all() and not left[:, 2:].any()
    assert right[:, 2:].all() and not right[:, :2].any()
    assert top[:2].all() and not top[2:].any()
    assert bottom[2:].all() and not bottom[:2].any()
    # odd side: the middle column / row is in both halves
    left, right, top, bottom = half_masks(3, 5)
    assert left[0].tolist() == [True, True, True, False, False]
    assert right[0].tolist() == [False, False, True, True, True]
    assert top[:, 0].tolist() == [True, True, False] and bottom[:, 0].tolist() == [False, True, True]


def test_apply_half_masks():
    x = torch.stack([torch.ones(2, 4, 4), -torch.ones(2, 4, 4)])
    out = apply_half_masks(x)
    assert out.shape == (8, 2, 4, 4)
    masks = half_masks(4, 4)
    for b, sign in enumerate((1.0, -1.0)):
        for h in range(4):
            expected = torch.where(masks[h], 0.0, sign).expand(2, 4, 4)
            assert torch.equal(out[4 * b + h], expected)


def test_non_robustness_by_hand():
    a = torch.ones(2, 4, 4)
    a[1] = 0.0                                           # zero norm: scores 0, no NaN
    ah = torch.ones(2, 4, 4, 4)
    ah[:, 0, :, :2] = 100.0                              # left masked: its half is ignored
    ah[:, 0, 0, 2] = ah[:, 0, 3, 3] = 3.0                # two unmasked pixels differ by 2
    ah[:, 1, :, 2:] = 50.0                               # right masked, left half equal
    ah[:, 2, 2:] = 0.0                                   # top masked: 8 pixels differ by 1
    ah[:, 3, :2] = 3.0                                   # bottom masked: 8 pixels differ by 2
    got = non_robustness(a, ah, half_masks(4, 4))        # ||a|| = 4
    assert got.shape == (2, 4)
    assert np.allclose(got[0], [math.sqrt(8) / 4, 0.0, math.sqrt(8) / 4, math.sqrt(32) / 4])
    assert np.array_equal(got[1], np.zeros(4))
    # the metric: the same numbers from the keyword
    m = METRICS.get("masking_robustness")()
    assert [m.config_key(c) for c in m.configurations()] == list(HALVES) == ["left", "right", "top", "bottom"]
    r = m(None, torch.zeros(2, 1, 4, 4), a, torch.tensor([0, 0]), masked_saliency=ah)
    assert np.allclose(r.scores, got)
    with pytest.raises(HeatcheckError, match="masked_saliency"):
        m(None, torch.zeros(2, 1, 4, 4), a, torch.tensor([0, 0]))


# ---------------------------------------------------------------------------- eq. (6)

def test_mutual_verification_by_hand():
    # image 0: A = [1, 0], B = [0, 2] -> [0, 1], C = [-3, 0] -> [-1, 0]
    #   |A-B| = sqrt 2, |A-C| = 2, |B-C| = sqrt 2
    # image 1: A = [3, 4] -> [.6, .8], B = 0 (zero norm -> zero vector), C = [6, 8] -> [.6, .8]
    #   |A-B| = 1, |A-C| = 0, |B-C| = 1
    maps = {"A": np.array([[[1.0, 0.0]], [[3.0, 4.0]]]),
            "B": np.array([[[0.0, 2.0]], [[0.0, 0.0]]]),
            "C": torch.tensor([[[-3.0, 0.0]], [[6.0, 8.0]]])}
    r2 = math.sqrt(2)
    per = np.array([[[0, r2, 2], [r2, 0, r2], [2, r2, 0]],
                    [[0, 1, 0], [1, 0, 1], [0, 1, 0]]])
    names, mat, per_image = mutual_verification(maps, batch_size=1)
    assert names == ["A", "B", "C"]
    assert np.allclose(per_image, per) and np.allclose(mat, per.mean(0))
    assert np.array_equal(mat, mat.T) and np.array_equal(np.diag(mat), np.zeros(3))
    # scale invariance of each map (positive factors)
    scaled = {"A": maps["A"] * 7.0, "B": maps["B"] * 0.001, "C": maps["C"] * 1e6}
    assert np.allclose(mutual_verification(scaled)[1], mat)
    # the registered stub
    cls = METRICS.get("mutual_verification")
    assert np.allclose(cls.compute(maps)[1], mat) and np.allclose(cls()(maps)[1], mat)
    with pytest.raises(HeatcheckError):
        cls()(None, torch.zeros(1), maps["A"], torch.tensor([0]))
