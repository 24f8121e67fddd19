"""The tiny study end to end through Snakemake, and config errors stopping it before any job."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
import zarr

from conftest import run_snakemake

HERE = Path(__file__).parent
TINY, SHARDED = HERE / "tiny.yaml", HERE / "sharded.yaml"
CFG = yaml.safe_load(TINY.read_text())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("tiny")
    proc = run_snakemake(work, TINY)
    return work, proc


def test_dataset_models_and_sample_figure(tiny_run):
    work, _ = tiny_run
    res = work / "results" / "shapes"
    g = zarr.open_group(str(res / "images.zarr"), mode="r")
    assert g["eval/images"].shape == (12, 3, 32, 32) and g["train/images"].shape[0] == 360
    assert g.attrs["complete"] is True
    rep = json.loads((res / "models" / "resnet8.json").read_text())
    assert rep["model"] == "resnet8" and 0 <= rep["accuracy"] <= 1 and rep["n_eval"] == 12
    assert (res / "logs" / "train_model" / "resnet8.log").exists()
    for ext in ("png", "pdf"):
        assert (res / "figures" / f"samples.{ext}").stat().st_size > 5000


def test_every_explainer_has_a_complete_saliency_array(tiny_run):
    work, _ = tiny_run
    for name, params in CFG["explainers"].items():
        arr = zarr.open_array(str(work / "results/shapes/saliency/resnet8" / f"{name}.zarr"), mode="r")
        assert arr.shape == (12, 32, 32) and arr.dtype == np.float32
        assert arr.attrs["complete"] is True and arr.attrs["explainer"] == name
        assert np.isfinite(arr[:]).all() and arr[:].std() > 0
        assert len(arr.attrs["model_checksum"]) == 64 and "heatcheck_version" in arr.attrs
    assert (work / "results/shapes/figures/saliency_examples.png").stat().st_size > 10000


def test_score_tables_summary_and_curves(tiny_run):
    work, _ = tiny_run
    res = work / "results" / "shapes"
    scores = pd.read_parquet(res / "scores.parquet")
    assert set(scores["metric"]) == set(CFG["metrics"])  # mutual verification's pair table included
    blurred = {f"{e}+blur" for e in CFG["analysis"]["blur"]["explainers"]}
    rerun = {f"{e}+randomized{k}" for e in CFG["trust"]["randomization"]["explainers"] for k in (1, 2)}
    noisy = {f"{e}+noisy0" for e in CFG["trust"]["noise"]["explainers"]}
    assert set(scores["explainer"]) == set(CFG["explainers"]) | blurred | rerun | noisy
    # the reruns are scored by every metric that can score them
    assert set(scores.loc[scores.explainer.isin(rerun), "metric"]) == set(CFG["metrics"]) - {
        "masking_robustness", "mutual_verification"}
    assert set(scores.loc[scores.explainer.isin(noisy), "metric"]) == set(CFG["metrics"]) - {
        "masking_robustness", "mutual_verification", "shapley_bias"}
    # the blurred copies are scored by the sparsity study's metrics only
    assert set(scores.loc[scores.explainer.isin(blurred), "metric"]) == {
        "average_drop", "insertion", "deletion", "pointing_game"}
    per = scores.groupby(["metric", "explainer"]).size()
    originals = per[per.index.get_level_values("explainer").isin(set(CFG["explainers"]) | blurred)]
    assert (originals.xs("insertion") == 12 * 8).all()      # 12 images x (mean, blur, 2 uniform) x 2 granularities
    assert (originals.xs("average_drop") == 12 * 3).all()   # real + 2 percentiles
    # the reruns at the metric's primary configuration only (the one the report card reads)
    reruns = scores[scores.explainer.isin(rerun | noisy)]
    assert set(reruns.loc[reruns.metric == "insertion", "config"]) == {"mean+pixel"}
    assert set(reruns.loc[reruns.metric == "average_drop", "config"]) == {"real"}
    assert (reruns.groupby(["metric", "explainer", "config"]).size() == 12).all()
    assert set(scores.loc[scores.metric == "pointing_game", "score"]) <= {0.0, 1.0}
    summary = pd.read_csv(res / "tables" / "summary.csv")
    assert {"mean", "ci_low", "ci_high", "higher_is_better"} <= set(summary.columns)
    curves = zarr.open_array(str(res / "curves/deletion/resnet8/rise.zarr"), mode="r")
    assert curves.shape == (12, 8, 9) and curves.attrs["configs"][0] == "mean+pixel"


def test_second_paper_metrics(tiny_run):
    work, _ = tiny_run
    res = work / "results" / "shapes"
    scores = pd.read_parquet(res / "scores.parquet")
    bias = scores[(scores.metric == "shapley_bias") & ~scores.explainer.str.contains("+", regex=False)]
    assert set(bias.explainer) == set(CFG["explainers"]) and len(bias.config.unique()) == 10
    assert set(scores.loc[scores.metric == "masking_robustness", "explainer"]) == {"grad", "lrp", "edge"}
    feat = scores[scores.metric == "unexplainable_features"]
    assert feat.masked_fraction.between(0, 1).all() and (feat.score >= 0).all()
    g = zarr.open_group(str(res / "shapley" / "resnet8.zarr"), mode="r")
    assert g["estimate"].shape == (12, 4, 4) and g["stderr"].shape == (12, 4, 4)
    mv = pd.read_csv(res / "tables/mutual_verification/resnet8.csv", index_col=0)
    assert list(mv.index) == list(CFG["explainers"]) and np.allclose(mv.values, mv.values.T)
    for f in ("figures/shapley_bias.png", "figures/mutual_verification.png"):
        assert (res / f).stat().st_size > 5000
    # the bias metric presumes signed maps: magnitudes and mask weights are marked unsigned
    signed = pd.read_csv(res / "tables/shapley_bias.csv").drop_duplicates("explainer").set_index("explainer").signed
    assert set(signed.index) == set(CFG["explainers"])
    assert sorted(signed.index[~signed]) == ["edge", "grad", "meaningful_perturbation", "rise"]
    table = pd.read_csv(res / "tables/non_robustness.csv", index_col=0)
    assert list(table.index) == ["resnet8"] and set(table.columns) == {"grad", "lrp", "edge"}
    assert (table.to_numpy() >= 0).all()


def test_reliability_and_sparsity_tables(tiny_run):
    work, _ = tiny_run
    tables = work / "results" / "shapes" / "tables"
    ic = pd.read_csv(tables / "internal_consistency.csv")
    ins = ic[(ic.metric == "insertion") & (ic.explainer == "mean")]
    assert len(ins) == 15  # 6 configurations (uniform seeds averaged) -> 15 pairs
    assert ins["value"].between(-1, 1).all() and (ins["ci_low"] <= ins["ci_high"]).all()
    im = pd.read_csv(tables / "inter_method.csv")
    pairs = im[im.explainer == "grad"]
    metrics = {m for m in CFG["metrics"]}
    assert len(pairs) == len(metrics) * (len(metrics) - 1) // 2
    pg = im[(im.metric_a == "pointing_game") | (im.metric_b == "pointing_game")]
    assert set(pg["method"]) <= {"point-biserial", "phi"} and len(pg)
    # aligned and raw differ in sign exactly when the two metrics have opposite directions
    ind = im[(im.metric_a == "deletion") & (im.metric_b == "insertion")].dropna(subset=["value"])
    assert len(ind) and np.allclose(ind["value"], -ind["raw"])
    ag = pd.read_csv(tables / "agreement.csv").set_index("statistic")
    assert set(ag.index) == {"kendalls_w", "krippendorff_alpha"} and ag["value"].between(-1, 1).all()
    assert ag.loc["krippendorff_alpha", "left_out"] == "masking_robustness"
    rk = pd.read_csv(tables / "rankings.csv")
    assert set(rk.explainer) == set(CFG["explainers"])  # no blurred copies in the rankings
    blur = pd.read_csv(tables / "blur_study.csv")
    assert set(blur.explainer) == set(CFG["analysis"]["blur"]["explainers"])
    assert {"original", "blurred", "difference", "improved"} <= set(blur.columns)
    a2 = pd.read_csv(tables / "average_drop_binarized.csv")
    assert list(a2.config.unique()) == ["real", "p50", "p90"]
    st = pd.read_csv(tables / "sparsity.csv").set_index("explainer")
    for e in CFG["analysis"]["blur"]["explainers"]:  # blurring makes maps less sparse
        assert st.loc[f"{e}+blur", "gini"] < st.loc[e, "gini"]
    kde = pd.read_csv(tables / "relevance_kde.csv")
    assert kde.groupby("explainer").size().eq(101).all()
    figures = work / "results" / "shapes" / "figures"
    for name in ("curves", "blur_curves", "relevance_kde", "blur_examples", "blur_study", "internal_consistency",
                 "inter_method", "average_drop_binarized", "rankings"):
        for ext in ("png", "pdf"):
            assert (figures / f"{name}.{ext}").stat().st_size > 5000, name


def test_model_pass_jobs_time_themselves_and_bench_pipeline_reads_them(tiny_run, root):
    """Every model-pass job wrote its wall time (heatcheck.jobs.timed: no benchmark: directive),
    and benchmarks/bench_pipeline.py reads them with the seconds each job spent in its passes,
    which never exceed the job's time."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_pipeline", root / "benchmarks" / "bench_pipeline.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    work, _ = tiny_run
    res = work / "results" / "shapes"
    jobs = bench.job_table(work)
    count = jobs.groupby("rule").size()
    assert count["score_metric"] == len(list(res.glob("scores/*/*/*.shards/*.npz")))
    maps = [p for p in res.glob("saliency/*/*.shards/*.json") if "+blur" not in p.parent.name]
    assert count[["compute_saliency", "randomized_saliency", "noisy_saliency"]].sum() == len(maps)
    light = [p for p in res.glob("scores/*/*/*.parquet") if not p.with_suffix(".shards").exists()]
    assert count["score_table_light"] == len([p for p in light if p.parts[-3] != "mutual_verification"])
    assert {"train_model", "compute_shapley", "noisy_inputs", "prepare_dataset"} <= set(count.index)
    timed = jobs.dropna(subset=["passes"])
    assert (timed["wall"] > 0).all() and (timed["passes"] <= timed["wall"] + 1e-3).all()
    share = bench.summarize(jobs)["per_rule"]["score_metric"]["pass_share"]
    assert 0 < share <= 1


def test_report_gathers_figures_and_tables(tiny_run):
    work, _ = tiny_run
    run_snakemake(work, TINY, "--report", "report.html")
    html = (work / "report.html").read_text(errors="ignore")
    for name in ("inter_method.png", "rankings.png", "blur_study.csv", "Reliability", "Sparsity"):
        assert name in html, name


def test_nothing_to_do_on_rerun(tiny_run):
    work, _ = tiny_run
    proc = run_snakemake(work, TINY, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_tables_deleted_by_hand_are_rebuilt(tiny_run):
    work, _ = tiny_run
    tables = work / "results" / "shapes" / "tables"
    # tables read by figures that exist (one of them not marked for the report): Snakemake alone
    # would never rebuild them
    deleted = ["agreement.csv", "mean_curves.csv"]
    for name in deleted:
        (tables / name).unlink()
    dry = run_snakemake(work, TINY, "-n").stdout
    for rule in ("rankings", "mean_curves"):
        assert f"rule {rule}:" in dry, rule
    run_snakemake(work, TINY)
    assert all((tables / name).stat().st_size > 100 for name in deleted)
    assert "Nothing to be done" in run_snakemake(work, TINY, "-n").stdout


def test_report_of_a_partly_finished_study_lists_what_is_missing(tiny_run):
    work, _ = tiny_run
    res = work / "results" / "shapes"
    # a figure, and a table a figure still on disk was drawn from (its rule's job is in the report's graph)
    missing = ["figures/blur_study.png", "tables/rankings.csv"]
    for name in missing:
        (res / name).unlink()
    proc = run_snakemake(work, TINY, "--report", "partial.html")
    out = proc.stdout + proc.stderr
    assert "report: 2 outputs are missing and not in the report" in out
    assert all(f"results/shapes/{name}" in out for name in missing)
    added = re.findall(r"^Adding (\S+) \(", out, re.M)
    assert {"blur_study.png", "rankings.csv"}.isdisjoint(added)
    assert {"rankings.png", "agreement.csv", "blur_study.csv", "inter_method.png", "summary.csv"} <= set(added)
    html = (work / "partial.html").read_text(errors="ignore")
    assert "inter_method.png" in html and "Reliability" in html
    run_snakemake(work, TINY)  # the study finished again, for the tests after this one
    assert all((res / name).exists() for name in missing)


def test_figures_target_redraws_without_recomputing(tiny_run):
    work, _ = tiny_run
    proc = run_snakemake(work, TINY, "figures", "--forcerun", "plot_dataset", "plot_saliency_examples")
    out = proc.stdout + proc.stderr
    assert "plot_dataset" in out and "plot_saliency_examples" in out
    for rule in ("train_model", "prepare_dataset", "compute_saliency", "score_metric"):
        assert f"rule {rule}:" not in out


def test_style_change_redraws_figures_only(tiny_run, tmp_path):
    work, _ = tiny_run
    style = tmp_path / "paper.mplstyle"
    style.write_text((Path(__file__).parents[2] / "workflow/heatcheck/plots/heatcheck.mplstyle").read_text())
    cfg = yaml.safe_load(TINY.read_text())
    cfg["figures"] = {"style": str(style)}
    conf = tmp_path / "styled.yaml"
    conf.write_text(yaml.safe_dump(cfg))  # keys sorted: params compare equal all the same
    run_snakemake(work, conf)  # a new style file: the plots, and only they, are redrawn
    res = work / "results" / "shapes"
    before = {p: p.stat().st_mtime_ns for p in res.rglob("*") if p.is_file() and "figures" not in p.parts
              and "logs" not in p.parts}
    style.write_text(style.read_text() + "font.size: 11\n")
    dry = run_snakemake(work, conf, "-n")
    jobs = [line.split()[0] for line in (dry.stdout + dry.stderr).split("Job stats:")[1].split("total")[0].splitlines()[3:]
            if line.strip()]
    assert jobs and all(j.startswith("plot_") or j == "all" for j in jobs), jobs
    fig = res / "figures" / "rankings.png"
    t0 = fig.stat().st_mtime_ns
    run_snakemake(work, conf)
    assert fig.stat().st_mtime_ns > t0
    after = {p: p.stat().st_mtime_ns for p in before}
    assert after == before  # no table, score or map was rewritten


def test_sharded_run_assembles_shards(tmp_path):
    """Also a model built so that the report card must find deletion separating the controls
    (tests/workflow/built_models.py: deleting its evidence first is the best order there is)."""
    cfg = yaml.safe_load(SHARDED.read_text())
    cfg["models"]["built"] = {"factory": f"{HERE / 'built_models.py'}:region_evidence", "min_gain": 0.0}
    cfg["datasets"]["shapes"]["models"].append("built")
    cfg["target"] = "predicted"
    cfg["explainers"].update({"grad": None, "random": None, "edge": None})
    study = tmp_path / "sharded.yaml"
    study.write_text(yaml.safe_dump(cfg))
    run_snakemake(tmp_path, study)
    res = tmp_path / "results" / "shapes"
    for model in ("lenet", "resnet8"):
        assert len(list((res / "saliency" / model / "rise.shards").glob("*.json"))) == 3  # 10 images / 4
        arr = zarr.open_array(str(res / "saliency" / model / "rise.zarr"), mode="r")
        assert arr.chunks == (4, 32, 32) and np.isfinite(arr[:]).all()
    scores = pd.read_parquet(res / "scores.parquet")
    assert sorted(scores.image_index.unique()) == list(range(10))
    assert len(scores[(scores.metric == "deletion")]) == 3 * 5 * 10 * 2  # models x explainers x images x configs
    card = pd.read_csv(res / "tables/report_card.csv", keep_default_na=False, na_values=[""])
    sep = card[(card.model == "built") & (card.check == "control_separation")].set_index(["metric", "detail"])
    for control in ("random", "edge", "all"):
        row = sep.loc[("deletion", control)]
        assert row.value >= 0.9 and row.ci_low > 0.75 and row.n == 10, (control, row.to_dict())
    # the gradient map is the head's weight exactly on the region's positive red pixels: the best deletion order
    maps = zarr.open_array(str(res / "saliency/built/grad.zarr"), mode="r")[:]
    assert set(np.unique(maps)) == {0.0, 0.25} and maps[:, :12].max() == 0 and (maps[:, 12:20, 12:20].max((1, 2)) == 0.25).all()


def test_config_error_stops_before_any_job(tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["models"]["resnet8"]["epocs"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(tmp_path, bad, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "models.resnet8.epocs" in out and "valid keys here" in out
    assert not (tmp_path / "results").exists()


def test_dry_run_before_any_data(tmp_path):
    """`snakemake -n` on an empty directory lists the jobs it can know before the data is read
    (the rules' resource estimates must not wait for the dataset checkpoint)."""
    proc = run_snakemake(tmp_path, TINY, "-n")
    out = proc.stdout + proc.stderr
    assert "prepare_dataset" in out and "mutual_verification" in out and "Traceback" not in out
    assert not (tmp_path / "results").exists()


def test_bf16_scores_agree_with_fp32_and_keep_the_rankings(tiny_run, tmp_path):
    """``passes: {precision: bf16}`` reruns the maps and scores of the tiny study (not the model):
    per-image scores keep their order (Spearman >= 0.95; the pointing game, whose 0/1 score flips
    where the map's maximum moves by a pixel, >= 0.85) and no two explainers that the fp32
    run's 95% CIs separate change places in any metric's ranking (the tolerance the README states)."""
    import shutil

    from heatcheck.compare import compare_rankings, compare_scores

    work, _ = tiny_run
    bf16 = tmp_path / "bf16"
    shutil.copytree(work, bf16, symlinks=True)
    proc = run_snakemake(bf16, TINY, "results/shapes/tables/rankings.csv", "--config", "passes={precision: bf16}")
    out = proc.stdout + proc.stderr
    assert re.search(r"^rule train_model:$", out, re.M) is None and "compute_saliency" in out
    ref, res = work / "results/shapes", bf16 / "results/shapes"
    scores = compare_scores(pd.read_parquet(ref / "scores.parquet"), pd.read_parquet(res / "scores.parquet"))
    assert (scores["unmatched"] == 0).all() and (scores["max_abs_diff"] > 0).any()  # bf16 did run
    floor = np.where(scores["metric"] == "pointing_game", 0.85, 0.95)
    # a metric whose scores are constant in both runs (the blind pointing game of the report card's
    # test) has no rank order to keep: equal scores are agreement
    constant = scores["spearman"].isna() & (scores["max_abs_diff"] == 0)
    assert ((scores["spearman"] >= floor) | constant).all(), scores
    ranks = compare_rankings(pd.read_csv(ref / "tables/rankings.csv"), pd.read_csv(res / "tables/rankings.csv"))
    assert len(ranks) == len(CFG["metrics"]) and ranks["agree"].all(), ranks[["metric", "separated"]]


# --- issue 14: the new metrics, the report card, the randomization test, the summary page -------------


def test_new_metrics_are_scored_with_their_curves(tiny_run):
    work, _ = tiny_run
    res = work / "results" / "shapes"
    scores = pd.read_parquet(res / "scores.parquet")
    for metric in ("road_morf", "road_lerf", "relevance_mass", "relevance_rank"):
        g = scores[(scores.metric == metric) & scores.explainer.isin(list(CFG["explainers"]))]
        assert len(g) == 12 * len(CFG["explainers"]) and g.score.between(0, 1).all(), metric
    rel = scores[scores.metric == "relevance_rank"]
    assert set(rel.mask_source) == {"mask"} and rel.mask_fraction.between(0, 1).all()
    curves = zarr.open_array(str(res / "curves/road_morf/resnet8/grad.zarr"), mode="r")
    assert curves.shape == (12, 1, 3)  # 3 percentages


def test_report_card(tiny_run):
    """Every metric has its card; the pointing game, made blind to the map (a tolerance of the
    image side: every map hits), cannot tell the controls from real explainers and does not react
    to the maps of a randomized model: exactly 0.5 and 0 with zero-width CIs."""
    from heatcheck.analysis.trust import CHECKS

    work, _ = tiny_run
    t = pd.read_csv(work / "results/shapes/tables/report_card.csv", keep_default_na=False, na_values=[""])
    assert set(t.check) == set(CHECKS)
    scored = set(CFG["metrics"]) - {"mutual_verification"}
    assert set(t.metric) == scored
    ok = t.value.notna()
    assert (t.loc[ok, "ci_low"].fillna(-9) <= t.loc[ok, "value"] + 1e-9).all()
    assert (t.loc[t.value.isna(), "reason"].str.len() > 0).all()  # a blank cell says why
    card = t.set_index(["metric", "check", "detail"])
    pg = card.loc[("pointing_game", "control_separation", "all")]
    assert (pg.value, pg.ci_low, pg.ci_high) == (0.5, 0.5, 0.5)
    for k in (1, 2):
        pg = card.loc[("pointing_game", "randomization_reactivity", f"step {k}")]
        assert (pg.value, pg.ci_low, pg.ci_high) == (0.0, 0.0, 0.0)
    # a metric that reads the map reacts somewhere: not every reactivity of the others is 0
    react = t[(t.check == "randomization_reactivity") & (t.metric != "pointing_game")].value.dropna()
    assert len(react) and (react.abs() > 0.05).any()
    assert t[t.check == "ground_truth_agreement"].metric.nunique() == len(scored) - 1  # not the reference itself
    for name in ("report_card", "randomization"):
        assert (work / "results/shapes/figures" / f"{name}.png").stat().st_size > 10000, name


def test_randomization_table(tiny_run):
    """Adebayo's test: the similarity of each rerun to the trained model's map, per step; the
    maps of the randomized model are not the trained model's."""
    work, _ = tiny_run
    t = pd.read_csv(work / "results/shapes/tables/randomization.csv")
    assert set(t.explainer) == set(CFG["trust"]["randomization"]["explainers"]) and set(t.step) == {1, 2}
    assert set(t.measure) == {"spearman_abs", "ssim"} and (t.n == 12).all()
    assert list(t[(t.explainer == "grad") & (t.measure == "ssim")].layer) == ["fc", "layer3.0.downsample.1"]
    assert t.value.between(-1, 1).all() and (t.value < 0.9).all()


def test_report_opens_on_the_summary(tiny_run):
    """The summary page (models, accuracies, best explainers, agreement, report card) is what the
    report shows first: the HTML's landing view, rendered by a real headless Chromium."""
    import shutil
    import subprocess

    work, _ = tiny_run
    summary = (work / "results" / "summary.rst").read_text()
    assert "resnet8" in summary and "eval images" in summary and "Report card" in summary
    run_snakemake(work, TINY, "--report", "summary_report.html")
    chromium = shutil.which("chromium") or _install_chromium()
    if chromium is None:
        pytest.skip("no chromium: not installed and apt-get could not install it (needs root and the Debian archive)")
    profile = work / "chromium-profile"
    profile.mkdir(exist_ok=True)
    proc = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
                           f"file://{work / 'summary_report.html'}"], capture_output=True, text=True, timeout=180)
    dom = proc.stdout
    assert 'id="app"' in dom, proc.stderr[-2000:]
    # what the report's scripts rendered into the page (the page's source holds the same text as
    # a JSON string in a script after it: the landing view is the #app element before that)
    app = dom[dom.index('id="app"'):]
    app = app[:app.index("<script")] if "<script" in app else app
    assert "Summary of the study" in app, "the report does not open on the summary page"
    page = app[app.index("Summary of the study"):]
    accuracy = f"{100 * json.loads((work / 'results/shapes/models/resnet8.json').read_text())['accuracy']:.1f}%"
    for text in ("Models", "resnet8", f"{accuracy} of 12 eval images", "Best explainer per metric",
                 "How far the metrics agree", "Report card", "control separation", "randomization reactivity",
                 "report_card.png"):
        assert text in page, text


def _install_chromium():
    """Debian's chromium, installed when missing (the test machine's set-up; apt-get as root)."""
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        if subprocess.run(cmd, capture_output=True, env=env, timeout=900).returncode == 0 and shutil.which("chromium"):
            break
    return shutil.which("chromium")
