"""Evaluation metrics (registry :data:`METRICS`), one class per metric."""

from .base import METRICS, Metric, MetricResult  # noqa: F401
from . import localization, objectiveness, perturbation, road  # noqa: F401  (register)


def make_metric(name: str, params: dict, **kw) -> Metric:
    """Instantiate the registered metric ``name`` with config ``params``."""
    return METRICS.get(name)(**kw, **(params or {}))
