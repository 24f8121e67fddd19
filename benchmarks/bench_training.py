"""Training cost against accuracy: the data behind the default study's training settings.

Trains the default study's architectures on ``shapes`` train splits of several sizes with
several epoch counts (the package's own :func:`heatcheck.models.train.train_model`: SGD with
Nesterov momentum, one-cycle learning rate, flips and shifts), each in one torch thread (as the
default study trains its two models side by side on two cores), and reports the training
seconds and the accuracy on a held-out set larger than the study's eval images (``--holdout``,
default 512; the study's 32 eval images are its first 32), so that an accuracy of 95% is
resolved to about 1%.

Usage: ``python benchmarks/bench_training.py [--quick] [--out benchmarks/results/training.json]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from heatcheck.data import load_dataset
from heatcheck.models.train import train_model
from heatcheck.runtime import pick_device, setup
from heatcheck.store import write_dataset

RESULTS = Path(__file__).resolve().parent / "results"
#: (arch, n_train, epochs, lr, augment): the previous default (LeNet 20 epochs, ResNet-8 8, flips and
#: shifts), short runs at the old rates, and the new default (lenet_gap 6 epochs, ResNet-8 3, lr 0.2,
#: resnet8 lr 0.4; no augmentation: the scenes are drawn fresh, so more of them beat augmented copies)
SETTINGS = [
    ("lenet", 6000, 20, 0.02, True), ("resnet8", 6000, 8, 0.05, True),
    ("lenet_gap", 6000, 6, 0.05, True), ("resnet8", 6000, 3, 0.05, True),
    ("lenet_gap", 6000, 4, 0.2, False), ("lenet_gap", 6000, 6, 0.2, False),
    ("resnet8", 6000, 3, 0.2, False), ("resnet8", 6000, 3, 0.4, False), ("resnet8", 6000, 2, 0.4, False),
]
QUICK = [("lenet_gap", 6000, 6, 0.2, False), ("resnet8", 6000, 3, 0.4, False)]


def store(work: Path, n_train: int, holdout: int) -> Path:
    path = work / f"shapes-{n_train}.zarr"
    if not path.exists():
        spec = {"kind": "shapes", "size": 32, "n_train": n_train, "n_eval": holdout, "seed": 0,
                "distractors": [1, 3], "clutter": 3}
        write_dataset(path, load_dataset(spec), "shapes")
    return path


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two settings only")
    ap.add_argument("--holdout", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS / "training.json")
    a = ap.parse_args(argv)
    setup(a.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch, n_train, epochs, lr, augment in QUICK if a.quick else SETTINGS:
            path = store(Path(tmp), n_train, a.holdout)
            spec = {"arch": arch, "source": "train", "epochs": epochs, "lr": lr, "weight_decay": 5e-4,
                    "train_batch_size": 128, "augment": augment, "seed": 0, "min_gain": 0.0, "layer": None}
            t0 = time.perf_counter()
            rep = train_model(path, spec, Path(tmp) / "m.pt", Path(tmp) / "m.json", pick_device(False), name=arch)
            rows.append({"arch": arch, "n_train": n_train, "epochs": epochs, "lr": lr, "augment": augment,
                         "train_seconds": round(rep["seconds"], 1),
                         "job_seconds": round(time.perf_counter() - t0, 1),
                         "holdout_accuracy": rep["accuracy"], "holdout_images": rep["n_eval"],
                         "train_accuracy": rep["train_accuracy"]})
            print(rows[-1], flush=True)
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "threads": a.threads, "torch": torch.__version__,
           "results": rows}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    return rows


if __name__ == "__main__":
    main()
