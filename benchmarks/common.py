"""Shared pieces of the benchmarks: the default study's models and data, raw forward throughput."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from heatcheck.data import load_dataset
from heatcheck.models import build_model, normalize

RESULTS = Path(__file__).resolve().parent / "results"


def setup(threads: int = 2) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)


def shapes_batch(n: int, size: int = 32, seed: int = 0):
    """``n`` normalized eval images of the default ``shapes`` dataset and their labels."""
    d = load_dataset({"kind": "shapes", "size": size, "n_train": 6, "n_eval": n, "seed": seed,
                      "distractors": [1, 3], "clutter": 3})
    ev = d.splits["eval"]
    return normalize(torch.from_numpy(ev.images), d.mean, d.std), torch.from_numpy(ev.labels)


def default_models(size: int = 32, classes: int = 6) -> dict:
    """The default study's two architectures (random weights: throughput does not depend on them)."""
    torch.manual_seed(0)
    return {a: build_model(a, classes, size).eval() for a in ("lenet", "resnet8")}


def raw_throughput(model, size: int = 32, batch: int = 256, seconds: float = 3.0) -> float:
    """Images per second of plain batched inference (the physical limit of any method)."""
    x = torch.randn(batch, 3, size, size)
    with torch.inference_mode():
        model(x)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            model(x)
            n += batch
    return n / (time.perf_counter() - t0)


def timed(fn, repeat: int = 1):
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return out, (time.perf_counter() - t0) / repeat


def write(name: str, payload: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    payload = {"machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform(),
                           "torch": torch.__version__, "cuda": torch.cuda.is_available()},
               "date": time.strftime("%Y-%m-%d %H:%M"), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=float))
    print(json.dumps(payload, indent=1, default=float))
    return path


def corr(a, b) -> float:
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    return float(np.corrcoef(a, b)[0, 1])
