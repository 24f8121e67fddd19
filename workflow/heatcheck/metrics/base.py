"""The metric interface and registry.

A metric scores saliency maps of a batch of images: ``Metric(**params)(model, x, saliency,
targets, index=..., boxes=..., masks=..., signed=...)`` returns a :class:`MetricResult` with one
score per (image, configuration), and curves where the metric has them. Images are normalized
(zero = dataset mean), maps raw and signed (each metric post-processes them as its definition
says); ``signed`` is the explainer's declaration about its maps' sign (``Explainer.signed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..metric_configs import default_key
from ..registry import Registry

#: Metrics by config name (``metrics.<name>``).
METRICS: Registry["Metric"] = Registry("metric")


@dataclass
class MetricResult:
    """Scores (B, n_configs); optional curves (B, n_configs, n_points), NaN after the last point
    of configurations with fewer points; extra per-(image, configuration) columns (name ->
    (B, n_configs) array)."""

    scores: np.ndarray
    curves: np.ndarray | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)


class Metric:
    """Base class of evaluation metrics.

    Class attributes
    ----------------
    higher_is_better : bool
        Direction of the score (used to align signs in correlations).
    axes : tuple of str
        Names of the configuration axes; :meth:`configurations` lists their combinations.
    needs_boxes : bool
        Needs object boxes (the pointing game); skipped on datasets without them.
    binary : bool
        Scores are 0/1 (point-biserial correlation in the analyses).
    per_explainer : bool
        Scored per (model, explainer) from a saliency array (False for metrics such as mutual
        verification that compare explainers with each other).
    """

    name: str = ""
    higher_is_better: bool = True
    axes: tuple[str, ...] = ()
    needs_boxes: bool = False
    binary: bool = False
    has_curves: bool = False
    per_explainer: bool = True

    def __init__(self, batch_size: int = 256, seed: int = 0, **params):
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.params = params

    def configurations(self) -> list[dict]:
        """One dict of axis values per configuration, in a fixed order (the torch-free
        declaration in :mod:`heatcheck.metric_configs`)."""
        from ..metric_configs import CONFIGURATIONS

        return CONFIGURATIONS[self.name][0](self.params) if self.name in CONFIGURATIONS else [{}]

    #: a short name of a configuration, e.g. ``mean+pixel`` or ``uniform+region+s2``
    #: (``heatcheck.metric_configs``, torch-free, declares them for the config check too)
    config_key = staticmethod(default_key)

    def passes_per_image(self, side: int) -> float:
        return 0.0

    def __call__(self, model, x: torch.Tensor, saliency: torch.Tensor, targets: torch.Tensor, *,
                 index: torch.Tensor | None = None, boxes: np.ndarray | None = None,
                 masks: np.ndarray | None = None, signed: bool | None = None) -> MetricResult:
        raise NotImplementedError
