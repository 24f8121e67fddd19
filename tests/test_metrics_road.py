"""ROAD (Rong et al. 2022) against its definition: the imputation against hand-built linear
systems solved by numpy, the removal orders on a model that reads one pixel."""

import numpy as np
import pytest
import torch
from torch import nn

from heatcheck import HeatcheckError
from heatcheck.costs import metric_passes
from heatcheck.metrics.road import ROAD_PERCENTAGES
from heatcheck.metrics import METRICS, make_metric
from heatcheck.metrics.road import noisy_linear_imputation, removal_masks

W1, W2 = 1 / 6, 1 / 12  # direct and diagonal neighbour weights of the paper


def dense_reference(img: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """The definition written out pixel by pixel: for each removed pixel i,
    ``sum_j w_ij u_i - sum_{j removed} w_ij u_j = sum_{j kept} w_ij x_j`` over the neighbours j
    inside the image; a dense system solved with numpy, one right-hand side per channel."""
    c, h, w = img.shape
    unknowns = [(y, x) for y in range(h) for x in range(w) if removed[y, x]]
    pos = {p: k for k, p in enumerate(unknowns)}
    a = np.zeros((len(unknowns), len(unknowns)))
    b = np.zeros((len(unknowns), c))
    for k, (y, x) in enumerate(unknowns):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if (dy, dx) == (0, 0) or not (0 <= y + dy < h and 0 <= x + dx < w):
                    continue
                wt = W1 if dy == 0 or dx == 0 else W2
                a[k, k] += wt
                if removed[y + dy, x + dx]:
                    a[k, pos[(y + dy, x + dx)]] -= wt
                else:
                    b[k] += wt * img[:, y + dy, x + dx]
    out = img.copy()
    for (y, x), v in zip(unknowns, np.linalg.solve(a, b)):
        out[:, y, x] = v
    return out


def test_two_adjacent_pixels_solve_the_hand_built_system():
    x = np.arange(16, dtype=float).reshape(1, 1, 4, 4) ** 1.5  # not linear, so the mean matters
    removed = np.zeros((1, 4, 4), bool)
    removed[0, 1, 1] = removed[0, 1, 2] = True
    v = x[0, 0]
    # u = x[1,1], t = x[1,2]; each the weighted mean of its 8 neighbours, the other one included:
    # u = W1 (v01 + v10 + v21 + t) + W2 (v00 + v02 + v20 + v22)
    # t = W1 (v02 + v22 + v13 + u) + W2 (v01 + v03 + v21 + v23)
    a = np.array([[1.0, -W1], [-W1, 1.0]])
    rhs = np.array([W1 * (v[0, 1] + v[1, 0] + v[2, 1]) + W2 * (v[0, 0] + v[0, 2] + v[2, 0] + v[2, 2]),
                    W1 * (v[0, 2] + v[2, 2] + v[1, 3]) + W2 * (v[0, 1] + v[0, 3] + v[2, 1] + v[2, 3])])
    u, t = np.linalg.solve(a, rhs)
    out = noisy_linear_imputation(x, removed)
    assert np.isclose(out[0, 0, 1, 1], u, rtol=1e-12) and np.isclose(out[0, 0, 1, 2], t, rtol=1e-12)
    keep = ~removed[0]
    assert np.array_equal(out[0, 0][keep], v[keep])  # kept pixels untouched


def test_corner_pixel_renormalizes_over_the_neighbours_inside():
    x = np.random.default_rng(0).normal(size=(1, 2, 4, 4))
    removed = np.zeros((1, 4, 4), bool)
    removed[0, 0, 0] = True
    out = noisy_linear_imputation(x, removed)
    expected = (W1 * x[0, :, 0, 1] + W1 * x[0, :, 1, 0] + W2 * x[0, :, 1, 1]) / (2 * W1 + W2)
    assert np.allclose(out[0, :, 0, 0], expected, rtol=1e-12)


def test_batched_systems_equal_the_dense_reference_per_image():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3, 5, 6))
    removed = rng.random((5, 5, 6)) < np.array([0.1, 0.3, 0.5, 0.7, 0.95])[:, None, None]
    removed[:, 0, 0] = False  # at least one kept pixel per image
    for max_unknowns in (1, 10_000):  # one system per solve, or all in one block-diagonal solve
        out = noisy_linear_imputation(x, removed, max_unknowns=max_unknowns)
        for i in range(len(x)):
            assert np.allclose(out[i], dense_reference(x[i], removed[i]), atol=1e-10), i


def test_noise_only_on_removed_pixels_and_everything_removed_is_refused():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 1, 4, 4))
    removed = rng.random((2, 4, 4)) < 0.5
    removed[:, 0, 0] = False
    noise = rng.normal(size=x.shape)
    diff = noisy_linear_imputation(x, removed, noise) - noisy_linear_imputation(x, removed)
    assert np.allclose(diff[:, 0][removed], noise[:, 0][removed]) and np.all(diff[:, 0][~removed] == 0)
    with pytest.raises(ValueError, match=r"image\(s\) \[1\]"):
        noisy_linear_imputation(x, np.stack([removed[0], np.ones((4, 4), bool)]))


def test_removal_masks_count_and_order():
    maps = np.arange(20, dtype=float).reshape(1, 4, 5)  # pixel 19 most relevant
    tb = np.zeros((1, 20))
    morf = removal_masks(maps, [10, 30, 70], True, tb)[0]
    lerf = removal_masks(maps, [10, 30, 70], False, tb)[0]
    assert [int(m.sum()) for m in morf] == [2, 6, 14] == [int(m.sum()) for m in lerf]
    assert set(np.flatnonzero(morf[0])) == {18, 19} and set(np.flatnonzero(lerf[0])) == {0, 1}
    # LeRF at 30% removes what MoRF keeps at 70% (6 + 14 = 20 pixels)
    assert np.array_equal(lerf[1], ~morf[2])
    # ties broken by the random rank, not by reading order
    flat = np.zeros((1, 4, 5))
    tb = np.random.default_rng(0).random((1, 20))
    m = removal_masks(flat, [10], True, tb)[0, 0]
    assert set(np.flatnonzero(m)) == set(np.argsort(tb[0])[:2])


class OnePixel(nn.Module):
    """Reads pixel (2, 2) of channel 0: logits (4 x - 2, 0), so p(class 0) = sigmoid(4 x - 2)."""

    def forward(self, x):
        v = 4 * x[:, 0, 2, 2] - 2
        return torch.stack([v, torch.zeros_like(v)], 1)


def _evidence():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 2, 2] = 1.0
    return x


GONE, THERE = 1 / (1 + np.exp(2.0)), 1 / (1 + np.exp(-2.0))  # p(class 0) at x = 0 and x = 1


@pytest.mark.parametrize("name, good, bad", [
    ("road_morf", GONE, THERE),  # removing the evidence first: p falls
    ("road_lerf", THERE, GONE),  # least relevant first never reaches it (up to 90%)
])
def test_most_relevant_first_removes_the_pixel_the_model_reads(name, good, bad):
    m = make_metric(name, {"noise": 0.0})
    x = _evidence()
    right = torch.zeros(1, 4, 4)
    right[0, 2, 2] = 1.0   # the map points at the evidence
    wrong = -right         # the map calls the evidence least relevant
    r_good = m(OnePixel(), x, right, torch.tensor([0]))
    r_bad = m(OnePixel(), x, wrong, torch.tensor([0]))
    assert r_good.curves.shape == (1, 1, len(ROAD_PERCENTAGES))
    # the imputed evidence pixel is the mean of its neighbours, all 0: exactly sigmoid(-2)
    assert np.allclose(r_good.curves[0, 0], good, atol=1e-6) and np.isclose(r_good.scores[0, 0], good)
    assert np.allclose(r_bad.curves[0, 0], bad, atol=1e-6) and np.isclose(r_bad.scores[0, 0], bad)
    better = r_good.scores[0, 0] < r_bad.scores[0, 0] if name == "road_morf" else r_good.scores[0, 0] > r_bad.scores[0, 0]
    assert better
    # accuracy: the target (class 0) stays the prediction only while the evidence is there
    assert r_good.extra["accuracy"][0, 0] == (0.0 if name == "road_morf" else 1.0)


def test_registry_directions_passes_and_configuration():
    morf, lerf = METRICS.get("road_morf"), METRICS.get("road_lerf")
    assert morf.higher_is_better is False and lerf.higher_is_better is True
    assert morf.axes == lerf.axes == ("order",) and morf.has_curves
    assert [morf.config_key(c) for c in morf().configurations()] == ["morf"]
    assert [lerf.config_key(c) for c in lerf().configurations()] == ["lerf"]
    assert make_metric("road_morf", {"percentages": [20, 50]}).passes_per_image(32) == 2
    assert metric_passes("road_lerf", {}, 32) == len(ROAD_PERCENTAGES) == 9
    with pytest.raises(HeatcheckError, match="metrics.road_morf.percentages"):
        make_metric("road_morf", {"percentages": [50, 100]}).percentages()


def test_per_image_seeds_and_noise_in_image_units():
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(size=(3, 3, 16, 16)))
    s = torch.from_numpy(rng.normal(size=(3, 16, 16)))
    m = make_metric("road_morf", {"noise": 0.01, "percentages": [50]}, seed=7)
    both = m.perturbed(x, s, torch.tensor([4, 5, 6]), std=[0.5, 0.25, 1.0])
    alone = m.perturbed(x[2:], s[2:], torch.tensor([6]), std=[0.5, 0.25, 1.0])
    # the draws depend on the image, not the batch (the solve's rounding may: one LU per block)
    assert np.allclose(both[2], alone[0], rtol=0, atol=1e-12)
    clean = make_metric("road_morf", {"noise": 0.0, "percentages": [50]}, seed=7).perturbed(x, s, torch.tensor([4, 5, 6]))
    removed = np.abs(both - clean).sum(2) > 0  # (B, P, H, W)
    assert removed.sum() == 3 * 128  # half the 256 pixels of each image, and only those
    for ch, std in enumerate([0.5, 0.25, 1.0]):  # 0.01 on [0, 1] images is 0.01 / std normalized
        d = (both - clean)[:, :, ch][removed]
        assert abs(d.std() / (0.01 / std) - 1) < 0.15
    other = make_metric("road_morf", {"noise": 0.01, "percentages": [50]}, seed=8).perturbed(x, s, torch.tensor([4, 5, 6]))
    assert not np.allclose(other, both)


def test_real_model_batch_is_finite_and_orders_are_consistent():
    """A trained-looking setting end to end: an untrained ResNet-8 on random maps gives finite
    probabilities in [0, 1]; the scores are the mean of the curves."""
    from heatcheck.models import build_model

    torch.manual_seed(0)
    model = build_model("resnet8", 6, 32).eval()
    x, s = torch.randn(3, 3, 32, 32), torch.randn(3, 32, 32)
    for name in ("road_morf", "road_lerf"):
        r = make_metric(name, {})(model, x, s, torch.tensor([0, 1, 2]))
        assert r.scores.shape == (3, 1) and np.isfinite(r.curves).all()
        assert ((r.curves >= 0) & (r.curves <= 1)).all()
        assert np.allclose(r.scores[:, 0], r.curves[:, 0].mean(1), atol=1e-6)


def test_schema_defaults_are_the_metric_defaults():
    import yaml

    from heatcheck.config import check_config
    from heatcheck.metrics.road import ROAD_NOISE

    with open("config.yaml") as fh:
        cfg = yaml.safe_load(fh)
    cfg["metrics"] = {"road_morf": None, "road_lerf": {"percentages": [25, 75]}}
    check_config(cfg)
    assert cfg["metrics"]["road_morf"] == {"percentages": list(ROAD_PERCENTAGES), "noise": ROAD_NOISE, "relu": False}
    assert cfg["metrics"]["road_lerf"]["percentages"] == [25, 75]
    cfg["metrics"] = {"road_morf": {"percentages": [50, 100]}}
    with pytest.raises(HeatcheckError, match="metrics.road_morf.percentages"):
        check_config(cfg)


def test_scored_through_the_scoring_stage(tmp_path):
    """Real store and checkpoint through score_shard and the merges: the table has the ``order``
    axis and the curves array the percentages; with zero noise the scores equal a direct call."""
    import zarr

    from conftest import write_tiny_study
    from heatcheck.models import load_checkpoint, normalize
    from heatcheck.scoring import score_shard
    from heatcheck.store import DatasetStore
    from heatcheck.tables import merge_curves, merge_scores
    from test_scoring import finished_saliency, report

    d = write_tiny_study(tmp_path, n_train=12)
    finished_saliency(d, d / "sal.zarr", "edge", d / "r", d / "sal.json")
    params = {"percentages": [20, 60], "noise": 0.0, "relu": False}
    shards = [d / f"road{s}.npz" for s in range(3)]
    for s, out in enumerate(shards):
        score_shard(d / "images.zarr", d / "m.pt", report(d / "r", s), "road_lerf", params, out)
    table = merge_scores(shards, d / "images.zarr", "shapes", "lenet", "edge", d / "road.parquet")
    merge_curves(shards, d / "curves.zarr")
    assert set(table.order) == {"lerf"} and set(table.config) == {"lerf"} and table.higher_is_better.all()
    assert zarr.open_array(str(d / "curves.zarr")).shape == (10, 1, 2)
    st = DatasetStore(d / "images.zarr")
    model, _ = load_checkpoint(d / "m.pt")
    x = normalize(torch.from_numpy(st.split("eval").images[:]), st.mean, st.std)
    direct = make_metric("road_lerf", params)(model, x, torch.from_numpy(zarr.open_array(str(d / "sal.zarr"))[:]),
                                               torch.from_numpy(st.split("eval").labels[:]), index=torch.arange(10))
    assert np.allclose(table.sort_values("image_index").score, direct.scores[:, 0], atol=1e-6)


def test_the_scoring_stage_gives_road_the_datasets_std(tmp_path):
    """ROAD's noise is given on [0, 1] images: score_shard passes the normalization's std, so a
    shard's scores equal a direct call with ``std`` and differ from one without (the noise would
    then be in normalized units)."""
    import zarr

    from conftest import write_tiny_study
    from heatcheck.models import load_checkpoint, normalize
    from heatcheck.scoring import score_shard
    from heatcheck.store import DatasetStore
    from test_scoring import finished_saliency, report

    d = write_tiny_study(tmp_path, n_train=12)
    finished_saliency(d, d / "sal.zarr", "edge", d / "r", d / "sal.json")
    params = {"percentages": [30, 70], "noise": 0.2}
    score_shard(d / "images.zarr", d / "m.pt", report(d / "r", 0), "road_morf", params, d / "s.npz")
    got = np.load(d / "s.npz")["scores"][:, 0]
    st = DatasetStore(d / "images.zarr")
    model, _ = load_checkpoint(d / "m.pt")
    x = normalize(torch.from_numpy(st.split("eval").images[:4]), st.mean, st.std)
    maps, labels = torch.from_numpy(zarr.open_array(str(d / "sal.zarr"))[:4]), torch.from_numpy(st.split("eval").labels[:4])
    metric = make_metric("road_morf", params)
    with_std = metric(model, x, maps, labels, index=torch.arange(4), std=list(st.std)).scores[:, 0]
    without = metric(model, x, maps, labels, index=torch.arange(4)).scores[:, 0]
    assert np.allclose(got, with_std, atol=1e-6) and not np.allclose(got, without, atol=1e-4)
