"""Explanation methods (registry :data:`EXPLAINERS`), one class per method.

Wraps captum, shap and zennit where they implement a method; the rest is written here.
"""

from .base import EXPLAINERS, Explainer, check_finite  # noqa: F401
from . import gradient  # noqa: F401  (register)

for _mod in ("perturbation", "propagation", "optimization"):
    try:  # TEMP: modules being written in parallel
        __import__(f"{__name__}.{_mod}")
    except ModuleNotFoundError:
        pass


def make_explainer(name: str, model, params: dict, **kw) -> Explainer:
    """Instantiate the registered explainer ``name`` with config ``params``."""
    return EXPLAINERS.get(name)(model, **kw, **(params or {}))
