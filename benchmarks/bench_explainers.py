"""Throughput of every explainer on the default study's models, as a fraction of the model's
raw batched forward throughput measured in the same run, and against captum's implementation
where captum has one.

    .venv/bin/python benchmarks/bench_explainers.py [n_images]

Writes benchmarks/results/explainers.json. "forward passes" counts a backward pass as one
forward (``passes_per_image``); for perturbation methods it is the exact number of forwards.
"""

from __future__ import annotations

import sys
import warnings

import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Occlusion, Saliency

from common import corr, default_models, raw_throughput, setup, shapes_batch, timed, write
from heatcheck.explainers import EXPLAINERS, make_explainer

BATCH = 256
# the default study's explainer settings (config.yaml)
PARAMS = {
    "grad": {}, "gradient_x_input": {}, "guided_backprop": {},
    "integrated_gradients": {"steps": 32, "baseline": "zero"}, "smoothgrad": {"samples": 16, "noise": 0.1},
    "gradcam": {"layer": None}, "cam": {}, "lrp": {"rule": "epsilon", "epsilon": 1.0},
    "deepshap": {"background_size": 32}, "lime": {"samples": 500, "segments": 30, "compactness": 10.0},
    "occlusion": {"window": 4, "stride": 2}, "rise": {"masks": 2000, "grid": 7, "p": 0.1},
    "meaningful_perturbation": {"steps": 150, "lr": 0.1, "l1": 0.05, "tv": 0.2, "blur_sigma": None},
    "random": {}, "edge": {},
}


def captum_peer(name, model, x, y):
    """The same method through captum's public API (None where captum has no such method)."""
    if name == "smoothgrad":
        nt = NoiseTunnel(Saliency(model))
        return lambda: nt.attribute(x, target=y, nt_type="smoothgrad", nt_samples=16, stdevs=0.1,
                                    nt_samples_batch_size=BATCH, abs=False)
    if name == "integrated_gradients":
        ig = IntegratedGradients(model)
        return lambda: ig.attribute(x, baselines=x * 0, target=y, n_steps=32, internal_batch_size=BATCH)
    if name == "occlusion":
        occ = Occlusion(lambda z: model(z).softmax(1))
        return lambda: occ.attribute(x, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2), baselines=0,
                                     target=y, perturbations_per_eval=64)
    return None


def main():
    setup(2)
    warnings.filterwarnings("ignore")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    x, y = shapes_batch(n)
    out = {"n_images": n, "batch_size": BATCH, "image_side": 32, "params": PARAMS, "models": {}}
    for arch, model in default_models().items():
        raw = raw_throughput(model, batch=BATCH)
        res = {"raw_forward_images_per_s": raw, "explainers": {}}
        bg = shapes_batch(64, seed=1)[0]
        for name in EXPLAINERS.names():
            if name == "cam" and arch == "lenet":
                continue
            e = make_explainer(name, model, PARAMS[name], batch_size=BATCH, background=bg,
                               mean=[0.5] * 3, std=[0.25] * 3)
            maps, sec = timed(lambda: e.attribute(x, y, index=torch.arange(n)).detach())
            passes = e.passes_per_image(x.shape[-1]) * n
            r = {"seconds": sec, "images_per_s": n / sec, "forward_passes_per_image": e.passes_per_image(x.shape[-1]),
                 "forward_per_s": passes / sec, "ratio_to_raw": passes / sec / raw}
            peer = captum_peer(name, model, x, y)
            if peer is not None:
                ref, psec = timed(peer)
                r["captum_seconds"] = psec
                r["speed_ratio_vs_captum"] = psec / sec
                ref = ref.detach().sum(1) if name != "occlusion" else ref.detach().sum(1) / 3
                r["correlation_with_captum"] = corr(maps, ref)
            res["explainers"][name] = r
            print(arch, name, {k: round(v, 3) for k, v in r.items() if isinstance(v, float)}, flush=True)
        out["models"][arch] = res
    write("explainers", out)


if __name__ == "__main__":
    main()
