"""heatcheck.cluster: SLURM submissions after the profile's groups, start-up, GPU/CPU estimates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from heatcheck.cluster import (GPU_REFERENCE, PROFILE, STARTUP, arch_gflops, cpu_rate, gpu_rate, load_profile,
                               pass_seconds, runtime_minutes, slurm_jobs, startup_seconds, submissions)
from heatcheck.config import check_config, load_study
from heatcheck.costs import image_side, study_passes

ROOT = Path(__file__).resolve().parents[1]


def study(name: str, **overrides) -> dict:
    return check_config(load_study([str(ROOT / "configs" / name)], overrides))


def test_gpu_rate_is_the_published_figure_scaled_by_flops_and_side_squared():
    r = gpu_rate("resnet50", 224)
    assert r["fwd_per_s"] == pytest.approx(1261) and r["bwd_per_s"] == pytest.approx(1261 / 2)
    assert "NVIDIA DeepLearningExamples" in r["source"] and "1,261 img/s FP32" in r["source"]
    assert "approximation" in r["source"]
    assert gpu_rate("resnet50", 224, "bf16")["fwd_per_s"] == pytest.approx(3382)
    assert "mixed precision" in gpu_rate("resnet50", 224, "fp16")["source"]
    assert gpu_rate("resnet50", 112)["fwd_per_s"] == pytest.approx(4 * 1261)
    # VGG16 makes 30.94 GFLOPs per 224-px image, ResNet-50 8.18
    assert gpu_rate("vgg16", 224)["fwd_per_s"] == pytest.approx(1261 * 8.178 / 30.94)
    assert GPU_REFERENCE["batch"] == 256


def test_an_unknown_architecture_is_costed_as_the_most_expensive_per_pixel():
    assert arch_gflops("my_timm_net", 224) == pytest.approx(arch_gflops("vgg19", 224))


def test_runtime_estimate_scales_with_the_kinds_side_squared(tmp_path):
    """A CIFAR-10 study's shards are 32 px (its kind's side, not a 224-px fallback), a shapes
    study's what its size says: the pass time, on a CPU and a GPU, scales with side^2."""
    cifar = image_side({"kind": "cifar10", "root": str(tmp_path)})
    shapes = image_side(check_config({"datasets": {"s": {"kind": "shapes", "size": 64, "models": ["m"]}},
                                      "models": {"m": {"arch": "resnet50"}}})["datasets"]["s"])
    assert (cifar, shapes) == (32, 64)
    for rate in (cpu_rate, gpu_rate):
        for arch in ("resnet20", "resnet50", "vgg16"):
            small, big = (pass_seconds((5000, 0), 100, rate(arch, s)) for s in (cifar, shapes))
            assert big == pytest.approx(4 * small)
            assert pass_seconds((5000, 0), 100, rate(arch, 224)) == pytest.approx(49 * small)
    # the request: 10 minutes + twice the estimate, times the attempt
    rate = cpu_rate("resnet50", cifar)
    seconds = pass_seconds((50, 50), 100, rate)
    assert runtime_minutes((50, 50), 100, rate, attempt=2) == 2 * int(10 + 2 * seconds / 60)


def test_gpu_estimate_is_faster_than_the_cpu_one_and_a_backward_costs_two_forwards():
    g, c = gpu_rate("resnet50", 224), cpu_rate("resnet50", 224)
    assert c["fwd_per_s"] == pytest.approx(8.0)  # 0.125 s per pass (heatcheck.costs.seconds_per_pass)
    assert pass_seconds((0, 10), 1, g) == pytest.approx(2 * pass_seconds((10, 0), 1, g))
    assert pass_seconds((10, 10), 100, g) < pass_seconds((10, 10), 100, c) / 100


def test_the_first_papers_study_is_submitted_as_at_most_760_jobs():
    config = study("coherency_full.yaml")
    jobs = slurm_jobs(config)
    rules = [j["rule"] for j in jobs]
    # 2 models x (6 explainers x 50 shards + 3 metrics with passes x 8 scored maps x 50 shards),
    # the data and the 2 models; the pointing game (no model pass) runs on the login node, in one
    # job per (model, scored maps): its table's (2 x 8, not 2 x 8 x 50 shard jobs)
    assert rules.count("compute_saliency") == 2 * 6 * 50 and rules.count("score_metric") == 2 * 3 * 8 * 50
    # the cost report's jobs: 600 saliency + 2,400 score shards + 16 pointing-game tables
    assert len(jobs) == 3003 and sum(r["jobs"] for r in study_passes(config)) == 600 + 2400 + 16
    assert submissions(jobs, {"groups": {}, "components": {}})["submitted"] == 3003
    profile = load_profile()
    n = profile["components"]["shards_{dataset}_{model}_{explainer}"]
    grouped = submissions(jobs, profile)
    # per model: a component per explainer shard (saliency + its 3 scores); the blurred copies'
    # scores are components of their own (blur_saliency, which makes them, is local)
    assert grouped["groups"]["shards_imagenet_vgg16_rise"] == (50, math.ceil(50 / n))
    assert grouped["groups"]["shards_imagenet_vgg16_smoothgrad+blur"] == (150, math.ceil(150 / n))
    assert grouped["submitted"] == 3 + 2 * (6 * math.ceil(50 / n) + 2 * math.ceil(150 / n))
    assert grouped["submitted"] <= 760


def test_zero_pass_explainers_and_metrics_send_nothing_to_slurm():
    config = study("coherency_full.yaml", explainers={"random": None, "gradcam": None},
                   metrics={"pointing_game": {}, "deletion": {}})
    config["explainers"] = {k: v for k, v in config["explainers"].items() if k in ("random", "gradcam")}
    config["metrics"] = {k: v for k, v in config["metrics"].items() if k in ("pointing_game", "deletion")}
    jobs = slurm_jobs(config)
    assert {j["wildcards"]["explainer"] for j in jobs if j["rule"] == "compute_saliency"} == {"gradcam"}
    assert {j["wildcards"]["metric"] for j in jobs if j["rule"] == "score_metric"} == {"deletion"}
    # the random maps' deletion shards are scored on SLURM, each a component of its own
    after = [j["after"] for j in jobs if j["rule"] == "score_metric" and j["wildcards"]["explainer"] == "random"]
    assert after and set(after) == {None}


def test_profile_forms_and_a_group_naming_a_missing_wildcard(tmp_path):
    (tmp_path / "config.yaml").write_text('groups: ["compute_saliency=g_{model}", "compute_shapley=s_{explainer}"]\n'
                                          'group-components: ["g_{model}=3"]\n')
    profile = load_profile(tmp_path)
    assert profile["groups"] == {"compute_saliency": "g_{model}", "compute_shapley": "s_{explainer}"}
    assert profile["components"] == {"g_{model}": 3}
    config = check_config(load_study([str(ROOT / "configs" / "objectiveness_full.yaml")], {}))
    with pytest.raises(ValueError, match=r"config.yaml: group 's_\{explainer\}' of rule compute_shapley names "
                                         r"wildcard 'explainer'"):
        submissions(slurm_jobs(config), profile)
    assert load_profile(PROFILE)["groups"]["score_metric"] == load_profile(PROFILE)["groups"]["compute_saliency"]


def test_startup_figures_are_the_benchmarks_rounded_up():
    measured = json.loads((ROOT / "benchmarks" / "results" / "startup.json").read_text())
    assert STARTUP["submission"] == math.ceil(measured["submission_s"] * 10) / 10
    assert STARTUP["job"] == {a: math.ceil(s * 10) / 10 for a, s in measured["job_s"].items()}
    jobs = [{"rule": "prepare_dataset", "wildcards": {"dataset": "d"}, "after": None},
            {"rule": "compute_saliency", "wildcards": {"dataset": "d", "model": "m"}, "after": None}]
    assert startup_seconds(jobs, 1, {("d", "m"): "vgg16"}) == pytest.approx(
        STARTUP["submission"] + STARTUP["job"]["lenet"] + STARTUP["job"]["vgg16"])


def test_cost_report_states_jobs_submissions_startup_and_gpu_hours(capsys):
    from heatcheck.cost_report import main

    main([str(ROOT / "configs" / "coherency_full.yaml"), "--summary"])
    out = capsys.readouterr().out.split("## On a SLURM cluster")[1]
    plain = next(line for line in out.splitlines() if line.startswith("| one SLURM job per Snakemake job"))
    grouped = next(line for line in out.splitlines() if line.startswith("| grouped ("))
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in (plain, grouped)]
    assert [c[1:4] for c in cells] == [["3,016", "3,003", "3,003"], ["3,016", "3,003", "243"]]
    assert float(cells[1][4]) < float(cells[0][4])  # start-up hours
    assert cells[0][6] == cells[1][6] != "?"  # GPU hours, the same work either way
    assert "1,261 img/s FP32" in out and "NVIDIA DeepLearningExamples" in out and "approximation" in out
