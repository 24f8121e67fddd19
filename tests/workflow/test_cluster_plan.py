"""What the SLURM profile would submit, read from dry runs (seconds; no cluster needed): a study of
a 64-px shapes set and a CIFAR-10 set (its kind's 32 px), datasets prepared, shard jobs planned.

- every job that asks for a GPU makes model passes; the explainers and metrics that make none
  (random, masking robustness, mutual verification) ask for none and run locally;
- the group jobs are the ones ``heatcheck.cluster`` counts for the cost report;
- the runtime requests come from the GPU estimate (the rules' ``gpu=1``) or, with ``gpu: 0``, from
  the CPU estimate, at each dataset's side: 4 times the pass time at 64 px as at 32 px.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, run_snakemake
from test_data_real import write_cifar

from heatcheck.cluster import PROFILE, cpu_rate, gpu_rate, load_profile, runtime_minutes, slurm_jobs, submissions
from heatcheck.config import check_config, load_study

SHARD = 32
STUDY = {
    "seed": 0, "shard_size": SHARD, "batch_size": 64,
    "datasets": {"shapes": {"kind": "shapes", "size": 64, "n_train": 24, "n_eval": SHARD, "models": ["net"]},
                 "cifar10": {"kind": "cifar10", "root": None, "models": ["net"]}},
    "models": {"net": {"arch": "resnet50", "epochs": 1, "min_gain": 0.0}},
    "explainers": {"grad": None, "random": None, "rise": {"masks": 5000}},
    "metrics": {"average_drop": {"percentiles": [50]}, "masking_robustness": None, "mutual_verification": None},
    "analysis": {"blur": {"explainers": []}},
    # the report card's reruns: their saliency shards join their score shards' groups
    "trust": {"randomization": {"explainers": ["grad"], "layers": 1},
              "noise": {"explainers": ["grad", "rise"], "draws": 1}},
}
PASS_RULES = {"train_model", "compute_saliency", "score_metric", "randomized_saliency", "noisy_saliency", "noisy_inputs"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan")
    write_cifar(d / "cifar-10-batches-py", n_test=SHARD)
    study = {**STUDY, "datasets": {**STUDY["datasets"], "cifar10": {**STUDY["datasets"]["cifar10"], "root": str(d)}}}
    path = d / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    run_snakemake(d, path, "results/shapes/images.json", "results/cifar10/images.json")
    return d, path


def dry_run(workdir: Path, study: Path, *args: str) -> str:
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", str(study),
           "--workflow-profile", str(PROFILE.parent), "--nolock", "-n", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def plan(prepared) -> str:
    """The dry run of the study with the SLURM profile as it is."""
    return dry_run(*prepared)


def planned(out: str) -> list[dict]:
    """Every job of a dry run (grouped ones indented under their group): rule, wildcards, resources."""
    jobs = []
    for line in out.splitlines():
        if m := re.fullmatch(r"\s*(?:rule|checkpoint) (\w+):", line):
            jobs.append({"rule": m.group(1), "wildcards": {}, "resources": {}})
        elif jobs and (m := re.fullmatch(r"\s*(wildcards|resources): (.*)", line)):
            jobs[-1][m.group(1)] = dict(kv.split("=", 1) for kv in m.group(2).split(", "))
    return jobs


def test_work_without_model_passes_asks_for_no_gpu(plan):
    jobs = planned(plan)
    rules = Counter(j["rule"] for j in jobs)
    # what makes no pass is planned, as local rules: random maps (and their half-masked reruns),
    # masking robustness scores, mutual verification
    assert rules["compute_saliency_light"] == 2 * 2 and rules["score_table_light"] == 2 * 3
    assert rules["mutual_verification"] == 2
    for j in jobs:
        gpu = int(j["resources"].get("gpu", 0))
        rule, w = j["rule"], j["wildcards"]
        passes = rule in PASS_RULES and not (rule == "compute_saliency" and w["explainer"].startswith("random")
                                             or rule == "score_metric" and w["metric"] != "average_drop")
        assert gpu == (1 if passes else 0), j


def test_group_jobs_are_those_the_cost_report_counts(prepared, plan):
    headers = Counter(re.findall(r"Group job (\S+) \(jobs in lexicogr\. order\)", plan))
    config = check_config(load_study([str(prepared[1])], {}))
    predicted = submissions(slurm_jobs(config, {"cifar10": SHARD}), load_profile())["groups"]
    assert headers and dict(headers) == {g: n for g, (_, n) in predicted.items()}
    # one saliency shard and its average-drop shard per component: grad, rise, and their half-masked
    # reruns (scored by the local masking-robustness rule); random's average-drop shard alone
    assert predicted["shards_shapes_net_grad"] == (1, 1) and predicted["shards_cifar10_net_random"] == (1, 1)
    # a rerun's saliency shard and its score shard, one component (the noisy one after its noisy copy)
    assert predicted["shards_shapes_net_grad+randomized1"] == (1, 1) == predicted["shards_cifar10_net_rise+noisy0"]


def _rise_runtimes(out: str) -> dict:
    return {j["wildcards"]["dataset"]: int(j["resources"]["runtime"]) for j in planned(out)
            if j["rule"] == "compute_saliency" and j["wildcards"]["explainer"] == "rise"}


def test_runtime_from_the_gpu_or_cpu_estimate_at_each_kinds_side(prepared, plan):
    on_gpu = _rise_runtimes(plan)
    on_cpu = _rise_runtimes(dry_run(*prepared, "--set-resources", "compute_saliency:gpu=0"))
    sides = {"shapes": 64, "cifar10": 32}
    for d, side in sides.items():
        assert on_gpu[d] == runtime_minutes((5000, 0), SHARD, gpu_rate("resnet50", side))
        assert on_cpu[d] == runtime_minutes((5000, 0), SHARD, cpu_rate("resnet50", side)) > on_gpu[d]
    # CIFAR-10 at its own 32 px, not the 224 px of a fallback: 49 times less pass time
    assert on_cpu["cifar10"] - 10 <= (runtime_minutes((5000, 0), SHARD, cpu_rate("resnet50", 224)) - 10) / 49 + 1
    # 10 minutes + twice the pass time, truncated: the pass time at 64 px is 4 times that at 32 px
    a, b = on_cpu["cifar10"] - 10, on_cpu["shapes"] - 10
    assert 4 * a <= b <= 4 * (a + 1)
