"""The saliency stage: explain one shard of a dataset's eval images with one explainer."""

from __future__ import annotations

import contextlib
import json
import logging
import time

import numpy as np
import torch
from tqdm import tqdm

from . import HeatcheckError
from .explainers import check_finite, make_explainer
from .plugins import is_builtin, method_class
from .precision import full_precision, prepare_model
from .models import input_normalization, load_checkpoint, model_input
from .runtime import out_of_memory
from .derived import BLUR, HALFMASKED, NOISY, RANDOMIZED, apply_half_masks, copies as map_copies, parse_derived, split_variant
from .shards import n_images, shard_range
from .store import DatasetStore, write_saliency_shard, written

log = logging.getLogger(__name__)


def targets_for(model, x: torch.Tensor, labels: torch.Tensor, target: str, batch_size: int) -> torch.Tensor:
    """Ground-truth labels (``target: label``) or the model's predictions (``predicted``)."""
    if target == "label":
        return labels
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def background_images(store: DatasetStore, count: int, seed: int) -> torch.Tensor:
    """A seeded sample of training images (eval images where there is no train split), unnormalized."""
    split = store.split("train" if "train" in store.splits() else "eval")
    n = len(split)
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(count, n), replace=False))
    return torch.from_numpy(split.images.get_orthogonal_selection((idx,)))


def compute_shard(store_path, model_path, sal_path, explainer: str, params: dict, shard: int,
                  shard_size: int, *, max_eval: int | None = None, seed: int = 0, batch_size: int = 256,
                  target: str = "label", device: torch.device | None = None, report_path=None, passes: dict | None = None,
                  noisy=None) -> dict:
    """Explain the images of one shard of the studied eval images (all, or the first
    ``max_eval``) and write them into the saliency array, resizing it to the studied images.

    Derived arrays (:mod:`heatcheck.derived`): ``{e}+halfmasked`` explains four half-masked
    copies of each image; ``{e}+randomized{k}`` explains with the model whose top k layers are
    re-initialised (:func:`heatcheck.sanity.randomized_model`, seeded by ``seed``), for the targets
    of the trained model; ``{e}+noisy{k}`` explains the noisy images of the shard file ``noisy``
    (:func:`heatcheck.sanity.noisy_shard`).

    Raises
    ------
    HeatcheckError
        If a map has NaN or infinity (naming the image and explainer); nothing is written then.
        If the job runs out of memory, naming ``batch_size`` (see :func:`.runtime.out_of_memory`).
    """
    with out_of_memory(f"compute_saliency {explainer} shard {shard}", batch_size):
        return _compute_shard(store_path, model_path, sal_path, explainer, params, shard, shard_size, max_eval,
                              seed, batch_size, target, device or torch.device("cpu"), report_path, passes, noisy)


def _compute_shard(store_path, model_path, sal_path, name, params, shard, shard_size, max_eval, seed, batch_size,
                   target, device, report_path, passes=None, noisy=None) -> dict:
    store = DatasetStore.shared(store_path)
    ev = store.split("eval")
    n = n_images(store, max_eval)
    start, stop = shard_range(shard, shard_size, n)
    rows = ev.rows(start, stop)
    model, meta = load_checkpoint(model_path, num_classes=store.num_classes)
    model = prepare_model(model.to(device), **(passes or {}))
    for p in model.parameters():
        p.requires_grad_(False)
    x = model_input(torch.tensor(rows.images, device=device), meta)
    labels = torch.tensor(rows.labels, device=device)
    ids = rows.ids
    targets = targets_for(model, x, labels, target, batch_size)
    index = torch.arange(start, stop)
    explainer, variant = split_variant(name)
    if variant == BLUR:
        raise HeatcheckError(f"{name!r}: blurred maps are made from the stored maps by blur_saliency, "
                             "not by an explainer")
    extra = {}
    if variant == RANDOMIZED:  # the targets above are the trained model's; the maps the randomized one's
        from .sanity import randomized_model

        step = randomized_model(model, parse_derived(name)[2], seed=seed)
        model = prepare_model(step.model, **(passes or {}))
        for p in model.parameters():
            p.requires_grad_(False)
        extra = {"step": step.step, "layer": step.layer}
    elif variant == NOISY:
        from .sanity import read_noisy_shard

        if noisy is None:
            raise HeatcheckError(f"{name!r}: the noisy copy's shard file is needed (rule noisy_inputs)")
        x = read_noisy_shard(noisy, start, stop).to(device=device, dtype=x.dtype)
    copies = map_copies(name)
    cls = method_class("explainers", explainer, params)
    if not is_builtin("explainers", explainer, params):
        # the built-ins' needs of the model are checked once per model before any shard (load_model
        # writes the refusals, init_saliency reads them); a plugin's here, from its declaration
        why = cls.refusal(model, x[:2])
        if why:
            raise HeatcheckError(f"config key explainers.{explainer} ({cls.__module__}.{cls.__qualname__}) is not "
                                 f"applicable to this model: {why}")
    if variant == HALFMASKED:
        # the copies are explained for the same target, with the original image's seeds; a map
        # that depends on neither model nor image would then equal the original on every copy
        # (non-robustness 0 by construction), so those draw per copy: key (image, copy + 1)
        x, targets = apply_half_masks(x), targets.repeat_interleave(copies)
        index, ids = index.repeat_interleave(copies), [i for i in ids for _ in range(copies)]
        if cls.input_free:
            index = torch.stack([index, torch.arange(copies).repeat(stop - start) + 1], 1)
    background = None
    if cls.needs_background:
        # an explainer that needs a background declares its size as parameter background_size
        bg = background_images(store, int(cls.fill(params)["background_size"]), seed)
        background = model_input(bg.to(device), meta)
    mean, std = input_normalization(meta)
    expl = make_explainer(explainer, model, params, batch_size=batch_size, seed=seed, background=background,
                          mean=list(mean), std=list(std))
    per = expl.images_per_call(min(x.shape[-2:]), len(x))
    t0 = time.perf_counter()
    maps = []
    for i in tqdm(range(0, len(x), per), desc=f"{explainer} shard {shard}", unit="chunk", mininterval=2):
        with full_precision(model) if cls.full_precision else contextlib.nullcontext():
            maps.append(expl.attribute(x[i:i + per], targets[i:i + per], index=index[i:i + per]).detach().cpu())
    maps = torch.cat(maps).numpy().astype(np.float32)
    seconds = time.perf_counter() - t0
    check_finite(maps, ids, explainer)
    if copies > 1:
        maps = maps.reshape(stop - start, copies, *maps.shape[1:])
        targets = targets[::copies]
    write_saliency_shard(sal_path, start, maps, shard_size, ids=ev.ids[:n])
    # the class's declaration of its maps' sign travels with them (the metrics read it, never the class)
    report = {"shard": shard, "start": start, "stop": stop, "seconds": seconds, "explainer": explainer,
              "signed": cls.signed, "array": str(sal_path),
              "images_per_second": (stop - start) / max(seconds, 1e-9), "device": str(device),
              "targets": targets.cpu().tolist(), "ids": ids[::copies], **extra}
    log.info("%s shard %d: %d images in %.2f s", explainer, shard, stop - start, seconds)
    if report_path:
        with written(report_path, "w") as fh:
            json.dump(report, fh, indent=1)
    return report
