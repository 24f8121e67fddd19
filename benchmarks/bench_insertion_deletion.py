"""Insertion/deletion throughput against the model's raw forward throughput, and against
Quantus's PixelFlipping and RegionPerturbation at matched settings.

The forward passes are counted from the curves' own points (a 32-px ``pixel`` curve of 100 steps
has 95 points, a ``region`` one 101); the raw throughput is measured right before each timing,
with the same threads, because the machine is shared. ``default_study`` is the default study's
insertion job (25 steps, 2 uniform seeds) at one thread, as a ``score_metric`` job runs, with
the time of the pixel orders (schedules) given apart.

    .venv/bin/pip install -r envs/benchmarks.txt   # quantus, benchmark-only
    .venv/bin/python benchmarks/bench_insertion_deletion.py

Writes benchmarks/results/insertion_deletion.json.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch

from common import corr, default_models, raw_throughput, setup, shapes_batch, timed, write
from heatcheck.explainers import make_explainer
from heatcheck.metrics import make_metric
from heatcheck.metrics.ordering import pixel_schedule, region_schedule
from heatcheck.postprocess import relu_minmax

N_IMAGES = 32
BATCH = 256
REPEAT = 3


def ours(model, x, y, maps, metric, **params):
    m = make_metric(metric, params, batch_size=BATCH)
    return m(model, x, maps, y, index=torch.arange(len(x)))


def quantus_pixel_flipping(model, x, y, maps, features_in_step):
    import quantus

    q = quantus.PixelFlipping(features_in_step=features_in_step, perturb_baseline="black", abs=False,
                              normalise=True, return_auc_per_sample=False, disable_warnings=True)
    curves = q(model=model, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=maps.numpy()[:, None],
               device="cpu", channel_first=True, softmax=True, batch_size=len(x))
    return np.asarray(curves)


def quantus_region_perturbation(model, x, y, maps, patch, regions):
    import quantus

    q = quantus.RegionPerturbation(patch_size=patch, regions_evaluation=regions, order="morf",
                                   perturb_baseline="black", abs=False, normalise=True, disable_warnings=True)
    return np.asarray(q(model=model, x_batch=x.numpy(), y_batch=y.numpy(), a_batch=maps.numpy()[:, None],
                        device="cpu", channel_first=True, softmax=True, batch_size=len(x)))


def against_raw(model, x, y, maps, metric, params) -> dict:
    """Seconds and forward passes of one metric call on the batch, and the raw forward
    throughput measured beside it (best of ``REPEAT`` alternating timings of each)."""
    # alternate raw and metric timings, best of each: the machine is shared, and a burst of
    # load during one measurement should not decide the ratio
    ours(model, x, y, maps, metric, **params)  # warm-up
    raws, secs = [], []
    for _ in range(REPEAT):
        raws.append(raw_throughput(model, batch=BATCH, seconds=1.0))
        t0 = time.perf_counter()
        ours(model, x, y, maps, metric, **params)
        secs.append(time.perf_counter() - t0)
    raw, sec = max(raws), min(secs)
    # one forward per curve point: a configuration's points from its own schedule
    steps = params.get("steps", 100)
    points = {"pixel": pixel_schedule(maps[:1].numpy(), steps, params.get("step_pixels"))[1] + 1, "region": steps + 1}
    passes = len(x) * sum(points[c["granularity"]] for c in make_metric(metric, params).configurations())
    return {"seconds": sec, "forward_passes": passes, "forward_per_s": passes / sec,
            "raw_forward_images_per_s": raw, "ratio_to_raw": passes / sec / raw}


def main():
    setup(2)
    np.trapz = np.trapezoid  # quantus 0.6 calls np.trapz, removed in numpy 2.4 (benchmark only)
    warnings.filterwarnings("ignore")
    x, y = shapes_batch(N_IMAGES)
    results = {"n_images": N_IMAGES, "batch_size": BATCH, "image_side": 32, "models": {}}
    for arch, model in default_models().items():
        maps = make_explainer("smoothgrad", model, {"samples": 8, "noise": 0.1}).attribute(x, y).detach()
        r = {"raw_forward_images_per_s": raw_throughput(model, batch=BATCH)}
        # the default settings of the first paper: 3 baselines (5 uniform seeds) x 2 granularities, 100 steps
        for metric in ("insertion", "deletion"):
            r[f"{metric}_default"] = against_raw(model, x, y, maps, metric, {})
        torch.set_num_threads(1)
        study = {"steps": 25, "uniform_seeds": 2}
        r["default_study_insertion_1_thread"] = against_raw(model, x, y, maps, "insertion", study)
        pp = relu_minmax(maps.numpy())
        _, r["default_study_insertion_1_thread"]["schedule_seconds"] = timed(
            lambda: (pixel_schedule(pp, 25), region_schedule(pp, 3, 25)), repeat=5)
        torch.set_num_threads(2)
        # matched settings against Quantus PixelFlipping: deletion, zero (= mean) baseline, pixels
        step = 8  # pixels per step (Quantus needs a divisor of H*W): 128 steps
        ours_del = lambda: ours(model, x, y, maps, "deletion", baselines=["mean"], granularities=["pixel"],
                                step_pixels=step, relu=False)
        res, sec = timed(ours_del)
        q_curves, q_sec = timed(lambda: quantus_pixel_flipping(model, x, y, maps, step))
        # quantus' curve starts after the first step; ours at 0 (unperturbed): compare the common points
        ours_curves = res.curves[:, 0, 1:]
        n = min(ours_curves.shape[1], q_curves.shape[1])
        r["vs_quantus_pixel_flipping"] = {
            "ours_seconds": sec, "quantus_seconds": q_sec, "speedup": q_sec / sec,
            "max_abs_curve_difference": float(np.abs(ours_curves[:, :n] - q_curves[:, :n]).max()),
            "auc_correlation": corr(ours_curves[:, :n].mean(1), q_curves[:, :n].mean(1))}
        # region granularity against Quantus RegionPerturbation (AOPC-style, non-overlapping patches)
        ours_reg = lambda: ours(model, x, y, maps, "deletion", baselines=["mean"], granularities=["region"],
                                steps=100, region=3, relu=False)
        res, sec = timed(ours_reg)
        q_curves, q_sec = timed(lambda: quantus_region_perturbation(model, x, y, maps, 3, 100))
        r["vs_quantus_region_perturbation"] = {
            "ours_seconds": sec, "quantus_seconds": q_sec, "speedup": q_sec / sec,
            "note": "different region definitions (ours: 3x3 around the next most relevant pixel, "
                    "overlaps skipped; Quantus: fixed non-overlapping patches): agreement is a correlation",
            "area_correlation": corr(res.scores[:, 0], -np.asarray(q_curves).mean(1))}
        results["models"][arch] = r
    write("insertion_deletion", results)


if __name__ == "__main__":
    main()
