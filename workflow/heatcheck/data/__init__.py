"""Dataset kinds (registry :data:`DATASETS`) and their loading into a :class:`Loaded`."""

from .base import DATASETS, DatasetKind, KindFacts, Loaded, Split  # noqa: F401
from . import shapes, digits  # noqa: F401  (register the kinds)
from . import imagenet, voc, cifar10  # noqa: F401
from . import folder, arrays  # noqa: F401


def load_dataset(spec: dict) -> Loaded:
    """Load the dataset described by one validated ``datasets.<name>`` config entry."""
    params = {k: v for k, v in spec.items() if k not in ("kind", "models")}
    return DATASETS.get(spec["kind"])(**params).load()


def kind_facts(spec: dict) -> KindFacts:
    """The facts of one validated ``datasets.<name>`` entry (torch-free: config checks, rule
    resources and the cost report read them)."""
    return DATASETS.get(spec["kind"]).facts(spec)
