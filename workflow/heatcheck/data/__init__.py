"""Dataset kinds (registry :data:`DATASETS`) and their loading into a :class:`Loaded`."""

from .base import DATASETS, DatasetKind, KindFacts, Loaded, Split, image_digests, model_digest  # noqa: F401
from . import shapes, digits  # noqa: F401  (register the kinds)
from . import imagenet, voc, cifar10  # noqa: F401
from . import folder, arrays  # noqa: F401


def load_dataset(spec: dict) -> Loaded:
    """Load the dataset described by one validated ``datasets.<name>`` config entry."""
    params = {k: v for k, v in spec.items() if k not in ("kind", "models")}
    return DATASETS.get(spec["kind"])(**params).load()


def summarize(loaded: Loaded, kind: str) -> dict:
    """The summary of a prepared dataset (``images.json``, the checkpoint the workflow's DAG is
    built from): split sizes, image shape, classes, boxes and masks, and ``digests``: one per eval
    image and one of what the models depend on (:func:`image_digests`, :func:`model_digest`),
    from which each job's params say which images it depends on."""
    ev = loaded.splits["eval"]
    return {"kind": kind, "n": {k: len(s) for k, s in loaded.splits.items()}, "size": list(ev.images.shape[1:]),
            "num_classes": len(loaded.class_names), "has_boxes": ev.boxes is not None,
            "has_masks": ev.masks is not None,
            "digests": {"model": model_digest(loaded), "eval": image_digests(ev)}}


def kind_facts(spec: dict) -> KindFacts:
    """The facts of one validated ``datasets.<name>`` entry (torch-free: config checks, rule
    resources and the cost report read them)."""
    return DATASETS.get(spec["kind"]).facts(spec)
