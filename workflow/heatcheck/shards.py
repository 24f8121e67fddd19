"""Light (torch-free) parts of the sharded stages: shard ranges, the digests that decide which
shards rerun, creating and finalizing the saliency arrays. Rules that only need these run inside
Snakemake's own process, and the rules' input functions call them while Snakemake builds the DAG."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import HeatcheckError, __version__
from .derived import copies, split_variant
from .store import (DatasetStore, create_saliency, file_checksum, finalize_saliency, read_shard_report,
                    resize_saliency)


def n_images(store: DatasetStore, max_eval: int | None) -> int:
    """Eval images studied: all, or the first ``max_eval``."""
    return n_studied(len(store.split("eval")), max_eval)


def n_studied(n_eval: int, max_eval: int | None) -> int:
    """Of ``n_eval`` eval images, how many are studied: all, or the first ``max_eval``."""
    return n_eval if max_eval is None else min(n_eval, int(max_eval))


def shard_range(shard: int, shard_size: int, n: int) -> tuple[int, int]:
    start = shard * shard_size
    if start >= n:
        raise HeatcheckError(f"shard {shard} starts at image {start}, beyond the {n} images")
    return start, min(n, start + shard_size)


# --- digests: what a job's results depend on, as a Snakemake param ---------------------------------
# prepare_dataset writes into images.json a digest of every eval image (id, pixels, label, boxes,
# mask) and one of what the models depend on (train split, classes, normalization, side). A shard
# job's params hold the digest of its own images, so that Snakemake reruns it exactly when they
# change (and not when the store is rewritten with more images: its jobs read the store as ancient).


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def images_digest(summary: dict, start: int, stop: int) -> str:
    """Digest of eval images ``start:stop`` of a dataset summary (images.json), their positions
    (per-image seeds derive from them) and the normalization the models apply."""
    digests = summary["digests"]
    return _digest(digests["model"], start, digests["eval"][start:stop])


def shard_digest(summary: dict, shard: int, shard_size: int, max_eval: int | None) -> str:
    """:func:`images_digest` of the images of one shard of the studied eval images."""
    n = n_studied(summary["n"]["eval"], max_eval)
    return images_digest(summary, *shard_range(shard, shard_size, n))


def studied_digest(summary: dict, max_eval: int | None) -> str:
    """:func:`images_digest` of all studied eval images (jobs that read them all)."""
    return images_digest(summary, 0, n_studied(summary["n"]["eval"], max_eval))


# --- saliency arrays ---------------------------------------------------------------------------------

def check_applicable(model_json, explainer: str, model: str = "model") -> None:
    """Refuse an explainer the model's facts (``models/{model}.json``, written once per model by
    ``load_model`` / ``train_model``) say cannot apply, before any saliency job of it starts.

    Raises
    ------
    HeatcheckError
        Naming the explainer, the model and the reason.
    """
    with open(model_json) as fh:
        report = json.load(fh)
    base, _ = split_variant(explainer)
    why = (report.get("facts") or {}).get("refused", {}).get(base)
    if why:
        raise HeatcheckError(
            f"config key explainers.{base} is not applicable to model {report.get('model', model)!r} "
            f"({report.get('arch')}): "
            f"{why}. Remove {base} from explainers, or the model from the dataset's models")


def init_saliency(store_path, model_path, out_path, explainer: str, params: dict, shard_size: int,
                  max_eval: int | None, created=None, model_json=None) -> None:
    """Create the empty saliency array of one (dataset, model, explainer[+variant]); then, if
    ``created`` is given, write that small JSON file (what the shard jobs depend on). With
    ``model_json``, an explainer the model's facts refuse stops here (:func:`check_applicable`).

    The array starts with a row per studied image; the shard jobs resize it when the study grows.
    """
    if model_json is not None:
        check_applicable(model_json, explainer, Path(model_json).stem)
    store = DatasetStore(store_path)
    ev = store.split("eval")
    n = n_images(store, max_eval)
    h, w = ev.images.shape[-2:]
    _, variant = split_variant(explainer)
    k = copies(explainer)
    create_saliency(out_path, n, h, w, shard_size, {
        "explainer": explainer, "params": params, "model_checksum": file_checksum(model_path),
        "ids": ev.ids[:n], "shard_size": shard_size, "variant": variant},
        copies=k if k > 1 else None)
    if created is not None:
        with open(created, "w") as fh:
            json.dump({"array": str(out_path), "explainer": explainer, "params": params}, fh, indent=1)


def finalize(sal_path, shard_reports, out_json) -> dict:
    """Size the saliency array to its shards' images (all reports, in order), check every row is
    written and finite, mark it complete, and record total seconds and targets."""
    reports = sorted((read_shard_report(f) for f in shard_reports), key=lambda r: r["start"])
    bounds = [0] + [b for r in reports for b in (r["start"], r["stop"])]
    if not reports or any(a != b for a, b in zip(bounds[0::2], bounds[1::2])):
        raise HeatcheckError(f"the shard reports of {sal_path} do not cover the images from 0 without gaps "
                             f"(starts {[r['start'] for r in reports]}); rerun their shards")
    resize_saliency(sal_path, [i for r in reports for i in r["ids"]])
    seconds = float(sum(r["seconds"] for r in reports))
    targets = [t for r in reports for t in r["targets"]]
    finalize_saliency(sal_path, {"seconds": seconds, "targets": targets, "shards": len(reports)})
    summary = {"path": str(sal_path), "seconds": seconds, "shards": len(reports), "n": len(targets),
               "heatcheck_version": __version__}
    with open(out_json, "w") as fh:
        json.dump(summary, fh, indent=1)
    return summary
