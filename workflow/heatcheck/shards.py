"""Light (torch-free) parts of the sharded stages: shard ranges, creating and finalizing the
saliency arrays. Rules that only need these run inside Snakemake's own process."""

from __future__ import annotations

import json
from pathlib import Path

import zarr

from . import HeatcheckError, __version__
from .store import DatasetStore, create_saliency, file_checksum, finalize_saliency


def n_images(store: DatasetStore, max_eval: int | None) -> int:
    """Eval images studied: all, or the first ``max_eval``."""
    n = len(store.split("eval"))
    return n if max_eval is None else min(n, int(max_eval))


def shard_range(shard: int, shard_size: int, n: int) -> tuple[int, int]:
    start = shard * shard_size
    if start >= n:
        raise HeatcheckError(f"shard {shard} starts at image {start}, beyond the {n} images")
    return start, min(n, start + shard_size)


#: variants of an explainer's saliency array: maps of transformed copies of each image
#: (``{explainer}+halfmasked``: the left, right, top and bottom half set to the mean, eq. 5 of
#: the second paper), and how many copies each image has
VARIANTS = {"halfmasked": 4}


def split_variant(name: str) -> tuple[str, str | None]:
    """``"rise+halfmasked"`` -> ``("rise", "halfmasked")``; ``"rise"`` -> ``("rise", None)``."""
    base, _, variant = name.partition("+")
    if variant and variant not in VARIANTS:
        raise HeatcheckError(f"unknown saliency variant {variant!r} in {name!r}; valid: {', '.join(VARIANTS)}")
    return base, variant or None


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
    ``model_json``, an explainer the model's facts refuse stops here (:func:`check_applicable`)."""
    if model_json is not None:
        check_applicable(model_json, explainer, Path(model_json).stem)
    store = DatasetStore(store_path)
    ev = store.split("eval")
    n = n_images(store, max_eval)
    h, w = ev.images.shape[-2:]
    _, variant = split_variant(explainer)
    create_saliency(out_path, n, h, w, shard_size, {
        "explainer": explainer, "params": params, "model_checksum": file_checksum(model_path),
        "ids": ev.ids[:n], "shard_size": shard_size, "variant": variant},
        copies=VARIANTS.get(variant))
    if created is not None:
        with open(created, "w") as fh:
            json.dump({"array": str(out_path), "explainer": explainer, "params": params, "n": n}, fh, indent=1)


def zarr_rows(path) -> int:
    """Number of maps of a saliency array."""
    return zarr.open_array(str(path), mode="r").shape[0]


def finalize(sal_path, shard_reports, out_json) -> dict:
    """Mark the saliency array complete; record total seconds and targets."""
    reports = []
    for f in shard_reports:
        with open(f) as fh:
            reports.append(json.load(fh))
    reports.sort(key=lambda r: r["start"])
    seconds = float(sum(r["seconds"] for r in reports))
    targets = [t for r in reports for t in r["targets"]]
    finalize_saliency(sal_path, {"seconds": seconds, "targets": targets, "shards": len(reports)})
    summary = {"path": str(sal_path), "seconds": seconds, "shards": len(reports), "n": len(targets),
               "heatcheck_version": __version__}
    with open(out_json, "w") as fh:
        json.dump(summary, fh, indent=1)
    return summary
