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

from ..lazy import torch  # noqa: F401  (annotations)
from ..methods import Method, Param  # noqa: F401  (re-exported: what a plugin subclasses and declares)
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


class Metric(Method):
    """Base class of evaluation metrics.

    A subclass declares (torch-free, :mod:`heatcheck.methods`) its ``params``, its ``needs``
    (``boxes``, ``shapley``, ``features``, ``reruns``), its forward passes per map (:meth:`passes`),
    its configurations (:meth:`configs`) and ``higher_is_better``, and implements ``__call__``.

    Class attributes
    ----------------
    higher_is_better : bool
        Direction of the score (used to align signs in correlations).
    axes : tuple of str
        Names of the configuration axes; :meth:`configurations` lists their combinations.
    needs : tuple of str
        ``boxes``: needs object boxes (the pointing game), skipped on datasets without them;
        ``shapley``, ``features``, ``reruns``: what the score jobs read besides the maps (the
        ``shapley``, ``alpha`` and ``masked_saliency`` keywords of the call).
    binary : bool
        Scores are 0/1 (point-biserial correlation in the analyses).
    per_explainer : bool
        Scored per (model, explainer) from a saliency array (False for metrics such as mutual
        verification that compare explainers with each other).
    """

    higher_is_better: bool = True
    axes: tuple[str, ...] = ()
    binary: bool = False
    has_curves: bool = False
    per_explainer: bool = True
    #: the configuration standing for the metric where it is one column among others
    #: (inter-method reliability, rankings, the report card; ``analysis.primary`` overrides it):
    #: a :meth:`config_key` without a uniform seed suffix, or ``mean`` (over its configurations)
    primary: str = "mean"

    def __init__(self, batch_size: int = 256, seed: int = 0, **params):
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.params = self.fill(params)

    @classmethod
    def configs(cls, params: dict) -> list[dict]:
        """One dict of axis values per configuration of ``params`` (filled), in a fixed order:
        the ``config`` column of the score table (:meth:`config_key`). Torch-free: the config
        check of ``analysis.primary`` reads it."""
        return [{}]

    def configurations(self) -> list[dict]:
        """The configurations of this metric's parameters (:meth:`configs`)."""
        return type(self).configs(self.params)

    #: a short name of a configuration, e.g. ``mean+pixel`` or ``uniform+region+s2``
    config_key = staticmethod(default_key)

    @classmethod
    def primary_params(cls, params: dict, choice: str) -> dict:
        """``params`` (filled) reduced to what scores configuration ``choice`` (one of its
        :meth:`config_key` names, seeds averaged) with the same name, or ``params`` itself where
        the metric cannot score one configuration alone (the default). The report card's reruns
        are scored with it (:func:`heatcheck.metric_configs.primary_params`)."""
        return dict(params)

    @classmethod
    def passes(cls, params: dict, side: int) -> tuple[float, float]:
        """Forward passes per map (and 0 backward) with ``params`` (filled) on ``side``-px
        images: every metric declares its own (0: scored in Snakemake's process, no GPU job)."""
        raise NotImplementedError(f"{cls.__qualname__} does not declare passes(params, side)")

    def passes_per_image(self, side: int) -> float:
        return float(sum(type(self).passes(self.params, side)))

    def __call__(self, model, x: torch.Tensor, saliency: torch.Tensor, targets: torch.Tensor, *,
                 index: torch.Tensor | None = None, boxes: np.ndarray | None = None,
                 masks: np.ndarray | None = None, signed: bool | None = None) -> MetricResult:
        raise NotImplementedError
