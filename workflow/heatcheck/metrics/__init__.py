"""Evaluation metrics (registry :data:`METRICS`), one class per metric."""

from .base import METRICS, Metric, MetricResult, Param  # noqa: F401  (Param: what a plugin declares)
from . import localization, objectiveness, perturbation, road  # noqa: F401  (register)


def make_metric(name: str, params: dict, **kw) -> Metric:
    """Instantiate the metric of config entry ``metrics.<name>`` (built in or a plugin,
    :func:`heatcheck.plugins.method_class`) with its ``params``."""
    from ..plugins import method_class

    cls = method_class("metrics", name, params)
    return cls(**kw, **{k: v for k, v in (params or {}).items() if k != "class"})
