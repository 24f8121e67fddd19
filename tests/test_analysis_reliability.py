"""Reliability tables on score tables built by hand: each value against its definition."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from heatcheck.analysis.correlation import boot_indices, boot_values
from heatcheck.analysis.curves import mean_curves
from heatcheck.analysis.rankings import agreement, rankings
from heatcheck.analysis.reliability import (binarized_average_drop, blur_study, collapse_seeds, inter_method,
                                            internal_consistency, primary_configs)

N = 40


def _rows(metric, config, explainer, values, higher=True, binary=False, model="m"):
    return pd.DataFrame({"model": model, "explainer": explainer, "metric": metric, "config": config,
                         "image_index": np.arange(len(values)), "score": np.asarray(values, float),
                         "higher_is_better": higher, "binary": binary})


def _table(*frames):
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=N)


def test_uniform_seeds_are_averaged_per_image(x):
    s = _table(_rows("insertion", "uniform+pixel+s0", "a", x), _rows("insertion", "uniform+pixel+s1", "a", 3 * x))
    c = collapse_seeds(s)
    assert list(c["config"].unique()) == ["uniform+pixel"]
    assert np.allclose(c["score"], 2 * x)


def test_internal_consistency_matches_scipy_and_averages_over_explainers(x):
    rng = np.random.default_rng(1)
    y, z = x + rng.normal(size=N), rng.normal(size=N)
    s = _table(_rows("insertion", "mean+pixel", "a", x), _rows("insertion", "blur+pixel", "a", np.exp(x)),
               _rows("insertion", "mean+pixel", "b", x), _rows("insertion", "blur+pixel", "b", y),
               _rows("pointing_game", "default", "a", x > 0, binary=True))
    t = internal_consistency(s, n_boot=300)
    assert set(t["metric"]) == {"insertion"}  # one configuration: nothing to correlate
    a = t[t.explainer == "a"].iloc[0]
    b = t[t.explainer == "b"].iloc[0]
    assert a["value"] == pytest.approx(1.0)  # a monotone transform ranks images identically
    assert b["value"] == pytest.approx(stats.spearmanr(x, y).statistic)
    mean = t[t.explainer == "mean"].iloc[0]
    assert mean["value"] == pytest.approx((1 + b["value"]) / 2) and mean["n"] == 2
    assert b["ci_low"] < b["value"] < b["ci_high"] and mean["ci_low"] <= mean["value"] <= mean["ci_high"]
    # a constant configuration: NaN with a reason, and the mean over explainers skips it
    s2 = _table(s, _rows("deletion", "mean+pixel", "a", np.ones(N)), _rows("deletion", "blur+pixel", "a", z))
    t2 = internal_consistency(s2, n_boot=0)
    d = t2[(t2.metric == "deletion") & (t2.explainer == "a")].iloc[0]
    assert np.isnan(d["value"]) and "constant" in d["reason"]


def test_inter_method_alignment_on_metrics_built_to_disagree(x):
    # insertion likes high x, deletion (lower = better) also grows with x: they disagree on every image
    s = _table(_rows("insertion", "mean+pixel", "a", x), _rows("deletion", "mean+pixel", "a", 2 * x, higher=False),
               _rows("pointing_game", "default", "a", (x > 0).astype(float), binary=True))
    t = inter_method(s, n_boot=200).set_index(["metric_a", "metric_b"])
    pair = t.loc[("insertion", "deletion")] if ("insertion", "deletion") in t.index else t.loc[("deletion", "insertion")]
    assert pair["value"] == pytest.approx(-1.0) and pair["raw"] == pytest.approx(1.0)
    assert pair["method"] == "spearman"
    pg = t.loc[[i for i in t.index if "pointing_game" in i and "insertion" in i][0]]
    assert pg["method"] == "point-biserial"
    assert pg["value"] == pytest.approx(stats.pointbiserialr(x > 0, x).statistic)
    assert pg["value"] > 0.7 and pg["ci_low"] > 0


def test_primary_configuration_choice(x):
    s = collapse_seeds(_table(_rows("insertion", "blur+pixel", "a", x), _rows("insertion", "mean+pixel", "a", x),
                              _rows("shapley_bias", "top+10", "a", x), _rows("shapley_bias", "top+30", "a", x),
                              _rows("pointing_game", "default", "a", x)))
    assert primary_configs(s) == {"insertion": "mean+pixel", "shapley_bias": "mean", "pointing_game": "default"}
    assert primary_configs(s, {"insertion": "blur+pixel"})["insertion"] == "blur+pixel"


def test_binarized_average_drop_tables(x):
    s = _table(_rows("average_drop", "real", "a", x, higher=False), _rows("average_drop", "p50", "a", -x, higher=False),
               _rows("insertion", "mean+pixel", "a", x))
    a2, a3 = binarized_average_drop(s, n_boot=100)
    assert list(a2["config"]) == ["real", "p50"]
    assert a2.set_index("config").loc["p50", "mean"] == pytest.approx(-x.mean())
    assert set(a3["metric_a"]) == {"average_drop"} and set(a3["metric_b"]) == {"insertion"}
    v = a3.set_index("config_a")["value"]
    assert v["real"] == pytest.approx(-1.0) and v["p50"] == pytest.approx(1.0)


def test_blur_study_paired_difference(x):
    s = _table(_rows("average_drop", "real", "ig", x + 1, higher=False),
               _rows("average_drop", "real", "ig+blur", x + 0.5, higher=False),
               _rows("insertion", "mean+pixel", "ig", x), _rows("insertion", "mean+pixel", "ig+blur", x))
    t = blur_study(s, n_boot=200).set_index("metric")
    assert t.loc["average_drop", "difference"] == pytest.approx(-0.5)
    assert bool(t.loc["average_drop", "improved"])  # lower drop is better
    assert t.loc["insertion", "difference"] == 0 and not bool(t.loc["insertion", "improved"])


def test_rankings_and_agreement_of_concordant_and_reversed_metrics():
    rng = np.random.default_rng(2)
    quality = {"a": 0.0, "b": 1.0, "c": 2.0}  # c is the best explainer on every image
    frames = []
    for e, q in quality.items():
        base = q + 0.1 * rng.normal(size=N)
        frames += [_rows("insertion", "mean+pixel", e, base), _rows("deletion", "mean+pixel", e, -base, higher=False),
                   _rows("shapley_bias", "top+10", e, -2 * base, higher=False)]
    s = _table(*frames)
    rk = rankings(s, n_boot=100)
    best = rk[rk["rank"] == 1.0]
    assert set(best["explainer"]) == {"c"} and len(best) == 3
    ag = agreement(s, n_boot=100).set_index("statistic")
    assert ag.loc["kendalls_w", "value"] == pytest.approx(1.0)
    assert ag.loc["krippendorff_alpha", "value"] == pytest.approx(1.0)
    # a fourth metric that reverses the order lowers both
    frames += [_rows("average_drop", "real", e, q + 0.1 * rng.normal(size=N), higher=False)
               for e, q in quality.items()]
    ag2 = agreement(_table(*frames), n_boot=100).set_index("statistic")
    assert ag2.loc["kendalls_w", "value"] < 0.5 and ag2.loc["krippendorff_alpha", "value"] < 0.5
    assert ag2.loc["krippendorff_alpha", "ci_low"] <= ag2.loc["krippendorff_alpha", "value"]


def test_agreement_leaves_out_a_metric_that_scored_a_subset(x):
    s = _table(*[_rows(m, "default", e, x + i) for m in ("insertion", "pointing_game") for i, e in enumerate("abc")],
               _rows("masking_robustness", "left", "a", x))
    ag = agreement(s, n_boot=0)
    assert set(ag["left_out"]) == {"masking_robustness"} and ag["raters"].iloc[0] == "insertion pointing_game"


def test_vectorized_bootstrap_equals_scipy_on_each_resample(x):
    y = np.round(x + np.random.default_rng(3).normal(size=N), 1)  # ties
    idx = boot_indices(N, 5, seed=4)
    fast = boot_values(x, y, "spearman", idx)
    slow = [stats.spearmanr(x[i], y[i]).statistic for i in idx]
    assert np.allclose(fast, slow)
    assert np.allclose(boot_values(x, y, "point-biserial", idx), [stats.pearsonr(x[i], y[i]).statistic for i in idx])


def test_mean_curves_average_seeds_then_images(tmp_path):
    import zarr

    path = tmp_path / "insertion" / "m" / "ig.zarr"
    data = np.random.default_rng(5).random((6, 3, 4)).astype(np.float32)
    arr = zarr.create_array(str(path), shape=data.shape, dtype="float32", chunks=data.shape)
    arr[:] = data
    arr.attrs["configs"] = ["mean+pixel", "uniform+pixel+s0", "uniform+pixel+s1"]
    t = mean_curves([path])
    assert list(t["config"].unique()) == ["mean+pixel", "uniform+pixel"]
    u = t[t.config == "uniform+pixel"]
    assert np.allclose(u["mean"], data[:, 1:].mean(1).mean(0))
    assert (t["metric"] == "insertion").all() and (t["explainer"] == "ig").all()
    assert np.allclose(u["fraction"], [0, 1 / 3, 2 / 3, 1])
