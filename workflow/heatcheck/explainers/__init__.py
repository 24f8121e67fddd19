"""Explanation methods (registry :data:`EXPLAINERS`), one class per method.

Wraps captum, shap and zennit where they implement a method; the rest is written here. Every
module of this package is imported (and so registers its classes): a new built-in explainer is
one class in one module, and its test. Importing them needs no torch (:mod:`heatcheck.lazy`).
"""

import importlib
import pkgutil

from .base import EXPLAINERS, Explainer, Param, check_finite  # noqa: F401  (Param: what a plugin declares)

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def make_explainer(name: str, model, params: dict, **kw) -> Explainer:
    """Instantiate the explainer of config entry ``explainers.<name>`` (built in or a plugin,
    :func:`heatcheck.plugins.method_class`) with its ``params``."""
    from ..plugins import method_class

    cls = method_class("explainers", name, params)
    return cls(model, **kw, **{k: v for k, v in (params or {}).items() if k != "class"})
