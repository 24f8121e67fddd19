"""The report-card statistics on score tables built so that the answer is known."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from heatcheck.analysis.trust import (COLUMNS, CONTROLS, control_separation, derived_name, ground_truth_agreement,
                                      kendall_rows, noise_resilience, parse_derived, preference,
                                      randomization_reactivity, reliability, trust_report)

N = 30
REAL = ["grad", "gradcam", "lrp", "rise"]


def _rows(metric, explainer, values, higher=True, config="default", model="m", binary=False):
    return pd.DataFrame({"model": model, "explainer": explainer, "metric": metric, "config": config,
                         "image_index": np.arange(len(values)), "score": np.asarray(values, float),
                         "higher_is_better": higher, "binary": binary})


def _table(frames):
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _ci_holds(t):
    ok = t.dropna(subset=["ci_low", "ci_high"])
    assert len(ok) and ((ok.ci_low <= ok.value + 1e-12) & (ok.value <= ok.ci_high + 1e-12)).all()


def test_names_of_derived_maps_and_the_controls():
    assert derived_name("gradcam", "randomized", 3) == "gradcam+randomized3"
    assert parse_derived("gradcam+randomized3") == ("gradcam", "randomized", 3)
    assert parse_derived("integrated_gradients+noisy0") == ("integrated_gradients", "noisy", 0)
    assert parse_derived("grad+blur") == ("grad", "blur", None) and parse_derived("grad") == ("grad", None, None)
    with pytest.raises(ValueError):
        derived_name("grad", "shuffled", 1)
    from heatcheck.explainers import EXPLAINERS

    assert sorted(CONTROLS) == sorted(n for n in EXPLAINERS.names() if EXPLAINERS.get(n).model_free)


def test_preference_and_kendall_by_hand_and_against_scipy(rng):
    assert np.allclose(preference([[3, 2, 1]], [[1, 2, 3]]), [0.5])          # win, tie, loss
    assert np.isnan(preference([[np.nan]], [[1.0]])[0])
    a = rng.integers(0, 4, size=(50, 6)).astype(float)                       # many ties
    b = a + rng.integers(-2, 3, size=a.shape)
    a[0, 2] = np.nan                                                         # a missing item
    ref = []
    for x, y in zip(a, b):
        ok = np.isfinite(x)
        ref.append(stats.kendalltau(x[ok], y[ok]).statistic)
    assert np.allclose(kendall_rows(a, b), ref, equal_nan=True)
    assert np.isnan(kendall_rows([[1.0, 1.0, 1.0]], [[1.0, 2.0, 3.0]])[0])   # no untied pair


@pytest.mark.parametrize("higher", [True, False])
def test_controls_separated_by_construction_give_auroc_one(rng, higher):
    sign = 1 if higher else -1
    quality = rng.normal(size=N)                     # image difficulty shared by all explainers
    frames = [_rows("good", e, sign * (quality + 1 + rng.random(N)), higher) for e in REAL]
    frames += [_rows("good", c, sign * (quality - rng.random(N)), higher) for c in CONTROLS]
    # a metric that always prefers the controls, and one that cannot tell them apart
    frames += [_rows("bad", e, quality, True) for e in REAL] + [_rows("bad", c, quality + 1, True) for c in CONTROLS]
    frames += [_rows("blind", e, rng.normal(size=N)) for e in REAL + list(CONTROLS)]
    t = control_separation(_table(frames), n_boot=200).set_index(["metric", "detail"])
    for d in ("random", "edge", "all"):
        assert t.loc[("good", d), "value"] == 1 and t.loc[("good", d), "ci_low"] == 1
        assert t.loc[("bad", d), "value"] == 0
    assert abs(t.loc[("blind", "all"), "value"] - 0.5) < 0.1
    assert t.loc[("good", "all"), "n"] == N
    _ci_holds(t.reset_index())


def test_randomization_reactivity_zero_for_a_metric_that_ignores_the_map(rng):
    image_only = rng.normal(size=N)                  # the score depends on the image alone
    frames = []
    for e in REAL:
        frames.append(_rows("blind", e, image_only))
        frames.append(_rows("blind", f"{e}+randomized1", image_only))
        # a deletion-like metric (lower is better) that rises on randomized maps: punishes them
        frames.append(_rows("sane", e, rng.random(N), higher=False))
        frames.append(_rows("sane", f"{e}+randomized1", 1 + rng.random(N), higher=False))
        frames.append(_rows("sane", f"{e}+randomized2", 2 + rng.random(N), higher=False))
        # a metric that prefers the randomized maps
        frames.append(_rows("upside", e, rng.random(N)))
        frames.append(_rows("upside", f"{e}+randomized1", 1 + rng.random(N)))
    # controls are not rerun: their rows do not enter
    frames.append(_rows("blind", "random", image_only))
    t = randomization_reactivity(_table(frames), n_boot=200).set_index(["metric", "detail"])
    assert t.loc[("blind", "step 1"), "value"] == 0 and t.loc[("blind", "step 1"), "ci_high"] == 0
    assert t.loc[("sane", "step 1"), "value"] == 1 and t.loc[("sane", "step 2"), "value"] == 1
    assert t.loc[("upside", "step 1"), "value"] == -1
    _ci_holds(t.reset_index())
    none = randomization_reactivity(_rows("x", "grad", image_only))
    assert np.isnan(none["value"].iloc[0]) and "no +randomized" in none["reason"].iloc[0]


def test_noise_resilience_one_for_a_stable_ranking_and_near_zero_for_a_reshuffled_one(rng):
    frames, n = [], 300  # per-image tau over 4 explainers has sd ~0.5: many images for "near 0"
    for k, e in enumerate(REAL):
        clean = k + 0.1 * rng.random(n)
        frames.append(_rows("stable", e, clean))
        frames += [_rows("stable", f"{e}+noisy{c}", clean + 0.01 * rng.random(n)) for c in range(2)]
        frames.append(_rows("fragile", e, rng.random(n)))
        frames += [_rows("fragile", f"{e}+noisy{c}", rng.random(n)) for c in range(2)]
    # a control and its noisy copy are not ranked (a reshuffled control would pull "stable" down)
    s = _table(frames + [_rows("stable", "random", rng.random(n)), _rows("stable", "random+noisy0", rng.random(n))])
    t = noise_resilience(s, n_boot=200).set_index("metric")
    assert np.isclose(t.loc["stable", "value"], 1) and t.loc["stable", "detail"] == "2 noisy copies"
    assert abs(t.loc["fragile", "value"]) < 0.1 and t.loc["fragile", "ci_low"] < 0 < t.loc["fragile", "ci_high"]
    _ci_holds(t.reset_index())


def test_ground_truth_agreement_with_relevance_rank(rng):
    frames = []
    for k, e in enumerate(REAL):
        gt = k + 0.1 * rng.random(N)
        frames.append(_rows("relevance_rank", e, gt))
        frames.append(_rows("agrees", e, gt + 0.01 * rng.random(N)))
        frames.append(_rows("agrees_lower", e, -gt, higher=False))   # same ranking, lower-is-better
        frames.append(_rows("reversed", e, -gt))
    t = ground_truth_agreement(_table(frames), n_boot=200).set_index("metric")
    assert "relevance_rank" not in t.index
    assert np.isclose(t.loc["agrees", "value"], 1) and np.isclose(t.loc["agrees_lower", "value"], 1)
    assert np.isclose(t.loc["reversed", "value"], -1)
    other = ground_truth_agreement(_rows("x", "grad", np.ones(N), model="other"))
    assert "relevance_rank not scored" in other["reason"].iloc[0]


def test_reliability_reads_the_weakest_configuration_pair_and_the_mean_inter_method():
    internal = pd.DataFrame([
        {"model": "m", "metric": "insertion", "explainer": "mean", "config_a": "mean+pixel", "config_b": "blur+pixel",
         "method": "spearman", "value": 0.1, "ci_low": 0.0, "ci_high": 0.2, "n": 4, "reason": ""},
        {"model": "m", "metric": "insertion", "explainer": "mean", "config_a": "mean+pixel",
         "config_b": "mean+region", "method": "spearman", "value": 0.8, "ci_low": 0.7, "ci_high": 0.9, "n": 4,
         "reason": ""},
        {"model": "m", "metric": "insertion", "explainer": "grad", "config_a": "mean+pixel", "config_b": "blur+pixel",
         "method": "spearman", "value": -0.5, "ci_low": -0.6, "ci_high": -0.4, "n": 30, "reason": ""}])
    inter = pd.DataFrame([
        {"model": "m", "explainer": "grad", "metric_a": "insertion", "config_a": "mean+pixel", "metric_b": "deletion",
         "config_b": "mean+pixel", "value": 0.6, "ci_low": 0.3, "ci_high": 0.8},
        {"model": "m", "explainer": "lrp", "metric_a": "insertion", "config_a": "mean+pixel", "metric_b": "deletion",
         "config_b": "mean+pixel", "value": 0.2, "ci_low": -0.1, "ci_high": 0.4},
        {"model": "m", "explainer": "random", "metric_a": "insertion", "config_a": "mean+pixel",
         "metric_b": "deletion", "config_b": "mean+pixel", "value": -0.9, "ci_low": -1.0, "ci_high": -0.8},
        {"model": "m", "explainer": "grad+blur", "metric_a": "insertion", "config_a": "mean+pixel",
         "metric_b": "deletion", "config_b": "mean+pixel", "value": -0.9, "ci_low": -1.0, "ci_high": -0.8}])
    t = reliability(internal, inter).set_index(["metric", "check"])
    ic = t.loc[("insertion", "internal_consistency")]
    assert ic["value"] == 0.1 and (ic["ci_low"], ic["ci_high"]) == (0.0, 0.2)
    assert ic["detail"] == "mean+pixel vs blur+pixel (lowest of 2 pairs)"
    for metric in ("insertion", "deletion"):   # the control and the blurred copy do not count
        im = t.loc[(metric, "inter_method")]
        assert np.isclose(im["value"], 0.4) and im["n"] == 2 and "1 with CI above 0" in im["detail"]
    assert len(reliability(None, None)) == 0


def test_trust_report_has_every_check_and_its_cis_hold(rng):
    frames = []
    for k, e in enumerate(REAL):
        v = k + rng.random(N)
        frames += [_rows("insertion", e, v), _rows("insertion", f"{e}+randomized1", v - 1),
                   _rows("insertion", f"{e}+noisy0", v + 0.01), _rows("relevance_rank", e, v)]
    frames += [_rows("insertion", c, -5 + rng.random(N)) for c in CONTROLS]
    frames += [_rows("relevance_rank", c, rng.random(N)) for c in CONTROLS]
    t = trust_report(_table(frames), n_boot=100)
    assert list(t.columns) == COLUMNS
    ins = t[t.metric == "insertion"].set_index("check")
    assert {"control_separation", "randomization_reactivity", "noise_resilience",
            "ground_truth_agreement"} <= set(ins.index)
    assert (ins.loc["control_separation", "value"] == 1).all()
    assert ins.loc["randomization_reactivity", "value"] == 1 and ins.loc["ground_truth_agreement", "value"] == 1
    _ci_holds(t)


def test_card_cells_pick_both_controls_and_the_deepest_step():
    from heatcheck.analysis.trust import CHECKS, card_cells

    rows = [("m", "deletion", "control_separation", "random", 0.9), ("m", "deletion", "control_separation", "all", 0.8),
            ("m", "deletion", "randomization_reactivity", "step 2", 0.6),
            ("m", "deletion", "randomization_reactivity", "step 10", 0.4),
            ("m", "deletion", "randomization_reactivity", "step 1", 0.1), ("m", "deletion", "inter_method", "x", 0.2),
            ("m", "average_drop", "noise_resilience", "1 noisy copies", 0.7)]
    t = pd.DataFrame([{"model": a, "metric": b, "config": "c", "check": c, "detail": d, "value": v, "ci_low": v - 0.1,
                       "ci_high": v + 0.1, "n": 5, "reason": ""} for a, b, c, d, v in rows], columns=COLUMNS)
    cells = card_cells(t)
    assert list(zip(cells.metric, cells.check, cells.value)) == [
        ("deletion", "control_separation", 0.8), ("deletion", "randomization_reactivity", 0.4),
        ("deletion", "inter_method", 0.2), ("average_drop", "noise_resilience", 0.7)]
    assert CHECKS[0] == "control_separation" and len(CHECKS) == 6


def test_summary_page_names_models_best_explainers_agreement_and_the_card(tmp_path):
    import json

    from heatcheck.analysis.summary import write_summary

    res = tmp_path / "results" / "shapes"
    (res / "models").mkdir(parents=True)
    (res / "tables").mkdir()
    (res / "models" / "lenet.json").write_text(json.dumps({"model": "lenet", "arch": "lenet", "accuracy": 0.96875,
                                                           "n_eval": 32, "chance": 1 / 6}))
    pd.DataFrame([{"model": "lenet", "metric": "deletion", "config": "mean+pixel", "explainer": e,
                   "higher_is_better": False, "n": 32, "mean": m, "ci_low": m - 0.1, "ci_high": m + 0.1, "rank": r}
                  for e, m, r in (("grad", 0.5, 2.0), ("gradcam", 0.25, 1.0))]).to_csv(res / "tables/rankings.csv",
                                                                                         index=False)
    pd.DataFrame([{"model": "lenet", "statistic": "kendalls_w", "value": 0.51, "ci_low": 0.41, "ci_high": 0.59}]).to_csv(
        res / "tables/agreement.csv", index=False)
    pd.DataFrame([{"model": "lenet", "metric": "deletion", "config": "mean+pixel", "check": "control_separation",
                   "detail": "all", "value": 0.75, "ci_low": 0.7, "ci_high": 0.8, "n": 32, "reason": ""}]).to_csv(
        res / "tables/report_card.csv", index=False)
    text = write_summary({"accuracies": [res / "models/lenet.json"], "rankings": [res / "tables/rankings.csv"],
                          "agreement": [res / "tables/agreement.csv"], "report_card": [res / "tables/report_card.csv"]},
                         ["shapes"], tmp_path / "summary.rst")
    assert (tmp_path / "summary.rst").read_text() == text
    assert "96.9% of 32 eval images" in text and "gradcam 0.25 [0.15, 0.35]" in text
    assert "0.51 [0.41, 0.59]" in text and "0.75 [0.70, 0.80]" in text and "control separation" in text
    # the page renders as Snakemake renders it: Jinja2 (links where the report has the file), then docutils
    from docutils.core import publish_parts
    from jinja2 import Environment

    class File:
        target = "report_card.png"

    html = publish_parts(Environment().from_string(text + "\n.. _report_card.png: #card\n").render(files=[File()]),
                         writer_name="html", settings_overrides={"report_level": 2, "halt_level": 2})["html_body"]
    assert 'href="#card"' in html and "rankings.png" in html and "<table" in html
