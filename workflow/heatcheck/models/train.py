"""Training a registry model on a dataset store's train split, and checking it learned."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import HeatcheckError
from ..store import DatasetStore
from ..model_specs import model_label
from . import _no_inplace, build_model, file_checksum, load_checkpoint, model_input, save_checkpoint, zoo
from .facts import model_facts

log = logging.getLogger(__name__)


@torch.inference_mode()
def accuracy(model, images, labels, meta: dict, device, batch_size: int = 512) -> float:
    """Top-1 accuracy of ``model`` on unnormalized ``images`` (N, C, H, W) in [0, 1], normalized
    as checkpoint ``meta`` says (:func:`~heatcheck.models.model_input`)."""
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], batch_size):
        x = model_input(torch.as_tensor(np.asarray(images[i:i + batch_size])).to(device), meta)
        with torch.no_grad():
            pred = model(x).argmax(1).cpu().numpy()
        correct += int((pred == np.asarray(labels[i:i + batch_size])).sum())
    return correct / max(1, images.shape[0])


def _augment(x: torch.Tensor, gen: torch.Generator, pad: int) -> torch.Tensor:
    """Random horizontal flips and shifts of up to ``pad`` pixels (reflect-padded crops)."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    if pad:
        xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
        dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
        rows = (dy.view(-1, 1) + torch.arange(h)).view(n, 1, h, 1).expand(n, x.shape[1], h, w + 2 * pad)
        xp = xp.gather(2, rows)
        cols = (dx.view(-1, 1) + torch.arange(w)).view(n, 1, 1, w).expand(n, x.shape[1], h, w)
        x = xp.gather(3, cols)
    return x


def check_learned(acc: float, num_classes: int, min_gain: float, what: str) -> None:
    """Fail when held-out accuracy is not clearly above chance (``min_gain`` 0 disables the check)."""
    chance = 1.0 / num_classes
    need = chance + min_gain * (1 - chance)
    if min_gain > 0 and acc < need:
        raise HeatcheckError(
            f"{what} reached held-out accuracy {acc:.3f}, below {need:.3f} (chance {chance:.3f} + "
            f"min_gain {min_gain} of the rest): it did not learn, so its explanations would be "
            f"meaningless. Train longer (epochs), change lr, or lower min_gain.")


def train_model(store_path, spec: dict, out_path, json_path, device: torch.device, name: str = "model") -> dict:
    """Train ``spec['arch']`` on the train split of ``store_path`` and write checkpoint + JSON.

    Parameters
    ----------
    store_path : dataset store (``images.zarr``)
    spec : validated ``models.<name>`` config entry
    out_path, json_path : checkpoint and its accuracy report
    device : where to train
    name : model name for messages

    Returns
    -------
    dict
        The report written to ``json_path``.
    """
    store = DatasetStore(store_path)
    train, ev = store.split("train"), store.split("eval")
    x_all = torch.from_numpy(train.images[:])
    y_all = torch.from_numpy(train.labels[:])
    n, _, size, _ = x_all.shape
    torch.manual_seed(spec["seed"])
    gen = torch.Generator().manual_seed(spec["seed"])
    model = build_model(spec["arch"], store.num_classes, size).to(device)
    norm = {"mean": store.mean.tolist(), "std": store.std.tolist()}  # a model trained here takes the dataset's
    epochs, bs = spec["epochs"], spec["train_batch_size"]
    steps = epochs * ((n + bs - 1) // bs)
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=0.9, nesterov=True,
                          weight_decay=spec["weight_decay"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec["lr"], total_steps=steps, pct_start=0.25)
    t0 = time.perf_counter()
    pad = max(1, size // 16) if spec["augment"] else 0
    with tqdm(total=steps, desc=f"train {name}", unit="batch", mininterval=2) as bar:
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                x = x_all[idx]
                if spec["augment"]:
                    x = _augment(x, gen, pad)
                x = model_input(x.to(device), norm)
                loss = F.cross_entropy(model(x), y_all[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                bar.update()
            log.info("%s epoch %d/%d: train loss %.4f", name, epoch + 1, epochs, total / n)
    seconds = time.perf_counter() - t0
    acc = accuracy(model, ev.images, ev.labels, norm, device)
    train_acc = accuracy(model, x_all[:2000], y_all[:2000], norm, device)
    pass_seconds = time.perf_counter() - t0  # with the accuracy passes (benchmarks/bench_pipeline.py)
    log.info("%s: held-out accuracy %.4f (train %.4f) after %.1f s", name, acc, train_acc, seconds)
    model = model.cpu().eval()
    facts = model_facts(model, size, store.num_classes, _what(name, spec), layer=spec.get("layer"))
    save_checkpoint(out_path, model, spec["arch"], store.num_classes, size, store.mean, store.std,
                    extra={"facts": facts})
    report = {"model": name, "arch": spec["arch"], "source": "train", "accuracy": acc,
              "train_accuracy": train_acc, "chance": 1 / store.num_classes, "n_eval": len(ev),
              "n_train": n, "epochs": epochs, "seconds": seconds, "pass_seconds": pass_seconds, "checksum": file_checksum(out_path),
              "facts": facts}
    with open(json_path, "w") as fh:
        json.dump(report, fh, indent=2)
    check_learned(acc, store.num_classes, spec["min_gain"], f"model {name!r} ({spec['arch']})")
    return report


def _what(name: str, spec: dict) -> str:
    return f"model {name!r} (models.{name}: {model_label(spec)})"


def import_pretrained(store_path, spec: dict, out_path, json_path, device: torch.device, name: str = "model") -> dict:
    """Load a model that is not trained here as a heatcheck checkpoint and report its accuracy.

    Built-ins (``arch``) get torchvision's ImageNet weights; ``torchvision``, ``timm``,
    ``factory`` and ``torchscript`` entries are built by :mod:`heatcheck.models.sources`. The
    model is probed once (:func:`~heatcheck.models.facts.model_facts`: output classes, feature
    and GAP layers, explainers that cannot apply), and takes the entry's ``mean``/``std`` where
    given, else the dataset's.

    Raises
    ------
    HeatcheckError
        Naming the entry: weights or a factory that do not load, an output that is not
        (N, classes), a model that did not reach ``min_gain`` above chance.
    """
    store = DatasetStore(store_path)
    what = _what(name, spec)
    ev = store.split("eval")
    side = ev.images.shape[-1]
    extra = {"model_size": spec.get("size")}
    if spec.get("arch"):
        if store.num_classes != 1000:
            raise HeatcheckError(f"model {name!r} is pretrained on ImageNet (1000 classes) but dataset "
                                 f"store {store_path} has {store.num_classes} classes")
        model = zoo.load_pretrained(spec["arch"], spec["weights"])
        arch = spec["arch"]
    else:
        from .sources import build_user_model

        model, extra["builder"] = build_user_model(spec, store.num_classes, what)
        arch = model_label(spec)
    model = _no_inplace(model).eval()
    mean = spec.get("mean") or store.mean.tolist()
    std = spec.get("std") or store.std.tolist()
    save_checkpoint(out_path, model, arch, store.num_classes, side, mean, std, extra=extra)
    model, meta = load_checkpoint(out_path)  # the model every later job sees, resize included
    extra["facts"] = model_facts(model, side, store.num_classes, what, layer=spec.get("layer"))
    save_checkpoint(out_path, model, arch, store.num_classes, side, mean, std, extra=extra)
    acc = accuracy(model.to(device), ev.images, ev.labels, meta, device, batch_size=32)
    report = {"model": name, "arch": arch, "source": "pretrained", "accuracy": acc,
              "chance": 1 / store.num_classes, "n_eval": len(ev), "mean": list(mean), "std": list(std),
              "checksum": file_checksum(out_path), "facts": extra["facts"]}
    with open(json_path, "w") as fh:
        json.dump(report, fh, indent=2)
    check_learned(acc, store.num_classes, spec["min_gain"], what)
    return report
