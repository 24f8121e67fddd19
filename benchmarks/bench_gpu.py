"""Throughput of every explainer and metric on a ResNet-50 at 224 px, as a ratio to the raw
batched forward pass, at each precision and memory layout.

Run on a machine with a GPU (unattended, under 10 minutes)::

    python benchmarks/bench_gpu.py                 # ResNet-50, 224 px, fp32/bf16/fp16 x NCHW/NHWC
    python benchmarks/bench_gpu.py --quick         # reduced mode for the CPU (what the tests run)

What it measures, in one run:

* ``raw``: images/s of plain batched inference (``torch.inference_mode``, batch ``--batch``) of
  a ResNet-50 with random weights (throughput does not depend on them), for every precision
  (``fp32``; ``bf16`` and ``fp16`` under autocast, as the pipeline's ``precision`` setting runs
  them) and layout (contiguous NCHW, ``channels_last``);
* for every registered explainer (its config defaults, from the schema, except the sample counts
  named in ``HEAVY``, reduced so that one image stays a few seconds of GPU time) and every metric
  that makes model passes: the model's forward images per second while the method runs (counted
  by a forward hook, so that what is counted is what was run, not what is declared), and the
  ratio of that to ``raw`` at the same precision and layout. A backward pass costs about two
  forwards and is not counted as a forward: the physical limit of a gradient method is about
  1/3 of ``raw``, of a forward-only method 1.

Results go to ``benchmarks/results/gpu.json`` (``--out`` to change), a line per method also to
stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from heatcheck.config import check_config  # noqa: E402
from heatcheck.costs import metric_passes  # noqa: E402
from heatcheck.explainers import EXPLAINERS, make_explainer  # noqa: E402
from heatcheck.metrics import METRICS, make_metric  # noqa: E402
from heatcheck.precision import PRECISIONS, full_precision, prepare_model  # noqa: E402

#: sample counts reduced from the papers' defaults (per image at 224 px, so that the whole
#: benchmark stays under 10 minutes on one GPU); throughput ratios do not depend on them once a
#: method fills its batches
HEAVY = {"rise": {"masks": 2000}, "lime": {"samples": 500}, "meaningful_perturbation": {"steps": 50},
         "deepshap": {"background_size": 16}}


class Counter:
    """Counts the images of every forward pass: a global hook on convolutions that read the
    3-channel input (ResNet-50 has one), which also sees the passes of explainers that run a
    traced or copied model (DeepSHAP, LRP's canonized copy)."""

    def __init__(self, model):
        self.n = 0
        self.handle = torch.nn.modules.module.register_module_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        if isinstance(module, torch.nn.Conv2d) and module.in_channels == 3:
            self.n += int(inputs[0].shape[0])


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def build(device, precision: str, channels_last: bool):
    from torchvision.models import resnet50

    torch.manual_seed(0)
    model = resnet50(weights=None, num_classes=1000)
    for m in model.modules():  # hook-based explainers need out-of-place ReLUs (as the pipeline's)
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    model = model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return prepare_model(model, precision=precision, channels_last=channels_last)


def raw_throughput(model, side: int, batch: int, device, seconds: float, rounds: int = 3) -> float:
    """Best of ``rounds`` timed windows of ``seconds`` each, after warm-up batches (first calls
    pay for kernel selection and allocation)."""
    x = torch.randn(batch, 3, side, side, device=device)
    best = 0.0
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        for _ in range(rounds):
            sync(device)
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                model(x)
                n += batch
            sync(device)
            best = max(best, n / (time.perf_counter() - t0))
    return best


def defaults(kind: str, name: str, side: int, overrides: dict) -> dict:
    """The method's parameters as the pipeline fills them (the schema's defaults)."""
    cfg = {"datasets": {"d": {"kind": "shapes", "size": side}}, "models": {"m": {"arch": "resnet50"}},
           kind: {name: dict(overrides)}}
    try:
        return check_config(cfg)[kind][name]
    except Exception:  # a method whose config checks need more than this (e.g. a dataset with boxes)
        return dict(overrides)


def timed_method(fn, model, device) -> tuple[float, int]:
    counter = Counter(model)
    sync(device)
    t0 = time.perf_counter()
    try:
        fn()
        sync(device)
    finally:
        counter.handle.remove()
    return time.perf_counter() - t0, counter.n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced mode for the CPU: 64 px, small counts")
    ap.add_argument("--side", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--images", type=int, default=None, help="images per method")
    ap.add_argument("--precisions", nargs="+", default=None, choices=list(PRECISIONS))
    ap.add_argument("--only", nargs="+", default=None, help="methods to run (default: all)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu.json")
    a = ap.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    side = a.side or (64 if a.quick else 224)
    batch = a.batch or (32 if a.quick else 256)
    n_img = a.images or (2 if a.quick else 4)
    precisions = a.precisions or (["fp32", "bf16"] if a.quick else list(PRECISIONS))
    raw_seconds = 1.0 if a.quick else 5.0
    scale = {"rise": {"masks": 64}, "lime": {"samples": 50}, "meaningful_perturbation": {"steps": 4},
             "deepshap": {"background_size": 2}, "integrated_gradients": {"steps": 8},
             "smoothgrad": {"samples": 4}} if a.quick else HEAVY
    metric_scale = ({"insertion": {"steps": 10, "uniform_seeds": 1}, "deletion": {"steps": 10, "uniform_seeds": 1},
                     "average_drop": {}} if a.quick else {})

    out = {"machine": {"platform": platform.platform(), "torch": torch.__version__, "device": str(device),
                       "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
                       "cpu_threads": torch.get_num_threads()},
           "date": time.strftime("%Y-%m-%d %H:%M"), "model": "torchvision resnet50 (random weights)",
           "side": side, "batch": batch, "images_per_method": n_img, "quick": a.quick, "raw": {}, "methods": {}}
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_img, 3, side, side, generator=g).to(device)
    targets = torch.arange(n_img, device=device) % 1000
    maps = torch.rand(n_img, side, side, generator=g).to(device)
    boxes = np.tile(np.array([[side // 4, side // 4, 3 * side // 4, 3 * side // 4]], np.int32), (n_img, 1, 1))
    t_start = time.perf_counter()
    for precision in precisions:
        for layout in ("contiguous", "channels_last"):
            key = f"{precision}/{layout}"
            model = build(device, precision, layout == "channels_last")
            raw = raw_throughput(model, side, batch, device, raw_seconds)
            out["raw"][key] = raw
            print(f"raw {key}: {raw:.1f} img/s", flush=True)
            if layout != "contiguous" and device.type == "cpu":
                continue  # on the CPU only the raw figure: NHWC gives nothing the methods would show
            rows = out["methods"].setdefault(key, {})
            for name in sorted(EXPLAINERS.names()):
                if a.only and name not in a.only:
                    continue
                cls = EXPLAINERS.get(name)
                if getattr(cls, "model_free", False):
                    continue
                params = defaults("explainers", name, side, scale.get(name, {}))
                kw = {}
                if getattr(cls, "needs_background", False):
                    kw["background"] = torch.randn(int(params.get("background_size", 8)), 3, side, side,
                                                   generator=g).to(device)
                try:
                    expl = make_explainer(name, model, params, batch_size=batch, seed=0, mean=[0.0] * 3,
                                          std=[1.0] * 3, **kw)
                    ctx = full_precision(model) if cls.full_precision else contextlib.nullcontext()
                    with ctx:
                        expl.attribute(x[:1], targets[:1])  # warm-up (hooks, kernel selection)
                        sec, n = timed_method(lambda: expl.attribute(x, targets), model, device)
                except Exception as exc:  # report, keep going: one method must not stop the rest
                    rows[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                    print(f"  {name}: error {rows[name]['error']}", flush=True)
                    continue
                rows[name] = {"kind": "explainer", "params": params, "fp32_only": cls.full_precision, "seconds": sec, "forward_images": n,
                              "forward_per_s": n / sec, "ratio_to_raw": n / sec / raw}
                print(f"  {name}: {n / sec:.1f} fwd img/s, ratio {n / sec / raw:.3f}", flush=True)
            for name in sorted(METRICS.names()):
                if a.only and name not in a.only:
                    continue
                params = defaults("metrics", name, side, metric_scale.get(name, {}))
                if not metric_passes(name, params, side):
                    continue  # no model pass (pointing game, relevance mass, ...): nothing to compare with the limit
                metric = make_metric(name, params, batch_size=batch, seed=0)
                kw = {}
                if name == "unexplainable_features":
                    kw["alpha"] = 1.0
                try:
                    with torch.no_grad():
                        metric(model, x[:1], maps[:1], targets[:1], index=torch.arange(1), boxes=boxes[:1], **kw)
                        sec, n = timed_method(lambda: metric(model, x, maps, targets, index=torch.arange(n_img),
                                                             boxes=boxes, **kw), model, device)
                except Exception as exc:
                    rows[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                    print(f"  {name}: error {rows[name]['error']}", flush=True)
                    continue
                rows[name] = {"kind": "metric", "params": params, "seconds": sec, "forward_images": n,
                              "forward_per_s": n / sec, "ratio_to_raw": n / sec / raw}
                print(f"  {name}: {n / sec:.1f} fwd img/s, ratio {n / sec / raw:.3f}", flush=True)
    out["seconds"] = time.perf_counter() - t_start
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {a.out} ({out['seconds']:.0f} s)")
    return out


if __name__ == "__main__":
    main()
