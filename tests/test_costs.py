"""Pass counting of the cost report, on a study small enough to count by hand."""

import json
from pathlib import Path

import pytest

from heatcheck.archs import ARCHS
from heatcheck.config import check_config
from heatcheck.cost_report import main, report
from heatcheck.costs import explainer_fb, job_mem_mb, metric_passes, study_passes

STUDY = {
    "shard_size": 4,
    "datasets": {"s": {"kind": "shapes", "size": 32, "n_eval": 10, "n_train": 100, "models": ["net"]}},
    "models": {"net": {"arch": "lenet", "epochs": 2}},
    "explainers": {"grad": None, "integrated_gradients": {"steps": 8}, "occlusion": {"window": 8, "stride": 8},
                   "rise": {"masks": 100}},
    "metrics": {"average_drop": {"percentiles": [50, 90]},
                "deletion": {"steps": 8, "baselines": ["mean", "uniform"], "uniform_seeds": 2,
                             "granularities": ["pixel"]},
                "shapley_bias": {"samples": 4, "cell": 8},
                "masking_robustness": {"explainers": ["grad"]},
                "unexplainable_features": {"taus": [0.1]}},
    "analysis": {"blur": {"explainers": []}},  # the sparsity study's extra maps: counted below
}

# by hand, 10 eval images, 3 shards of 4, 4 explainers (fwd, bwd per image):
#   training 2 epochs x 100 images (1, 1); grad (1, 1); IG 8 steps (8, 8); occlusion 8/8 on 32 px:
#   4 x 4 windows + the image = 17; RISE 100 masks; half-masked grad (4, 4); Shapley on 4 x 4
#   cells: 4 walks x 15 interior coalitions + empty + full = 62; feature scale 1;
#   average drop: original + real + 2 percentiles = 4 per map; deletion: (mean + 2 uniform
#   seeds) x pixel x 9 points = 27 per map; unexplainable features: 1 + 1 tau = 2 per map
EXPECTED = {  # (stage, item): (fwd total, bwd total, jobs)
    ("training", "2 epochs"): (200, 200, 1),
    ("saliency", "grad"): (10, 10, 3),
    ("saliency", "integrated_gradients"): (80, 80, 3),
    ("saliency", "occlusion"): (170, 0, 3),
    ("saliency", "rise"): (1000, 0, 3),
    ("masking reruns", "grad x4"): (40, 40, 3),
    ("shapley", "4 walks"): (620, 0, 3),
    ("feature scale", "alpha"): (10, 0, 1),
    ("metrics", "average_drop"): (160, 0, 12),
    ("metrics", "deletion"): (1080, 0, 12),
    ("metrics", "shapley_bias"): (0, 0, 4),  # no model pass: one job per scored maps (its table's)
    ("metrics", "masking_robustness"): (0, 0, 1),
    ("metrics", "unexplainable_features"): (80, 0, 12),
}


@pytest.fixture
def study():
    import copy

    return check_config(copy.deepcopy(STUDY))


def test_study_passes_counted_by_hand(study):
    rows = study_passes(study)
    got = {(r["stage"], r["item"]): (r["fwd_total"], r["bwd_total"], r["jobs"]) for r in rows}
    assert got == EXPECTED
    assert sum(v[0] for v in got.values()) == 3450 and sum(v[1] for v in got.values()) == 330
    # an override of the image counts (real data) scales the totals
    rows = study_passes(study, images=20, train_images=50)
    assert {(r["stage"], r["item"]): r["fwd_total"] for r in rows}[("saliency", "rise")] == 2000
    assert {(r["stage"], r["item"]): r["fwd_total"] for r in rows}[("training", "2 epochs")] == 100


def test_hours_from_throughput(study):
    rows = study_passes(study)
    text = report(rows, {("lenet", None): {"arch": "lenet", "side": "-", "fwd_per_s": 100.0, "bwd_per_s": 50.0,
                                           "source": "given"}})
    # 3450 forwards at 100/s + 330 backwards at 50/s = 41.1 s
    assert f"| all |  | 3,450 | 330 | 61 | {41.1 / 3600:.3g} |" in text


def test_unknown_image_count_is_shown_not_guessed(capsys, tmp_path):
    import yaml

    cfg = {"datasets": {"voc": {"kind": "voc", "root": "/data/VOC2012", "models": ["v"]}},
           "models": {"v": {"arch": "vgg16", "epochs": 1}}, "explainers": {"grad": None}}
    path = tmp_path / "voc.yaml"
    path.write_text(yaml.safe_dump(cfg))
    main([str(path), "--throughput", "vgg16=10"])
    out = capsys.readouterr()
    assert "| voc | v | saliency | grad | 1 | 1 | ? | ? | ? | ? | ? |" in out.out and "--images" in out.err
    main([str(path), "--throughput", "vgg16=10", "--images", "100", "--train-images", "1000"])
    # 100 x (1/10 + 1/5) s of grad + 1000 x (1/10 + 1/5) s of training = 330 s
    assert f"| all |  | 1,100 | 1,100 | 5 | {330 / 3600:.3g} |" in capsys.readouterr().out


def test_blurred_copies_are_scored_maps_too(study):
    """The sparsity study scores {explainer}+blur with its metrics (average_drop, deletion here):
    grad and IG blurred add 2 maps per image to those metrics, none to the others."""
    import copy

    cfg = copy.deepcopy(STUDY)
    cfg["analysis"] = {"blur": {"explainers": ["grad", "integrated_gradients"]}}
    rows = {(r["stage"], r["item"]): r for r in study_passes(check_config(cfg))}
    assert rows[("metrics", "average_drop")]["fwd_total"] == 4 * 10 * 6
    assert rows[("metrics", "deletion")]["fwd_total"] == 27 * 10 * 6
    assert rows[("metrics", "deletion")]["jobs"] == 3 * 6
    assert rows[("metrics", "unexplainable_features")]["fwd_total"] == 2 * 10 * 4


# --- memory a shard job asks for --------------------------------------------------------------------

def test_job_memory_grows_with_batch_size_side_and_backward_up_to_the_shards_inputs():
    sizes = [job_mem_mb("resnet8", 32, b) for b in (100, 1000, 10_000, 100_000)]
    assert sizes == sorted(sizes) and sizes[-1] > 10 * sizes[0]
    assert job_mem_mb("resnet8", 64, 1000) > job_mem_mb("resnet8", 32, 1000)
    assert job_mem_mb("resnet8", 32, 1000, passes=(1, 1)) > job_mem_mb("resnet8", 32, 1000)
    assert job_mem_mb("vgg16", 224, 64) > job_mem_mb("lenet", 224, 64)
    # a batch larger than the shard's inputs (32 images x 100 passes) holds no more
    assert job_mem_mb("resnet8", 32, 100_000, passes=(100, 0), images=32) == job_mem_mb("resnet8", 32, 3200)
    # the case of issue 11: a RISE shard (5000 masks) at batch 100,000 peaked at 5.9 GB
    assert job_mem_mb("lenet", 32, 100_000, passes=(5000, 0), images=32) > 5900


def test_job_memory_covers_every_measured_peak():
    """The estimate is at least the peak measured by benchmarks/bench_memory.py, for the real jobs
    and for every architecture's bare forward and backward passes."""
    measured = json.loads((Path(__file__).parents[1] / "benchmarks/results/memory.json").read_text())
    assert {m["arch"] for m in measured["models"]} == set(ARCHS)
    for m in measured["models"]:
        for batch, peak in zip(m["batch_sizes"], m["peak_mb"]):
            # the bare model: batch inputs forward, or forward and backward (a job's batch of
            # twice as many passes)
            grad = int(m["backward"])
            assert job_mem_mb(m["arch"], m["side"], batch * (1 + grad), (1, grad)) >= peak, m
    for j in measured["jobs"]:
        if j["job"] == "deletion":
            passes = (metric_passes("deletion", j["params"], j["side"]), 0)
        else:
            passes = explainer_fb(j["job"], j["params"], j["side"])
        for batch, peak in zip(j["batch_sizes"], j["peak_mb"]):
            assert job_mem_mb(j["arch"], j["side"], batch, passes, 32) >= peak, j


def test_sides_and_image_counts_come_from_the_kinds_facts(tmp_path):
    import numpy as np

    from heatcheck.costs import dataset_images, image_side

    np.savez(tmp_path / "d.npz", images=np.zeros((7, 3, 40, 40), np.uint8), labels=np.zeros(7, int))
    cfg = check_config({
        "datasets": {"c": {"kind": "cifar10", "root": "/data/c", "models": ["m"]},
                     "p": {"kind": "photos", "photos": ["chelsea", "coffee"], "models": ["e"]},
                     "a": {"kind": "arrays", "path": str(tmp_path / "d.npz"), "models": ["e"]},
                     "f": {"kind": "folder", "root": "/data/f", "size": 96, "models": ["e"]}},
        "models": {"m": {"arch": "lenet"}, "e": {"factory": "pkg.mod:build"}}, "explainers": {"grad": None}})
    d = cfg["datasets"]
    assert [image_side(d[k]) for k in "cpaf"] == [32, 224, 40, 96]
    assert dataset_images(d["c"], 100) == (100, 50000) and dataset_images(d["p"]) == (2, 0)
    assert dataset_images(d["a"]) == (7, 0) and dataset_images(d["f"]) == (None, 0)
    rows = study_passes(cfg)
    assert {r["arch"] for r in rows if r["model"] == "e"} == {"factory:pkg.mod:build"}


def test_a_model_of_no_measured_architecture_asks_for_the_most_any_measured_one_needs():
    for passes in ((1, 0), (2, 1)):
        loaded = job_mem_mb(None, 224, 64, passes)
        assert loaded == job_mem_mb("factory:pkg.mod:build", 224, 64, passes)
        assert all(loaded >= job_mem_mb(a, 224, 64, passes) for a in ARCHS)


def test_the_report_cards_reruns_are_counted(study):
    """Randomized reruns of grad at 2 steps and noisy reruns of grad and IG on 2 copies: their
    explainer passes once per step/copy, the noisy copies' 2 forwards per image and copy, and every
    metric scoring them (masking robustness none; Shapley bias the randomized maps only)."""
    import copy

    cfg = copy.deepcopy(STUDY)
    cfg["trust"] = {"randomization": {"explainers": ["grad"], "layers": 2},
                    "noise": {"explainers": ["grad", "integrated_gradients"], "draws": 2}}
    rows = {(r["stage"], r["item"]): r for r in study_passes(check_config(cfg))}
    assert (rows[("randomized reruns", "grad+randomized2")]["fwd_total"],
            rows[("randomized reruns", "grad+randomized2")]["bwd_total"]) == (10, 10)
    assert rows[("noisy reruns", "integrated_gradients+noisy1")]["fwd_total"] == 80
    assert (rows[("noisy inputs", "2 copies")]["fwd_total"], rows[("noisy inputs", "2 copies")]["jobs"]) == (40, 6)
    # average drop: 4 passes per map of the 4 originals; the 2 randomized + 4 noisy maps per image
    # are scored at its primary configuration only (real: the image and the map's product, 2 passes)
    assert rows[("metrics", "average_drop")]["fwd_total"] == 4 * 10 * 4
    reruns = rows[("metrics", "average_drop (report card reruns)")]
    assert (reruns["fwd"], reruns["fwd_total"], reruns["jobs"]) == (2, 2 * 10 * 6, 3 * 6)
    # deletion's primary mean+pixel: 9 of its 27 passes per map
    assert rows[("metrics", "deletion (report card reruns)")]["fwd_total"] == 9 * 10 * 6
    assert rows[("metrics", "shapley_bias (report card reruns)")]["jobs"] == 2  # its tables' jobs
    assert ("metrics", "masking_robustness (report card reruns)") not in rows
    # without any explainer named the check is off: nothing added
    stages = {r["stage"] for r in study_passes(check_config(copy.deepcopy(STUDY)))}
    assert not stages & {"randomized reruns", "noisy reruns", "noisy inputs"}


def test_shapley_passes_are_the_walks_of_the_sampler():
    from heatcheck.costs import shapley_passes
    from heatcheck.shapley import walk_passes

    assert shapley_passes({"samples": 10, "cell": 4}, 32) == walk_passes(64, 10)
