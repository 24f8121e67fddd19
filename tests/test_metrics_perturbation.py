"""First-paper metrics against hand computations on a model whose output is a known function
of chosen pixels."""

import numpy as np
import pytest
import torch
from torch import nn

from heatcheck.metrics import METRICS, make_metric
from heatcheck.metrics.ordering import descending_order, pixel_schedule, region_schedule
from heatcheck.metrics.perturbation import auc, binarize_top


class PatchModel(nn.Module):
    """p(class 0) = 0.1 + 0.8 * mean of x over the top-left 2x2 pixels (channel 0)."""

    def forward(self, x):
        v = (0.1 + 0.8 * x[:, 0, :2, :2].mean((1, 2))).clamp(1e-6, 1 - 1e-6)
        return torch.stack([v.log(), (1 - v).log()], 1)


def row_major_map(b=1):
    return torch.arange(16, 0, -1, dtype=torch.float32).view(1, 4, 4).repeat(b, 1, 1)


def run(name, **params):
    m = make_metric(name, {"steps": 4, "uniform_seeds": 2, **params})
    x = torch.ones(1, 1, 4, 4)
    return m, m(PatchModel(), x, row_major_map(), torch.tensor([0]), index=torch.tensor([0]))


def test_auc_is_the_trapezoid():
    assert auc(np.array([0.0, 1.0])) == 0.5
    assert np.isclose(auc(np.array([0.9, 0.5, 0.1, 0.1, 0.1])), 0.25 * (0.7 + 0.3 + 0.1 + 0.1))


def test_auc_integrates_each_curve_over_its_own_points():
    nan = np.nan
    curves = np.array([[0.0, 1 / 9, 4 / 9, 1.0, nan],           # 4 points: spacing 1/3
                       [0.0, 1 / 9, 25 / 81, 49 / 81, 1.0]])     # 5 points: spacing 1/4
    assert np.allclose(auc(curves), [19 / 54, 247 / 648])
    assert np.isnan(auc(np.array([0.5, nan, 0.5, nan]))) and np.isnan(auc(np.array([0.5, nan])))


class SquaredFractionModel(nn.Module):
    """p(class 0) = f^2, f the mean of the input (1 where inserted, 0 where the mean baseline)."""

    def forward(self, x):
        p = x.mean((1, 2, 3)).pow(2).clamp(1e-12, 1.0)
        return torch.stack([p.log(), (1 - p).clamp(min=1e-12).log()], 1)


def test_mixed_granularities_each_area_over_its_own_points():
    """3x3 image, 4 steps: pixel steps of ceil(9/4) = 3 pixels give 3 steps (4 points), region
    mode (1x1 regions) records 4 steps (5 points) at 3, 5, 7, 9 pixels; p = fraction^2."""
    m = make_metric("insertion", {"steps": 4, "baselines": ["mean"], "granularities": ["pixel", "region"],
                                  "region": 1})
    maps = torch.arange(9, 0, -1, dtype=torch.float32).view(1, 3, 3)
    r = m(SquaredFractionModel(), torch.ones(1, 1, 3, 3), maps, torch.tensor([0]), index=torch.tensor([0]))
    pixel = [0, (3 / 9) ** 2, (6 / 9) ** 2, 1]
    region = [0, (3 / 9) ** 2, (5 / 9) ** 2, (7 / 9) ** 2, 1]
    assert np.allclose(r.curves[0, 0, :4], pixel, atol=1e-5) and np.isnan(r.curves[0, 0, 4])
    assert np.allclose(r.curves[0, 1], region, atol=1e-5)
    # by hand: (1/9 + 5/9 + 13/9) / (2 * 3) and (1/9 + 34/81 + 74/81 + 130/81) / (2 * 4); the
    # zero-padded pixel curve gave (19/9 + 1) / 8 = 0.389
    assert np.allclose(r.scores[0], [19 / 54, 247 / 648], atol=1e-5)
    assert m.passes_per_image(3) == 4 + 5


def test_schema_default_steps_on_32px_images():
    """The issue's case: 100 steps on 32-px images are 94 pixel steps of 11 pixels (95 points)
    against 100 region points; the pixel area is over its 95 points, not zero-padded to 101."""
    from heatcheck.models import build_model

    torch.manual_seed(0)
    model = build_model("lenet", 6, 32).eval()
    x = torch.randn(2, 3, 32, 32)
    maps = torch.from_numpy(np.random.default_rng(0).random((2, 32, 32)).astype(np.float32))
    m = make_metric("deletion", {"baselines": ["mean"], "granularities": ["pixel", "region"]})
    r = m(model, x, maps, torch.tensor([0, 1]), index=torch.arange(2))
    pixel, region = r.curves[:, 0], r.curves[:, 1]
    assert np.isfinite(pixel[:, :95]).all() and np.isnan(pixel[:, 95:]).all() and np.isfinite(region).all()
    assert np.allclose(r.scores[:, 0], np.trapezoid(pixel[:, :95], dx=1 / 94, axis=1), atol=1e-6)
    assert np.allclose(r.scores[:, 1], np.trapezoid(region, dx=1 / 100, axis=1), atol=1e-6)
    zero_padded = np.trapezoid(np.nan_to_num(pixel), dx=1 / 100, axis=1)
    assert (np.abs(r.scores[:, 0] - zero_padded) > 1e-3).all()


def test_registry():
    assert {"average_drop", "insertion", "deletion", "pointing_game"} <= set(METRICS.names())
    assert METRICS.get("deletion").higher_is_better is False and METRICS.get("insertion").higher_is_better
    assert METRICS.get("average_drop").higher_is_better is False and METRICS.get("pointing_game").binary


@pytest.mark.parametrize("name, gran, curve", [
    ("deletion", "pixel", [0.9, 0.5, 0.1, 0.1, 0.1]),     # row 0 deleted: half of the patch
    ("insertion", "pixel", [0.1, 0.5, 0.9, 0.9, 0.9]),
    ("deletion", "region", [0.9, 0.1, 0.1, 0.1, 0.1]),    # the first 3x3 region (clipped) is the patch
    ("insertion", "region", [0.1, 0.9, 0.9, 0.9, 0.9]),
])
def test_mean_baseline_curves_and_areas(name, gran, curve):
    m, r = run(name, baselines=["mean"], granularities=[gran], region=3)
    assert [m.config_key(c) for c in m.configurations()] == [f"mean+{gran}"]
    assert np.allclose(r.curves[0, 0], curve, atol=1e-5)
    expected = sum((a + b) / 2 for a, b in zip(curve[1:], curve[:-1])) / 4
    assert np.isclose(r.scores[0, 0], expected, atol=1e-5)


def test_blur_of_a_constant_image_changes_nothing():
    _, r = run("deletion", baselines=["blur"], granularities=["pixel"])
    assert np.allclose(r.curves[0, 0], 0.9, atol=1e-5) and np.isclose(r.scores[0, 0], 0.9, atol=1e-5)


def test_uniform_baseline_seeds_and_curve():
    m, r = run("deletion", baselines=["uniform"], granularities=["pixel"])
    keys = [m.config_key(c) for c in m.configurations()]
    assert keys == ["uniform+pixel+s0", "uniform+pixel+s1"]
    for c, cfg in enumerate(m.configurations()):
        u = m._baseline(cfg, torch.ones(1, 1, 4, 4), torch.tensor([0]))[0, 0]
        assert (u >= 0).all() and (u <= 1).all()
        half = 0.1 + 0.8 * (u[0, 0] + u[0, 1] + 2) / 4   # row 0 replaced by noise
        full = 0.1 + 0.8 * u[:2, :2].mean()
        assert np.allclose(r.curves[0, c], [0.9, half, full, full, full], atol=1e-5)
    assert not np.allclose(r.curves[0, 0], r.curves[0, 1])


def test_all_six_paper_configurations_by_default():
    m = make_metric("insertion", {})
    keys = [m.config_key(c) for c in m.configurations()]
    assert len(keys) == 14 and {"mean+pixel", "blur+region", "uniform+region+s4"} <= set(keys)
    assert m.n_points(224, "pixel") == m.n_points(224, "region") == 101
    assert m.n_points(32, "pixel") == 95 and m.n_points(32, "region") == 101  # ceil(1024/11) = 94 steps


def test_pixel_schedule_counts_and_ties():
    t, k = pixel_schedule(np.zeros((1, 10, 10)), steps=100)
    assert k == 100 and (np.bincount(t.ravel()) == [0] + [1] * 100).all()  # ties in index order
    t, k = pixel_schedule(np.random.default_rng(0).random((2, 8, 8)), steps=10)
    assert k == 10 and t.max() == 10 and (np.bincount(t[0].ravel())[1:] == [7] * 9 + [1]).all()


def test_region_schedule_reaches_every_point():
    t, k = region_schedule(np.random.default_rng(1).random((1, 16, 16)), region=3, steps=20)
    frac = [(t[0] <= p).mean() for p in range(1, 21)]
    assert all(f >= p / 20 - 1e-9 for f, p in zip(frac, range(1, 21))) and frac[-1] == 1.0


def greedy_region_schedule(saliency, region, steps):
    """The region walk pixel by pixel, as its definition reads (the reference of the batched
    :func:`region_schedule`)."""
    b, h, w = saliency.shape
    n, r = h * w, region // 2
    out = np.empty((b, h, w), dtype=np.int32)
    thresholds = np.ceil(np.arange(1, steps + 1) * n / steps).astype(np.int64)
    for i in range(b):
        done = np.zeros((h, w), dtype=bool)
        count = 0
        for p in np.argsort(-saliency[i].reshape(-1), kind="stable"):
            y, x = divmod(int(p), w)
            if done[y, x]:
                continue
            y0, y1, x0, x1 = max(0, y - r), min(h, y + r + 1), max(0, x - r), min(w, x + r + 1)
            new = ~done[y0:y1, x0:x1]
            out[i, y0:y1, x0:x1][new] = np.searchsorted(thresholds, count, side="right") + 1
            count += int(new.sum())
            done[y0:y1, x0:x1] = True
    return out


@pytest.mark.parametrize("h, w, region, steps, kind", [
    (32, 32, 3, 100, "noise"), (32, 32, 3, 25, "ties"), (17, 23, 5, 33, "noise"), (16, 16, 1, 10, "noise"),
    (40, 40, 9, 100, "smooth"), (40, 40, 9, 100, "ramp"), (12, 12, 15, 7, "ties"), (24, 24, 3, 100, "zeros"),
])
def test_region_schedule_equals_the_greedy_walk(h, w, region, steps, kind):
    rng = np.random.default_rng(h * region + steps)
    maps = {"noise": lambda: rng.random((6, h, w)),
            "ties": lambda: np.round(rng.random((6, h, w)) * 3),       # many equal values
            "smooth": lambda: torch.nn.functional.interpolate(torch.rand(6, 1, 4, 4), size=(h, w), mode="bilinear",
                                                              align_corners=False)[:, 0].numpy(),
            "ramp": lambda: np.broadcast_to(-np.arange(h * w, dtype=float).reshape(h, w), (6, h, w)),
            "zeros": lambda: np.zeros((6, h, w))}[kind]()
    for dtype in (np.float32, np.float64):
        m = np.ascontiguousarray(maps, dtype=dtype)
        t, k = region_schedule(m, region, steps)
        assert k == steps and t.dtype == np.int32
        assert np.array_equal(t, greedy_region_schedule(m, region, steps))


def test_descending_order_is_the_stable_argsort():
    rng = np.random.default_rng(4)
    v = np.round(rng.normal(size=(5, 300)) * 4).astype(np.float32) / 4  # ties, negatives
    v[0, :10] = -0.0
    v[0, 10:20] = 0.0
    v[1] = np.float32(1e-38) * rng.random(300).astype(np.float32)  # tiny (subnormal) values
    for x in (v, v.astype(np.float64), np.full((2, 7), 3.0, dtype=np.float32)):
        assert np.array_equal(descending_order(x), np.argsort(-x, axis=1, kind="stable"))


def test_average_drop_definitions():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 3)).eval()
    x = torch.randn(4, 3, 4, 4)
    t = torch.tensor([0, 1, 2, 0])
    m = make_metric("average_drop", {"percentiles": [50]})
    with torch.no_grad():
        p = model(x).softmax(1)[torch.arange(4), t]
        p0 = model(torch.zeros_like(x)).softmax(1)[torch.arange(4), t]
    ones = m(model, x, torch.ones(4, 4, 4), t)
    assert np.allclose(ones.scores[:, 0], 0, atol=1e-6)          # map of ones: S o I = I
    zeros = m(model, x, torch.zeros(4, 4, 4), t)
    expect = ((p - p0).clamp(min=0) / p).numpy()                   # map of zeros: S o I = 0
    assert np.allclose(zeros.scores[:, 0], expect, atol=1e-6)
    assert np.array_equal(zeros.extra["increase"][:, 0], (p0 > p).numpy().astype(np.int8))
    assert [c["binarize"] for c in m.configurations()] == ["real", "p50"]


def test_binarization_keeps_the_top_fraction_even_with_ties():
    maps = np.zeros((2, 6, 6))
    maps[1] = np.random.default_rng(0).random((6, 6))
    b = binarize_top(maps, 50)
    assert (b.reshape(2, -1).sum(1) == 18).all()
    assert b[1][maps[1] >= np.median(maps[1])].all()
    assert binarize_top(maps, 90).reshape(2, -1).sum(1).tolist() == [4, 4]


def test_pointing_game_hits_and_tolerance():
    s = torch.zeros(3, 10, 10)
    s[0, 5, 5] = 1   # inside the box
    s[1, 0, 9] = 1   # far outside
    s[2, 5, 8] = 1   # one pixel right of the box
    boxes = np.array([[[3, 3, 8, 8], [-1, -1, -1, -1]]] * 3)
    pg = make_metric("pointing_game", {"tolerance": 0})
    assert pg(None, None, s, None, boxes=boxes).scores[:, 0].tolist() == [1, 0, 0]
    pg1 = make_metric("pointing_game", {"tolerance": 1})
    assert pg1(None, None, s, None, boxes=boxes).scores[:, 0].tolist() == [1, 0, 1]
