"""Score tables: shard results -> long-format parquet tables, curves, and a dataset summary.

Torch-free, so that the light rules that call it run inside Snakemake's own process.

Tables are long format: a row per (image, configuration) with columns dataset, model, explainer,
metric, config (a short key such as ``mean+pixel``), the metric's axis columns, image_id,
image_index, label, target, score, higher_is_better, binary, and the metric's extra columns.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import zarr

from . import __version__
from .store import DatasetStore


def load_shards(paths) -> list[dict]:
    """The ``.npz`` results of a metric's shard jobs, in image order, with their metadata."""
    shards = []
    for p in paths:
        with np.load(p) as z:
            s = {k: z[k] for k in z.files}
        s["meta"] = json.loads(str(s["meta"]))
        shards.append(s)
    shards.sort(key=lambda s: int(s["start"]))
    return shards


def merge_scores(shard_paths, store_path, dataset: str, model: str, explainer: str, out_parquet) -> pd.DataFrame:
    """Concatenate a metric's shard results into one long-format parquet table."""
    shards = load_shards(shard_paths)
    ev = DatasetStore(store_path).split("eval")
    ids, labels = ev.ids, ev.labels[:]
    frames = []
    for s in shards:
        meta = s["meta"]
        start, stop = int(s["start"]), int(s["stop"])
        b, n_cfg = s["scores"].shape
        idx = np.repeat(np.arange(start, stop), n_cfg)
        df = pd.DataFrame({
            "dataset": dataset, "model": model, "explainer": explainer, "metric": meta["metric"],
            "config": np.tile(meta["config_keys"], b),
            "image_id": [ids[i] for i in idx], "image_index": idx,
            "label": labels[idx], "target": np.repeat(s["targets"], n_cfg),
            "score": s["scores"].reshape(-1).astype(np.float64),
            "higher_is_better": meta["higher_is_better"], "binary": meta["binary"]})
        for axis in meta["axes"]:
            df[axis] = np.tile(meta["axis_values"][axis], b)
        for k in s:
            if k.startswith("extra_"):
                df[k[6:]] = s[k].reshape(-1)
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    table.to_parquet(out_parquet, index=False)
    return table


def merge_curves(shard_paths, out_zarr) -> None:
    """Curves of all shards into one zarr array (image x configuration x point); a configuration
    with fewer points than the longest is NaN after its last one, and the attribute ``points``
    gives each configuration's number of points."""
    shards = load_shards(shard_paths)
    curves = np.concatenate([s["curves"] for s in shards]).astype(np.float32)
    arr = zarr.create_array(str(out_zarr), shape=curves.shape, chunks=(min(256, len(curves)),) + curves.shape[1:],
                            dtype="float32", overwrite=True)
    arr[:] = curves
    meta = shards[0]["meta"]
    arr.attrs.update({"configs": meta["config_keys"], "metric": meta["metric"],
                      "points": [int(v) for v in np.isfinite(curves[0]).sum(-1)],
                      "dims": ["image", "configuration", "point"], "heatcheck_version": __version__})


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (resampling images)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2 or n_boot < 1:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def collect(tables, out_parquet, out_summary, seed: int = 0) -> pd.DataFrame:
    """All score tables of a dataset into one parquet, and a summary like the paper's Tables 1
    and 2: mean per (metric, config, model, explainer) with a 95% bootstrap CI over images."""
    frames = [pd.read_parquet(t) for t in tables]
    scores = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    scores.to_parquet(out_parquet, index=False)
    rows = []
    if len(scores):
        keys = ["metric", "config", "model", "explainer"]
        for key, g in scores.groupby(keys, sort=True):
            lo, hi = bootstrap_ci(g["score"].to_numpy(), seed=seed)
            rows.append({**dict(zip(keys, key)), "higher_is_better": bool(g["higher_is_better"].iloc[0]),
                         "n": len(g), "mean": g["score"].mean(), "ci_low": lo, "ci_high": hi})
    summary = pd.DataFrame(rows)
    summary.to_csv(out_summary, index=False, float_format="%.6g")
    return summary


def merge_shapley(shard_paths, out_zarr, params: dict) -> None:
    """Shapley shards -> ``shapley/{model}.zarr``: ``estimate`` and ``stderr`` (N, Hc, Wc)."""
    shards = []
    for p in shard_paths:
        with np.load(p) as z:
            shards.append({k: z[k] for k in z.files})
    shards.sort(key=lambda s: int(s["start"]))
    g = zarr.open_group(str(out_zarr), mode="w")
    for name in ("estimate", "stderr"):
        data = np.concatenate([s[name] for s in shards]).astype(np.float32)
        g.create_array(name, data=data, chunks=(min(256, len(data)),) + data.shape[1:])
    g.create_array("targets", data=np.concatenate([s["targets"] for s in shards]).astype(np.int64))
    g.attrs.update({"cell": int(shards[0]["cell"]), "params": params, "heatcheck_version": __version__,
                    "seconds": float(sum(float(s["seconds"]) for s in shards)),
                    "dims": ["image", "cell_row", "cell_col"]})
