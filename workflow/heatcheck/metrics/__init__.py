"""Evaluation metrics (registry :data:`METRICS`), one class per metric.

Every module of this package is imported (and so registers its classes): a new built-in metric
is one class in one module, and its test. Importing them needs no torch (:mod:`heatcheck.lazy`).
"""

import importlib
import pkgutil

from .base import METRICS, Metric, MetricResult, Param  # noqa: F401  (Param: what a plugin declares)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def make_metric(name: str, params: dict, **kw) -> Metric:
    """Instantiate the metric of config entry ``metrics.<name>`` (built in or a plugin,
    :func:`heatcheck.plugins.method_class`) with its ``params``."""
    from ..plugins import method_class

    cls = method_class("metrics", name, params)
    return cls(**kw, **{k: v for k, v in (params or {}).items() if k != "class"})
