"""The scoring stage: one metric on one shard of one saliency array (tables: :mod:`.tables`)."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import torch

from . import HeatcheckError
from .costs import shapley_cell
from .metrics import make_metric
from .precision import prepare_model
from .models import input_normalization, load_checkpoint, model_input
from .runtime import out_of_memory
from .derived import HALFMASKED, KINDS, source
from .shards import shard_range
from .store import (DatasetStore, check_exists, open_saliency, read_saliency, read_shard_report, reading, shard_saliency,
                    written)

log = logging.getLogger(__name__)


def score_shard(store_path, model_path, report_path, metric: str, params: dict, out_path, *, seed: int = 0,
                batch_size: int = 256, device: torch.device | None = None, extras: dict | None = None, passes: dict | None = None) -> dict:
    """Score the maps of one saliency shard and write the raw results (``.npz``) to ``out_path``.

    ``report_path`` is the saliency shard job's report (``{explainer}.shards/{shard}.json``): the
    images, targets and array of the maps. ``extras`` holds the paths of what some metrics need
    besides the maps: ``shapley`` (the model's Shapley shard of the same images, for
    ``shapley_bias``), ``features`` (the feature scale JSON, for ``unexplainable_features``),
    ``masked`` (the report of the half-masked copies' shard, for ``masking_robustness``),
    ``noisy`` (the noisy copy's shard of :func:`heatcheck.sanity.noisy_shard`, for the maps of
    ``{explainer}+noisy{k}``: they are scored on the noisy images they explain).

    Raises
    ------
    HeatcheckError
        If the maps are stale or damaged (naming the array), a score is not finite (naming the
        image), or the job runs out of memory (naming ``batch_size``).
    """
    with out_of_memory(f"score_metric {metric} of {report_path}", batch_size):
        arrays = _score_shard(store_path, model_path, report_path, metric, params, seed, batch_size,
                              device or torch.device("cpu"), extras or {}, passes)
    with written(out_path) as fh:  # file handle: np.savez would append .npz to the name
        np.savez(fh, **{k: np.array(json.dumps(v)) if k == "meta" else v for k, v in arrays.items()})
    return {"seconds": float(arrays["seconds"]), "n": int(arrays["stop"] - arrays["start"])}


def score_table(store_path, model_path, report_paths: list, metric: str, params: dict, out_parquet, dataset: str,
                model: str, explainer: str, *, seed: int = 0, batch_size: int = 256, device: torch.device | None = None,
                extras: list[dict] | None = None, passes: dict | None = None):
    """Score every shard of a metric that makes no model pass (:func:`score_shard` without its
    files: milliseconds a shard) and write the metric's score table for one (model, explainer), as
    :func:`heatcheck.tables.merge_scores` writes it from the shard files of the other metrics.
    ``report_paths`` and ``extras`` (the latter's entries as in :func:`score_shard`) are per shard."""
    from .tables import write_score_table

    device = device or torch.device("cpu")
    shards = []
    for report_path, extra in zip(report_paths, extras or [{}] * len(report_paths)):
        with out_of_memory(f"score_table {metric} of {report_path}", batch_size):
            shards.append(_score_shard(store_path, model_path, report_path, metric, params, seed, batch_size, device,
                                       extra, passes))
    shards.sort(key=lambda a: int(a["start"]))
    return write_score_table(shards, store_path, dataset, model, explainer, out_parquet)


def _shard_maps(report_path, ev, copies: int = 1) -> tuple[dict, np.ndarray]:
    """A saliency shard's report and its maps (``copies`` per image), checked against the dataset's
    images: a damaged or stale array (deleted/truncated chunks, other images or shape) fails the
    reader and is invalidated, so that the next run recomputes it instead of scoring NaN or stale
    maps."""
    report = read_shard_report(report_path)
    start, stop = report["start"], report["stop"]
    ids = ev.ids
    if report["ids"] != ids[start:stop]:
        raise HeatcheckError(f"saliency shard report {report_path} is of images {report['ids'][:3]}..., not the "
                             f"dataset's {ids[start:start + 3]}... (stale); delete it and rerun")
    shape = tuple(ev.images.shape[-2:]) if copies == 1 else (copies, *ev.images.shape[-2:])
    return report, shard_saliency(report_path, report["array"], start, stop, shape, ids)


def _score_shard(store_path, model_path, report_path, metric, params, seed, batch_size, device, extras,
                 passes=None) -> dict:
    """The results of scoring one saliency shard: ``scores`` (images x configurations), ``start``,
    ``stop``, ``seconds`` (in the metric), ``targets``, ``meta`` (a dict: what the table merge
    needs), and where the metric has them ``curves`` and ``extra_*``."""
    store = DatasetStore.shared(store_path)
    ev = store.split("eval")
    report, maps = _shard_maps(report_path, ev)
    start, stop = report["start"], report["stop"]
    rows = ev.rows(start, stop)
    m = make_metric(metric, params, batch_size=batch_size, seed=seed)
    if m.needs_boxes and ev.boxes is None:
        raise HeatcheckError(f"metric {metric!r} needs object boxes; dataset store {store_path} has none")
    model, meta = load_checkpoint(model_path, num_classes=store.num_classes)
    model = prepare_model(model.to(device), **(passes or {}))
    for p in model.parameters():
        p.requires_grad_(False)
    x = model_input(torch.tensor(rows.images, device=device), meta)
    if "noisy" in extras:  # maps of a noisy copy are scored on that copy (the metric reruns on it)
        from .sanity import read_noisy_shard

        x = read_noisy_shard(extras["noisy"], start, stop).to(device=device, dtype=x.dtype)
    targets = torch.as_tensor(report["targets"], device=device)
    maps = torch.tensor(maps, device=device)  # its own copy: the rows read are shared
    boxes, masks = rows.boxes, rows.masks
    kw = _metric_extras(extras, ev, start, stop, device)
    # what the explainer declares about its maps (blurred and half-masked arrays: the source's),
    # from the saliency shard report; reports written before it carried the declaration: the
    # built-in class's
    signed = report["signed"] if "signed" in report else _builtin_signed(report.get("explainer", ""))
    t0 = time.perf_counter()
    with torch.no_grad():
        # std: the normalization's, for metrics that add noise given in [0, 1] image units (ROAD)
        res = m(model, x, maps, targets, index=torch.arange(start, stop), boxes=boxes, masks=masks, signed=signed,
                std=list(input_normalization(meta)[1]), **kw)
    seconds = time.perf_counter() - t0
    if not np.isfinite(res.scores).all():
        bad = int(np.flatnonzero(~np.isfinite(res.scores).all(1))[0])
        raise HeatcheckError(f"metric {metric!r} gave a non-finite score for image {rows.ids[bad]!r}")
    cfgs = m.configurations()
    # everything the (torch-free) table merge needs travels with the scores
    meta = {"metric": metric, "config_keys": [m.config_key(c) for c in cfgs], "axes": list(m.axes),
            "axis_values": {a: [c[a] for c in cfgs] for a in m.axes}, "binary": m.binary,
            "higher_is_better": m.higher_is_better}
    arrays = {"scores": res.scores, "start": np.array(start), "stop": np.array(stop),
              "seconds": np.array(seconds), "targets": targets.cpu().numpy(), "meta": meta}
    if res.curves is not None:
        arrays["curves"] = res.curves
    for k, v in res.extra.items():
        arrays[f"extra_{k}"] = v
    log.info("%s shard %d: %d images in %.2f s", metric, report["shard"], stop - start, seconds)
    return arrays


def _builtin_signed(name: str) -> bool | None:
    from .explainers import EXPLAINERS

    base = source(str(name))
    return EXPLAINERS.get(base).signed if base in EXPLAINERS else None


# --- second-paper stores: Shapley estimates and the feature scale, per (dataset, model) ---------


def _metric_extras(extras: dict, ev, start: int, stop: int, device) -> dict:
    kw = {}
    if "shapley" in extras:
        path = check_exists(extras["shapley"], "Shapley shard")
        with reading(path, "Shapley shard", repair=True), np.load(path) as z:
            span = (int(z["start"]), int(z["stop"]))
            est = np.asarray(z["estimate"])
            kw["cell"] = int(z["cell"])
        if span != (start, stop):
            raise HeatcheckError(f"Shapley shard {path} holds images {span[0]}-{span[1] - 1}, not "
                                 f"{start}-{stop - 1} (stale); delete it and rerun")
        kw["shapley"] = est.reshape(len(est), -1)
    if "features" in extras:
        path = check_exists(extras["features"], "feature scale")
        with reading(path, "feature scale", repair=True), open(path) as fh:
            kw["alpha"] = float(json.load(fh)["alpha"])
    if "masked" in extras:
        report, masked = _shard_maps(extras["masked"], ev, copies=KINDS[HALFMASKED].copies)
        if (report["start"], report["stop"]) != (start, stop):
            raise HeatcheckError(f"half-masked shard {extras['masked']} holds other images than {start}-{stop - 1}")
        kw["masked_saliency"] = torch.tensor(masked, device=device)
    return kw


def shapley_shard(store_path, model_path, params: dict, shard: int, shard_size: int, out_path, *,
                  max_eval: int | None = None, seed: int = 0, batch_size: int = 256, target: str = "label",
                  device: torch.device | None = None, passes: dict | None = None) -> dict:
    """Sampled Shapley values of one shard of eval images (the second paper's reference)."""
    with out_of_memory(f"compute_shapley shard {shard}", batch_size):
        return _shapley_shard(store_path, model_path, params, shard, shard_size, out_path, max_eval, seed,
                              batch_size, target, device or torch.device("cpu"), passes)


def _shapley_shard(store_path, model_path, params, shard, shard_size, out_path, max_eval, seed, batch_size, target,
                   device, passes=None) -> dict:
    from .metrics.objectiveness import ShapleyBias
    from .saliency import targets_for
    from .shapley import shapley_sampling
    from .shards import n_images

    store = DatasetStore.shared(store_path)
    start, stop = shard_range(shard, shard_size, n_images(store, max_eval))
    rows = store.split("eval").rows(start, stop)
    model, meta = load_checkpoint(model_path, num_classes=store.num_classes)
    model = prepare_model(model.to(device), **(passes or {}))
    x = model_input(torch.tensor(rows.images, device=device), meta)
    targets = targets_for(model, x, torch.tensor(rows.labels, device=device), target, batch_size)
    params = ShapleyBias.fill(params)  # its settings: the shapley_bias entry's, declared by that class
    cell = shapley_cell(params, x.shape[-1])
    t0 = time.perf_counter()
    est = shapley_sampling(model, x, targets, cell=cell, samples=int(params["samples"]),
                           antithetic=bool(params["antithetic"]), output=params["output"],
                           batch_size=batch_size, seed=seed, index=torch.arange(start, stop), progress=True)
    seconds = time.perf_counter() - t0
    grid = tuple(est[2])
    with written(out_path) as fh:
        np.savez(fh, estimate=np.asarray(est[0]).reshape(len(x), *grid), stderr=np.asarray(est[1]).reshape(len(x), *grid),
                 start=np.array(start), stop=np.array(stop), seconds=np.array(seconds), cell=np.array(cell),
                 targets=targets.cpu().numpy())
    log.info("shapley shard %d: %d images in %.1f s", shard, stop - start, seconds)
    return {"seconds": seconds}


def feature_scale(store_path, model_path, out_json, *, max_eval: int | None = None, batch_size: int = 256,
                  device: torch.device | None = None, passes: dict | None = None) -> float:
    """alpha = 1 / E_I ||f_I - E f|| over the studied eval images (eq. 4 of the second paper)."""
    from .metrics.objectiveness import feature_alpha
    from .shards import n_images

    device = device or torch.device("cpu")
    store = DatasetStore(store_path)
    n = n_images(store, max_eval)
    model, meta = load_checkpoint(model_path, num_classes=store.num_classes)
    x = model_input(torch.from_numpy(store.split("eval").images[:n]), meta)
    with out_of_memory("feature_scale", batch_size):
        alpha = float(feature_alpha(prepare_model(model.to(device), **(passes or {})), x.to(device), batch_size))
    with written(out_json, "w") as fh:
        json.dump({"alpha": alpha, "n": n}, fh)
    return alpha


def mutual_verification_tables(saliency_jsons: dict, dataset: str, model: str, out_csv, out_parquet) -> None:
    """Eq. (6) for every pair of explainers of one model: the matrix (CSV) and per-image table."""
    import pandas as pd

    from .metrics.objectiveness import mutual_verification
    maps = {}
    for name, path in saliency_jsons.items():
        with open(path) as fh:
            maps[name] = read_saliency(open_saliency(json.load(fh)["path"], repair=True), repair=True)
    names, matrix, per_image = mutual_verification(maps)
    pd.DataFrame(np.asarray(matrix), index=names, columns=names).to_csv(out_csv, float_format="%.6g")
    per_image = np.asarray(per_image)
    ids = open_saliency(json.load(open(next(iter(saliency_jsons.values()))))["path"]).attrs["ids"]
    rows = [{"dataset": dataset, "model": model, "metric": "mutual_verification", "explainer": a,
             "config": b, "image_index": i, "image_id": ids[i], "score": float(per_image[i, ia, ib]),
             "higher_is_better": False, "binary": False}
            for ia, a in enumerate(names) for ib, b in enumerate(names) if a != b
            for i in range(per_image.shape[0])]
    pd.DataFrame(rows).to_parquet(out_parquet, index=False)
