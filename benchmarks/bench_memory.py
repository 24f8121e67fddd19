"""Peak memory of shard jobs against their batch size: the data behind ``heatcheck.costs.job_mem_mb``.

Each measurement runs in a fresh Python process and reports that process's peak resident set
(``ru_maxrss``), so it includes what a Snakemake job pays: the interpreter, torch, the store,
the model. Two kinds:

* ``job``: the real job functions, ``compute_shard`` (RISE: forward passes only;
  integrated gradients: forward and backward) and ``score_shard`` (deletion) on a 32-image shard
  of 32-px ``shapes`` images, for LeNet and ResNet-8, at several ``batch_size`` values;
* ``model``: a bare batched forward (inference mode) and forward + input gradient of each
  torchvision architecture at 224 px with random weights, at two batch sizes.

A straight line through the peaks of one (job, model) over the batch sizes gives the fixed part
(the intercept) and the bytes per input (the slope), reported as a multiple of one input's
size (C x side^2 x 4 bytes). Results go to ``benchmarks/results/memory.json``.

Usage: ``python benchmarks/bench_memory.py [--quick] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
#: parameters and batch sizes per job, each batch at most what a 32-image shard fills (images x
#: passes per image: RISE with 1000 masks 1000 forwards, integrated gradients 50 forwards + 50
#: backwards, deletion 1414 forwards)
JOBS = {"rise": ({"masks": 1000}, [1000, 5000, 10000]), "integrated_gradients": ({}, [200, 1000, 3000]),
        "deletion": ({}, [1000, 5000, 10000])}
#: batch sizes of the bare-model measurements, (forward, backward)
BARE_BATCHES = {"lenet": ([1000, 10000], [1000, 5000]), "cifar": ([200, 1000], [50, 200]),
                "torchvision": ([2, 8], [1, 4])}

CHILD = r'''
import json, resource, sys
import torch
kind, arch, side, batch, backward = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
params = json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}
torch.set_num_threads(2)
if kind == "model":
    from heatcheck.models import build_model
    model = build_model(arch, 1000 if side > 64 else 6, side).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(batch, 3, side, side)
    if backward:
        x.requires_grad_(True)
        model(x)[:, 0].sum().backward()
    else:
        with torch.inference_mode():
            model(x)
else:
    from heatcheck.saliency import compute_shard
    from heatcheck.scoring import score_shard
    work = sys.argv[6]
    if kind in ("rise", "integrated_gradients"):
        from heatcheck.shards import init_saliency
        init_saliency(f"{work}/images.zarr", f"{work}/{arch}.pt", f"{work}/{arch}-{kind}-{batch}.zarr", kind, params,
                      32, None)
        compute_shard(f"{work}/images.zarr", f"{work}/{arch}.pt", f"{work}/{arch}-{kind}-{batch}.zarr", kind, params, 0, 32,
                      batch_size=batch, report_path=f"{work}/{arch}-{kind}-{batch}.json")
    else:
        score_shard(f"{work}/images.zarr", f"{work}/{arch}.pt", f"{work}/{arch}-grad.json", kind, params, f"{work}/s.npz",
                    batch_size=batch)
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def measure(kind: str, arch: str, side: int, batch: int, backward: bool = False, work: str = "",
            params: dict | None = None) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, arch, str(side), str(batch), "1" if backward else "0",
                          work, json.dumps(params or {})], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def fit(batches, peaks, side: int) -> dict:
    """Intercept (MB) and slope as a multiple of one input's bytes."""
    slope, intercept = np.polyfit(np.asarray(batches, float), np.asarray(peaks, float), 1)
    return {"fixed_mb": round(float(intercept), 1),
            "input_factor": round(float(slope * 2**20 / (3 * side * side * 4)), 2)}


def tiny_study(work: Path) -> None:
    """A 32-image shapes store, LeNet and ResNet-8 checkpoints and a finished grad shard per model."""
    import torch

    from heatcheck.data import load_dataset
    from heatcheck.models import build_model, save_checkpoint
    from heatcheck.saliency import compute_shard
    from heatcheck.shards import init_saliency
    from heatcheck.store import write_dataset

    data = load_dataset({"kind": "shapes", "size": 32, "n_train": 6, "n_eval": 32, "seed": 0,
                         "distractors": [1, 3], "clutter": 3})
    write_dataset(work / "images.zarr", data, "shapes")
    for arch in ("lenet", "resnet8"):
        torch.manual_seed(0)
        save_checkpoint(work / f"{arch}.pt", build_model(arch, 6, 32).eval(), arch, 6, 32, data.mean, data.std)
        init_saliency(work / "images.zarr", work / f"{arch}.pt", work / f"{arch}-grad.zarr", "grad", {}, 32, None)
        compute_shard(work / "images.zarr", work / f"{arch}.pt", work / f"{arch}-grad.zarr", "grad", {}, 0, 32,
                      report_path=work / f"{arch}-grad.json")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer batch sizes and models")
    ap.add_argument("--only", choices=["jobs", "models"], help="one of the two kinds of measurement")
    ap.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    args = ap.parse_args()
    results = json.loads(args.out.read_text()) if args.only and args.out.exists() else {}
    if args.only != "models":
        results["jobs"] = []
        with tempfile.TemporaryDirectory() as tmp:
            tiny_study(Path(tmp))
            for arch in (("lenet",) if args.quick else ("lenet", "resnet8")):
                for kind, (params, batches) in JOBS.items():
                    batches = batches[::2] if args.quick else batches
                    peaks = [measure(kind, arch, 32, b, work=tmp, params=params) for b in batches]
                    results["jobs"].append({"job": kind, "params": params, "arch": arch, "side": 32,
                                            "batch_sizes": batches, "peak_mb": [round(p, 1) for p in peaks],
                                            **fit(batches, peaks, 32)})
                    print(results["jobs"][-1], flush=True)
    if args.only != "jobs":
        results["models"] = []
        # the bare model: its activations per input, without a method's buffers (batches small
        # enough that the deepest nets' backward passes stay within a few GB)
        cifar = ("lenet", "resnet8") if args.quick else ("lenet", "lenet_gap", "resnet8", "resnet20", "resnet32",
                                                          "resnet44", "resnet56")
        torchvision = ("resnet50",) if args.quick else ("alexnet", "resnet50", "resnet101", "vgg16", "vgg19")
        plan = [(a, 32, BARE_BATCHES["lenet" if a.startswith("lenet") else "cifar"]) for a in cifar]
        plan += [(a, 224, BARE_BATCHES["torchvision"]) for a in torchvision]
        for arch, side, batches in plan:
            for backward in (False, True):
                sizes = batches[backward]
                peaks = [measure("model", arch, side, b, backward) for b in sizes]
                results["models"].append({"arch": arch, "side": side, "backward": backward, "batch_sizes": sizes,
                                          "peak_mb": [round(p, 1) for p in peaks], **fit(sizes, peaks, side)})
                print(results["models"][-1], flush=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
