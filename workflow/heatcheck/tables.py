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

from . import HeatcheckError, __version__
from .store import DatasetStore, check_exists, damaged_file, missing_chunks, reading, written

#: what the merges read of each kind of shard file (``scoring.score_shard`` / ``shapley_shard``);
#: a shard lacking one is damaged
SHARD_KEYS = {
    "score shard": ("scores", "start", "stop", "targets", "meta"),
    "Shapley shard": ("estimate", "stderr", "start", "stop", "cell", "targets", "seconds"),
}
#: the first-axis key of each kind's per-image arrays, whose length must be stop - start
_ROWS = {"score shard": "scores", "Shapley shard": "estimate"}


def read_shard(path, what: str = "score shard", repair: bool = False, keys: tuple = ()) -> dict:
    """The arrays of one shard job's ``.npz`` file, checked.

    Parameters
    ----------
    path : the ``.npz`` file
    what : its kind, a key of :data:`SHARD_KEYS`
    keys : arrays needed besides the kind's (e.g. ``curves`` for a curve metric's shards)
    repair : on damage, remove the file, so that the next Snakemake run recomputes that shard
        (and no other); the workflow's merges do this

    Raises
    ------
    HeatcheckError
        If the file does not exist.
    DamagedFileError
        If it is unreadable (truncated, not a zip file, bad checksum), lacks an array its writer
        writes, or holds another number of images than its ``start`` and ``stop`` say.
    """
    path = check_exists(path, what)
    with reading(path, what, repair), np.load(path) as z:
        shard = {k: z[k] for k in z.files}
        if "meta" in shard:
            shard["meta"] = json.loads(str(shard["meta"]))
    lacking = [k for k in (*SHARD_KEYS[what], *keys) if k not in shard]
    if lacking:
        raise damaged_file(path, what, f"it lacks the arrays {lacking}", repair)
    rows, expected = len(shard[_ROWS[what]]), int(shard["stop"]) - int(shard["start"])
    if rows != expected:
        raise damaged_file(path, what, f"it holds {rows} images, its range {int(shard['start'])}-"
                                       f"{int(shard['stop'])} has {expected}", repair)
    return shard


def read_each(paths, read) -> list:
    """``read(path)`` of every path, in order; the errors of all the failing ones are raised
    together, so that one run names (and, with repair, removes) every damaged file."""
    results, errors = [], []
    for p in paths:
        try:
            results.append(read(p))
        except HeatcheckError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise HeatcheckError("\n".join(map(str, errors)))
    return results


def load_shards(paths, what: str = "score shard", repair: bool = False, keys: tuple = ()) -> list[dict]:
    """The checked ``.npz`` results of a stage's shard jobs (:func:`read_shard`), in image order."""
    shards = read_each(paths, lambda p: read_shard(p, what, repair, keys))
    return sorted(shards, key=lambda s: int(s["start"]))


def read_parquet_table(path, what: str = "score table", repair: bool = False) -> pd.DataFrame:
    """A parquet table written by a stage (``merge_scores``, ``mutual_verification``,
    ``collect_scores``); an unreadable (e.g. truncated) one is damaged, and with ``repair``
    removed so that the next Snakemake run rewrites it."""
    path = check_exists(path, what)
    with reading(path, what, repair):
        return pd.read_parquet(path)


def merge_scores(shard_paths, store_path, dataset: str, model: str, explainer: str, out_parquet) -> pd.DataFrame:
    """Concatenate a metric's shard results into one long-format parquet table (a damaged shard is
    removed, so that the next run recomputes it)."""
    return write_score_table(load_shards(shard_paths, repair=True), store_path, dataset, model, explainer, out_parquet)


def write_score_table(shards: list[dict], store_path, dataset: str, model: str, explainer: str,
                      out_parquet) -> pd.DataFrame:
    """The long-format parquet table of a metric's shard results (as :func:`read_shard` returns
    them, in image order): one row per image and configuration."""
    ev = DatasetStore.shared(store_path).split("eval")
    ids, labels = ev.ids, ev.all_labels
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
    with written(out_parquet) as fh:
        table.to_parquet(fh, index=False)
    return table


def merge_curves(shard_paths, out_zarr) -> None:
    """Curves of all shards into one zarr array (image x configuration x point); a configuration
    with fewer points than the longest is NaN after its last one, and the attribute ``points``
    gives each configuration's number of points."""
    shards = load_shards(shard_paths, repair=True, keys=("curves",))
    curves = np.concatenate([s["curves"] for s in shards]).astype(np.float32)
    # every chunk written, even one of zeros: a missing chunk file then always means damage
    arr = zarr.create_array(str(out_zarr), shape=curves.shape, chunks=(min(256, len(curves)),) + curves.shape[1:],
                            dtype="float32", overwrite=True, config={"write_empty_chunks": True})
    arr[:] = curves
    meta = shards[0]["meta"]
    arr.attrs.update({"configs": meta["config_keys"], "metric": meta["metric"],
                      "points": [int(v) for v in np.isfinite(curves[0]).sum(-1)],
                      "dims": ["image", "configuration", "point"], "heatcheck_version": __version__})


def read_curves(path, repair: bool = False) -> tuple[np.ndarray, list[str]]:
    """The curves (image x configuration x point) of a ``curves/{metric}/{model}/{explainer}.zarr``
    store and its configuration keys, checked: an unreadable store, one without its
    configurations, of another shape, or with chunk files missing (zarr would read zeros) is
    damaged, and with ``repair`` removed so that the next Snakemake run rewrites it from the
    score shards."""
    what = "curve store"
    path = check_exists(path, what)
    with reading(path, what, repair):
        arr = zarr.open_array(str(path), mode="r")
        configs = [str(c) for c in arr.attrs["configs"]]
    if arr.ndim != 3 or arr.shape[1] != len(configs):
        raise damaged_file(path, what, f"it has shape {arr.shape} for {len(configs)} configurations", repair)
    missing = missing_chunks(arr, path)
    if missing:
        raise damaged_file(path, what, f"the chunk files {missing} (along images) are missing", repair)
    with reading(path, what, repair):  # a truncated chunk fails to decompress
        return arr[:], configs


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
    frames = read_each(tables, lambda t: read_parquet_table(t, repair=True))
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
    shards = load_shards(shard_paths, "Shapley shard", repair=True)
    g = zarr.open_group(str(out_zarr), mode="w")
    for name in ("estimate", "stderr"):
        data = np.concatenate([s[name] for s in shards]).astype(np.float32)
        # every chunk written, even one of zeros: a missing chunk file then always means damage
        g.create_array(name, data=data, chunks=(min(256, len(data)),) + data.shape[1:],
                       config={"write_empty_chunks": True})
    g.create_array("targets", data=np.concatenate([s["targets"] for s in shards]).astype(np.int64))
    g.attrs.update({"cell": int(shards[0]["cell"]), "params": params, "heatcheck_version": __version__,
                    "seconds": float(sum(float(s["seconds"]) for s in shards)),
                    "dims": ["image", "cell_row", "cell_col"]})


def read_shapley(path, start: int, stop: int, repair: bool = False) -> tuple[np.ndarray, int]:
    """Rows ``start:stop`` of a ``shapley/{model}.zarr`` store's ``estimate`` (image x cell row x
    cell column) and its cell size, checked: an unreadable store, one with fewer images, or with
    chunk files missing is damaged, and with ``repair`` removed so that the next Snakemake run
    merges it again from the Shapley shards."""
    what = "Shapley store"
    path = check_exists(path, what)
    with reading(path, what, repair):
        g = zarr.open_group(str(path), mode="r")
        est, cell = g["estimate"], int(g.attrs["cell"])
    if est.ndim != 3 or est.shape[0] < stop:
        raise damaged_file(path, what, f"its estimate has shape {est.shape}, not one row for each of images "
                                       f"0-{stop - 1}", repair)
    missing = missing_chunks(est, path / "estimate")
    if missing:
        raise damaged_file(path, what, f"the chunk files {missing} of its estimate are missing", repair)
    with reading(path, what, repair):  # a truncated chunk fails to decompress
        return np.asarray(est[start:stop]), cell
