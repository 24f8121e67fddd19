"""Throughput of the perturbation explainers (occlusion, RISE, LIME) against the raw model.

For LeNet and CifarResNet(depth=8) at 32 px (random weights: throughput does not depend on them)
this measures, for each method with its default parameters:

* images/s and forward passes/s of ``heatcheck``'s explainer, called the way
  ``heatcheck.saliency.compute_shard`` calls it (``batch_size // passes_per_image`` images per
  call, at least one);
* the raw batched forward throughput (inference mode, batch 256) on the same perturbed inputs
  (recorded from the explainer), measured in the same run, and the ratio of the two;
* where captum implements the method (Occlusion, Lime), captum's throughput used the same way
  (batched through ``perturbations_per_eval``), its ratio to the raw forward and to ours.

The machine may be shared, so raw, ours and captum run interleaved for several rounds; ratios
are the median over rounds of the ratio within a round (wall clock, and process CPU time, which
other jobs disturb less), throughputs the best round. Results go to ``benchmarks/results/perturbation.json``.

With 2 threads, a busy machine also inflates CPU time (threads wait for each other); with
``--threads 2 1`` a second pass at one thread gives CPU-time ratios that measure the work done
whatever else runs.

Usage: ``python benchmarks/bench_perturbation.py [--rounds 5] [--quick] [--threads 2 1] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from captum._utils.models.linear_model import SkLearnRidge  # noqa: E402
from captum.attr import Lime as CaptumLime, Occlusion as CaptumOcclusion  # noqa: E402
from captum.attr._core.lime import get_exp_kernel_similarity_function  # noqa: E402

from heatcheck.explainers import EXPLAINERS  # noqa: E402
from heatcheck.explainers.perturbation import LIME_KERNEL_WIDTH, slic_segments  # noqa: E402
from heatcheck.models.cifar import CifarResNet, LeNet  # noqa: E402

SIZE, BATCH, CLASSES = 32, 256, 10


class Recorder(torch.nn.Module):
    """The model, keeping a copy of every input batch while ``recording``."""

    def __init__(self, model):
        super().__init__()
        self.model, self.recording, self.inputs = model, False, []

    def forward(self, x):
        if self.recording:
            self.inputs.append(x.detach().clone())
        return self.model(x)


def raw_forward(model, inputs: torch.Tensor):
    """Forward ``inputs`` in batches of BATCH, in inference mode: the reference.

    The inputs are the perturbed images the explainer itself evaluated: a CPU forward pass is
    faster on inputs with many zeros (LeNet: about 1.5x on all-zero images than on Gaussian
    noise), so noise inputs would flatter the methods.
    """
    def run():
        with torch.inference_mode():
            for start in range(0, len(inputs), BATCH):
                model(inputs[start:start + BATCH])
    return run


def ours(expl, x, t):
    """The explainer called as compute_shard calls it (:meth:`Explainer.images_per_call`)."""
    per = expl.images_per_call(x.shape[-1], len(x))
    index = torch.arange(len(x))

    def run():
        for i in range(0, len(x), per):
            expl.attribute(x[i:i + per], t[i:i + per], index=index[i:i + per])
    return run


def captum_occlusion(model, x, t, window, stride, per=None):
    """captum's Occlusion, ``per`` images per call (default: as compute_shard would split them),
    with ``perturbations_per_eval`` filling forward passes of about BATCH inputs."""
    occ = CaptumOcclusion(lambda z: model(z).softmax(1))
    windows = (math.ceil((SIZE - window) / stride) + 1) ** 2
    per = per or max(1, min(len(x), BATCH // (windows + 1)))

    def run():
        with torch.no_grad():
            for i in range(0, len(x), per):
                occ.attribute(x[i:i + per], sliding_window_shapes=(3, window, window), strides=(3, stride, stride),
                              baselines=0, target=t[i:i + per], perturbations_per_eval=max(1, BATCH // per))
    return run


def captum_lime(model, x, t, samples, segments, compactness):
    # the same superpixels as ours, LIME's kernel width and ridge surrogate; captum explains one
    # image at a time, with perturbations_per_eval samples per forward pass
    lime = CaptumLime(lambda z: model(z).softmax(1), interpretable_model=SkLearnRidge(alpha=1.0),
                      similarity_func=get_exp_kernel_similarity_function("cosine", LIME_KERNEL_WIDTH))
    masks = [torch.from_numpy(slic_segments(img, segments, compactness)) for img in x]

    def run():
        with torch.no_grad():
            for i in range(len(x)):
                lime.attribute(x[i:i + 1], target=t[i:i + 1], feature_mask=masks[i].expand(1, 3, SIZE, SIZE),
                               n_samples=samples, perturbations_per_eval=BATCH)
    return run


DEFAULTS = {"occlusion": {"window": None, "stride": None},
            "rise": {"masks": 5000, "grid": 7, "p": 0.1},
            "lime": {"samples": 1000, "segments": 50, "compactness": 10.0}}


def measure(method: str, params: dict, arch: str, model, n: int, rounds: int) -> dict:
    """One row: ours, raw forward on the same inputs and captum (where it has the method)."""
    recorder = Recorder(model)
    expl = EXPLAINERS.get(method)(recorder, batch_size=BATCH, seed=0, **params)
    x = torch.randn(n, 3, SIZE, SIZE)
    t = torch.randint(0, CLASSES, (n,))
    passes = n * expl.passes_per_image(SIZE)
    recorder.recording = True
    ours(expl, x, t)()  # records the perturbed inputs (and fills RISE's mask cache, as in a shard)
    recorder.recording = False
    inputs = torch.cat(recorder.inputs)
    recorder.inputs = []
    assert len(inputs) == passes, (method, len(inputs), passes)
    runs = {"raw": raw_forward(model, inputs), "ours": ours(expl, x, t)}
    if method == "occlusion":
        w = expl._geometry(SIZE, SIZE)
        runs["captum"] = captum_occlusion(model, x, t, *w)
        # all images in one call, fewer windows per forward: captum's other batched use
        runs["captum_all_images"] = captum_occlusion(model, x, t, *w, per=n)
    elif method == "lime":
        runs["captum"] = captum_lime(model, x, t, params["samples"], params["segments"], params["compactness"])
    for fn in runs.values():  # warm-up
        fn()
    wall = {k: [] for k in runs}
    cpu = {k: [] for k in runs}
    for r in range(rounds):
        # rotate the order so that no variant always runs right after another
        order = list(runs)[r % len(runs):] + list(runs)[:r % len(runs)]
        for k in order:
            w0, c0 = time.perf_counter(), time.process_time()
            runs[k]()
            wall[k].append(time.perf_counter() - w0)
            cpu[k].append(time.process_time() - c0)
    row = {"model": arch, "method": method, "params": params, "images": n, "passes_per_image": passes / n,
           "raw": {"passes_per_s": passes / min(wall["raw"])}}
    for k in runs:
        if k != "raw":
            row[k] = {"images_per_s": n / min(wall[k]), "passes_per_s": passes / min(wall[k]),
                      # paired within each round, median over rounds: robust to other jobs
                      "ratio_to_raw": statistics.median(a / b for a, b in zip(wall["raw"], wall[k])),
                      "cpu_ratio_to_raw": statistics.median(a / b for a, b in zip(cpu["raw"], cpu[k]))}
    for k in runs:
        if k.startswith("captum"):
            row["ours"]["ratio_to_" + k] = statistics.median(a / b for a, b in zip(wall[k], wall["ours"]))
    return row


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="fewer images per measurement")
    ap.add_argument("--threads", type=int, nargs="+", default=[2],
                    help="torch thread counts to measure with, in turn (1 makes the CPU-time ratios "
                         "immune to other jobs on the machine)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "perturbation.json")
    args = ap.parse_args(argv)
    warnings_off()
    # short measurements, several rounds: robust to other jobs sharing the machine
    n_images = {"occlusion": 7, "rise": 1, "lime": 2} if args.quick else {"occlusion": 14, "rise": 1, "lime": 4}
    runs = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"-- {threads} thread(s)", flush=True)
        results = []
        for arch, build in [("lenet", lambda: LeNet(CLASSES, SIZE)), ("resnet8", lambda: CifarResNet(8, CLASSES, SIZE))]:
            torch.manual_seed(0)
            model = build().eval()
            for p in model.parameters():
                p.requires_grad_(False)
            for method, params in DEFAULTS.items():
                row = measure(method, params, arch, model, n_images[method], args.rounds)
                results.append(row)
                line = (f"{arch:8s} {method:10s} raw {row['raw']['passes_per_s']:8.0f} passes/s | ours "
                        f"{row['ours']['images_per_s']:7.1f} img/s {row['ours']['passes_per_s']:8.0f} passes/s")
                for k in row:
                    if k == "ours" or k.startswith("captum"):
                        line += f" | {k}/raw {row[k]['ratio_to_raw']:.2f} (cpu {row[k]['cpu_ratio_to_raw']:.2f})"
                print(line, flush=True)
        runs.append({"threads": threads, "load_average_at_end": os.getloadavg(), "results": results})
    out = {"size": SIZE, "batch_size": BATCH, "rounds": args.rounds, "torch": torch.__version__,
           "platform": platform.platform(), "cpus": os.cpu_count(), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return out


def warnings_off():
    # captum warns once per call about batched Lime; the benchmark knows
    import warnings
    warnings.filterwarnings("ignore")


if __name__ == "__main__":
    main()
