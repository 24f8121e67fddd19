"""The scoring stage: one metric on one shard of one saliency array (tables: :mod:`.tables`)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch

from . import HeatcheckError
from .metrics import make_metric
from .models import load_checkpoint, normalize
from .shards import shard_range
from .store import DatasetStore, open_saliency

log = logging.getLogger(__name__)


def score_shard(store_path, model_path, saliency_path, metric: str, params: dict, shard: int,
                shard_size: int, out_path, *, seed: int = 0, batch_size: int = 256,
                device: torch.device | None = None) -> dict:
    """Score the maps of one shard and write the raw results (``.npz``) to ``out_path``."""
    device = device or torch.device("cpu")
    store = DatasetStore(store_path)
    ev = store.split("eval")
    sal = open_saliency(saliency_path, shape=tuple(ev.images.shape[-2:]))
    n = sal.shape[0]
    start, stop = shard_range(shard, shard_size, n)
    m = make_metric(metric, params, batch_size=batch_size, seed=seed)
    if m.needs_boxes and ev.boxes is None:
        raise HeatcheckError(f"metric {metric!r} needs object boxes; dataset store {store_path} has none")
    model, _ = load_checkpoint(model_path, num_classes=store.num_classes)
    model = model.to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    x = normalize(torch.from_numpy(ev.images[start:stop]).to(device), store.mean, store.std)
    targets = torch.as_tensor(sal.attrs["targets"][start:stop], device=device)
    maps = torch.from_numpy(sal[start:stop]).to(device)
    boxes = ev.boxes[start:stop] if ev.boxes is not None else None
    masks = ev.masks[start:stop] if ev.masks is not None else None
    t0 = time.perf_counter()
    with torch.no_grad():
        res = m(model, x, maps, targets, index=torch.arange(start, stop), boxes=boxes, masks=masks)
    seconds = time.perf_counter() - t0
    if not np.isfinite(res.scores).all():
        bad = int(np.flatnonzero(~np.isfinite(res.scores).all(1))[0])
        raise HeatcheckError(f"metric {metric!r} gave a non-finite score for image {ev.ids[start + bad]!r}")
    cfgs = m.configurations()
    # everything the (torch-free) table merge needs travels with the scores
    meta = {"metric": metric, "config_keys": [m.config_key(c) for c in cfgs], "axes": list(m.axes),
            "axis_values": {a: [c[a] for c in cfgs] for a in m.axes}, "binary": m.binary,
            "higher_is_better": m.higher_is_better}
    arrays = {"scores": res.scores, "start": np.array(start), "stop": np.array(stop),
              "seconds": np.array(seconds), "targets": targets.cpu().numpy(), "meta": np.array(json.dumps(meta))}
    if res.curves is not None:
        arrays["curves"] = res.curves
    for k, v in res.extra.items():
        arrays[f"extra_{k}"] = v
    with open(out_path, "wb") as fh:  # file handle: np.savez would append .npz to the name
        np.savez(fh, **arrays)
    log.info("%s shard %d: %d images in %.2f s", metric, shard, stop - start, seconds)
    return {"seconds": seconds, "n": stop - start}
