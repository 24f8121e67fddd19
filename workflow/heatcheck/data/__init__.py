"""Dataset kinds (registry :data:`DATASETS`) and their loading into a :class:`Loaded`."""

from .base import DATASETS, DatasetKind, Loaded, Split  # noqa: F401
from . import shapes, digits  # noqa: F401  (register the kinds)
from . import imagenet, voc, cifar10  # noqa: F401


def load_dataset(spec: dict) -> Loaded:
    """Load the dataset described by one validated ``datasets.<name>`` config entry."""
    params = {k: v for k, v in spec.items() if k not in ("kind", "models")}
    return DATASETS.get(spec["kind"])(**params).load()
