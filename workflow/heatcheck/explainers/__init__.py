"""Explanation methods (registry :data:`EXPLAINERS`), one class per method.

Wraps captum, shap and zennit where they implement a method; the rest is written here.
"""

from .base import EXPLAINERS, Explainer, Param, check_finite  # noqa: F401  (Param: what a plugin declares)
from . import gradient  # noqa: F401  (register)

for _mod in ("perturbation", "propagation", "optimization"):
    try:  # TEMP: modules being written in parallel
        __import__(f"{__name__}.{_mod}")
    except ModuleNotFoundError:
        pass


def make_explainer(name: str, model, params: dict, **kw) -> Explainer:
    """Instantiate the explainer of config entry ``explainers.<name>`` (built in or a plugin,
    :func:`heatcheck.plugins.method_class`) with its ``params``."""
    from ..plugins import method_class

    cls = method_class("explainers", name, params)
    return cls(model, **kw, **{k: v for k, v in (params or {}).items() if k != "class"})
