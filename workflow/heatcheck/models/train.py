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
from . import build_model, file_checksum, load_checkpoint, normalize, save_checkpoint, zoo

log = logging.getLogger(__name__)


@torch.inference_mode()
def accuracy(model, images, labels, mean, std, device, batch_size: int = 512) -> float:
    """Top-1 accuracy of ``model`` on unnormalized ``images`` (N, C, H, W) in [0, 1]."""
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], batch_size):
        x = normalize(torch.as_tensor(np.asarray(images[i:i + batch_size])).to(device), mean, std)
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
                x = normalize(x.to(device), store.mean, store.std)
                loss = F.cross_entropy(model(x), y_all[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                bar.update()
            log.info("%s epoch %d/%d: train loss %.4f", name, epoch + 1, epochs, total / n)
    seconds = time.perf_counter() - t0
    acc = accuracy(model, ev.images, ev.labels, store.mean, store.std, device)
    train_acc = accuracy(model, train.images[:2000], train.labels[:2000], store.mean, store.std, device)
    log.info("%s: held-out accuracy %.4f (train %.4f) after %.1f s", name, acc, train_acc, seconds)
    save_checkpoint(out_path, model.cpu(), spec["arch"], store.num_classes, size, store.mean, store.std)
    report = {"model": name, "arch": spec["arch"], "source": "train", "accuracy": acc,
              "train_accuracy": train_acc, "chance": 1 / store.num_classes, "n_eval": len(ev),
              "n_train": n, "epochs": epochs, "seconds": seconds, "checksum": file_checksum(out_path)}
    with open(json_path, "w") as fh:
        json.dump(report, fh, indent=2)
    check_learned(acc, store.num_classes, spec["min_gain"], f"model {name!r} ({spec['arch']})")
    return report


def import_pretrained(store_path, spec: dict, out_path, json_path, device: torch.device, name: str = "model") -> dict:
    """Wrap torchvision ImageNet weights as a heatcheck checkpoint and report its accuracy."""
    store = DatasetStore(store_path)
    if store.num_classes != 1000:
        raise HeatcheckError(f"model {name!r} is pretrained on ImageNet (1000 classes) but dataset "
                             f"store {store_path} has {store.num_classes} classes")
    model = zoo.load_pretrained(spec["arch"], spec["weights"])
    ev = store.split("eval")
    save_checkpoint(out_path, model, spec["arch"], 1000, ev.images.shape[-1], store.mean, store.std)
    model, _ = load_checkpoint(out_path)
    acc = accuracy(model.to(device), ev.images, ev.labels, store.mean, store.std, device, batch_size=32)
    report = {"model": name, "arch": spec["arch"], "source": "pretrained", "accuracy": acc,
              "chance": 1 / 1000, "n_eval": len(ev), "checksum": file_checksum(out_path)}
    with open(json_path, "w") as fh:
        json.dump(report, fh, indent=2)
    check_learned(acc, 1000, spec["min_gain"], f"model {name!r} ({spec['arch']})")
    return report
