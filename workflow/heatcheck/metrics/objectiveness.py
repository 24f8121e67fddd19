"""Metrics of the second paper, *Evaluating explanation objectiveness without ground truth*
(section 3, eqs. 3-6): pixel-level bias against sampled Shapley values, unexplainable feature
components, robustness to masking half the image, and mutual verification between explainers.

The functions are pure, batched computations (torch inside, numpy or torch accepted; scores are
returned as float64 numpy arrays). The :class:`~.base.Metric` classes wrap them for the scoring
stage; what a metric needs beyond the batch (the Shapley estimate, the normalization alpha, the
maps of the masked images) is handed in by the caller as a keyword.

Images are normalized, so 0 is the dataset mean: "masking" a pixel sets it (all channels) to 0.
Maps are raw and signed, (B, H, W); every L2 norm ``||a||`` is over all pixels of one map.
Throughout, a map of zero norm is normalized to the zero map (``a / ||a|| := 0``), so no score
is ever NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from ..lazy import nn, torch
from .. import HeatcheckError, metric_configs
from ..metric_configs import DEFAULT_KS, DEFAULT_TAUS, HALVES  # noqa: F401  (re-exported)
from ..metric_configs import subset_size as _subset_size
from ..shapley import cell_grid, to_cells
from ..costs import shapley_cell
from ..derived import apply_half_masks, half_masks  # noqa: F401  (re-exported; the reruns' masks)
from .base import METRICS, Metric, MetricResult, Param

log = logging.getLogger(__name__)
#: relative tolerance (of ``sum |a|``) of the budget comparison in :func:`mask_lowest`: maps are
#: often float32 (rounding ~6e-8 per value), so a budget met exactly in decimals is still met
MASK_RTOL = 1e-6


# --------------------------------------------------------------------------------------------
# helpers


def _double(a, device=None) -> torch.Tensor:
    """A float64 tensor of an array or tensor (on ``device`` if given, else where it is)."""
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    return t.to(device=device if device is not None else t.device, dtype=torch.float64)


def _unit(flat: torch.Tensor) -> torch.Tensor:
    """Rows divided by their L2 norm; rows of zero norm stay zero (never NaN)."""
    norm = flat.norm(dim=1, keepdim=True)
    return torch.where(norm > 0, flat / norm.clamp(min=torch.finfo(flat.dtype).tiny), torch.zeros_like(flat))


# --------------------------------------------------------------------------------------------
# eq. (3): bias of the attribution map at the pixel level


def has_negative(attribution) -> np.ndarray:
    """Whether each map has a negative value: (B,) bool.

    Table 2 of the paper: the pixel-level bias metric presumes a map "with both positive and
    negative values"; maps without negative values (e.g. after a ReLU, or magnitudes) are flagged
    with this.

    Parameters
    ----------
    attribution : array or Tensor
        (B, ...) maps (any shape after the batch axis).
    """
    t = attribution if isinstance(attribution, torch.Tensor) else torch.as_tensor(np.asarray(attribution))
    return (t.reshape(len(t), -1) < 0).any(1).cpu().numpy()


def shapley_bias_scores(shap, attribution, ks: Sequence[float] = DEFAULT_KS) -> np.ndarray:
    """Per-image pixel-level bias, eq. (3) of the paper, for the top and bottom k% players.

    .. math::

        M_{pixel} = E_I\\Bigl[\\frac{1}{|S|}\\Bigl|\\sum_{i\\in S}\\frac{A^{shap}_i}{\\|A^{shap}\\|}
                    - \\sum_{i\\in S}\\frac{a_i}{\\|a\\|}\\Bigr|\\Bigr]
        \\quad\\text{s.t. } \\forall i\\in S, j\\in\\Omega\\setminus S:\\ a_i \\ge a_j
        \\text{ (top) or } a_i \\le a_j \\text{ (bottom)}

    This returns the bracket per image (the mean over images is the caller's).

    Parameters
    ----------
    shap : array or Tensor
        (B, P) Shapley estimates ``A^shap`` of the P players.
    attribution : array or Tensor
        (B, P) attributions ``a`` of the same players (the signed map summed per player).
    ks : sequence of float
        Percentages k; ``|S| = round(k / 100 * P)`` rounded half up, at least 1 (at most P).

    Returns
    -------
    ndarray
        (B, 2 * len(ks)) float64: columns ``top k`` for each k in order, then ``bottom k``.

    Notes
    -----
    S is taken by rank of ``a`` (not ``A^shap``). Ties are broken by player index: among equal
    attributions the lower index enters S first, for the top and for the bottom side alike.
    The norms are L2 over all P players; a map of zero norm contributes 0 (``a/||a|| := 0``).
    """
    s = _double(shap)
    a = _double(attribution, s.device)
    if s.ndim != 2 or s.shape != a.shape:
        raise ValueError(f"shap and attribution must both be (B, P); got {tuple(s.shape)} and {tuple(a.shape)}")
    p = a.shape[1]
    if p == 0:
        raise ValueError("shapley_bias_scores needs at least one player")
    diff = _unit(s) - _unit(a)
    sizes = torch.tensor([_subset_size(k, p) for k in ks], device=a.device)
    cols = []
    for descending in (True, False):
        order = torch.argsort(-a if descending else a, dim=1, stable=True)
        cum = diff.gather(1, order).cumsum(1)  # (B, P): sum over the first j+1 players of S
        cols.append(cum[:, sizes - 1].abs() / sizes.to(cum.dtype))
    return torch.cat(cols, 1).cpu().numpy()


@METRICS.register("shapley_bias")
class ShapleyBias(Metric):
    """Bias of the attribution map at the pixel level (eq. 3): per image and configuration,
    ``| sum_{i in S} A^shap_i / ||A^shap|| - sum_{i in S} a_i / ||a|| | / |S|`` with S the top
    (or bottom) k% players by attribution. Lower is better.

    Parameters (config ``metrics.shapley_bias``)
    --------------------------------------------
    ks : list of float, default [10, 30, 50, 70, 90]
        Percentages of players in S.
    samples, cell, antithetic
        Settings of the Shapley estimate (read by the store that computes it); ``cell`` is also
        the default player side here.

    The Shapley estimate (B, P) comes in through the ``shapley`` keyword; the raw signed map is
    summed onto the same ``cell x cell`` players (:func:`heatcheck.shapley.to_cells`, row-major
    cells), which is the attribution ``a`` of a player. Extra columns (per image, repeated over
    the configurations): ``has_negative`` (0/1), the map has a negative pixel, and
    ``declared_signed`` (1/0, NaN if undeclared), the explainer's declaration
    (:attr:`heatcheck.explainers.Explainer.signed`, the ``signed`` keyword). The metric presumes
    maps of both signs (paper, Table 2): :func:`heatcheck.analysis.tables.shapley_bias_table`
    marks the explainers whose maps are not.
    """

    higher_is_better = False
    axes = ("side", "k")
    needs = ("shapley",)
    params = (
        Param("samples", "integer", 1000, "Permutation walks per image (paper 1000 for CIFAR, 100 for VOC).",
              minimum=1),
        Param("antithetic", "boolean", False, "Walk permutations in (pi, reversed pi) pairs."),
        Param("cell", "integer", None, "Player side in pixels (null = 1 up to 64 px, side/32 above).", minimum=1,
              nullable=True),
        Param("output", choices=("prob", "logit"), default="prob", description="the model output the values explain"),
        Param("ks", "array", list(DEFAULT_KS), "Percent of the players in the top and bottom sets S.",
              items={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100,
                     "description": "Percent of the players in the top and bottom sets S (at 100 both are all "
                                    "players: the same set)."}, min_items=1, unique=True))
    configs = staticmethod(metric_configs.shapley_bias)

    @classmethod
    def passes(cls, params, side):
        return 0.0, 0.0  # the Shapley values are a stage of their own (heatcheck.costs.shapley_passes)

    @classmethod
    def limits(cls, params, side):
        return [("cell", shapley_cell(params, side), side - 1, "the image side minus 1",
                 "one cell would be the whole image, a single player")]

    def ks(self) -> list:
        return metric_configs.shapley_bias_ks(self.params)

    def __call__(self, model, x, saliency, targets, index=None, boxes=None, masks=None, shapley=None,
                 cell=None, signed=None, **kw):
        """Score a batch.

        Parameters
        ----------
        saliency : Tensor
            (B, H, W) raw signed maps.
        shapley : array, Tensor or ShapleyEstimate
            (B, P) (or (B, Hc, Wc)) Shapley estimates of the same images, players in row-major
            cell order.
        cell : int, optional
            Player side in pixels; default the ``cell`` parameter, else 1.
        signed : bool, optional
            Whether the explainer's maps take both signs by definition (None: not declared).
        """
        if shapley is None:
            raise HeatcheckError("shapley_bias needs the images' Shapley estimates (keyword 'shapley')")
        shapley = getattr(shapley, "estimate", shapley)
        cell = int(cell if cell is not None else self.params["cell"] or 1)
        sal = _double(saliency)
        b, h, w = sal.shape
        grid = cell_grid(h, w, cell)
        shap = _double(shapley, sal.device).reshape(len(shapley), -1)
        if shap.shape != (b, grid[0] * grid[1]):
            raise HeatcheckError(f"shapley_bias: the Shapley estimate has shape {tuple(shap.shape)}, expected "
                                 f"({b}, {grid[0] * grid[1]}) for {b} {h}x{w} maps with cell {cell}")
        a = to_cells(sal, cell).reshape(b, -1)
        scores = shapley_bias_scores(shap, a, self.ks())
        neg = has_negative(sal)
        if signed is False and neg.any():
            log.warning("shapley_bias: a map declared never negative has negative values (batch image %d)",
                        int(np.flatnonzero(neg)[0]))
        declared = np.nan if signed is None else float(signed)
        return MetricResult(scores, extra={"has_negative": np.repeat(neg.astype(np.int8)[:, None], scores.shape[1], 1),
                                           "declared_signed": np.full(scores.shape, declared)})


# --------------------------------------------------------------------------------------------
# eq. (4): unexplainable feature components


def mask_lowest(attribution, tau: float):
    """The pixels of lowest ``|a|`` that carry at most a fraction tau of the map's total ``|a|``.

    The paper masks "a set of pixels S with the lowest absolute attributions ... subject to
    ``sum_{i in S} |a_i| = tau * sum_{i in Omega} |a_i|``". Equality is generally not reachable,
    so S is the greedy prefix: pixels in ascending ``|a|`` (ties by pixel index, row-major), taken
    while the running sum stays ``<= tau * sum |a|`` (up to :data:`MASK_RTOL` of the total, so
    that float rounding does not drop a pixel that exactly meets the budget).

    Consequences (documented choices):

    * ``tau <= 0`` masks nothing (the identity: the masked image is the image);
    * for ``tau > 0`` pixels with ``a_i = 0`` are always masked (they carry no attribution);
    * hence a map of all zeros (``sum |a| = 0``) masks **every** pixel when ``tau > 0``: a map
      that explains nothing leaves nothing explained, and this is the limit of maps whose total
      shrinks to 0 (masking nothing would give such a map the best possible score);
    * ``tau >= 1`` masks everything.

    Parameters
    ----------
    attribution : array or Tensor
        (B, H, W) maps (any shape after the batch axis); only ``|a|`` matters.
    tau : float
        Fraction of the total absolute attribution that may be masked.

    Returns
    -------
    Tensor or ndarray
        Bool mask of the input's shape, True = masked; a tensor on the input's device for a
        tensor input, else an ndarray.
    """
    is_np = not isinstance(attribution, torch.Tensor)
    t = _double(attribution)
    flat = t.reshape(len(t), -1).abs()
    if tau <= 0:
        mask = torch.zeros_like(flat, dtype=torch.bool)
    else:
        order = torch.argsort(flat, dim=1, stable=True)
        cum = flat.gather(1, order).cumsum(1)
        total = cum[:, -1:] if flat.shape[1] else torch.zeros(len(flat), 1, dtype=flat.dtype, device=flat.device)
        n = (cum <= float(tau) * total + MASK_RTOL * total).sum(1, keepdim=True)  # prefix: cum is monotone
        ranks = torch.arange(flat.shape[1], device=flat.device).expand_as(flat)
        mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, order, ranks < n)
    mask = mask.view(t.shape)
    return mask.cpu().numpy() if is_np else mask


def last_conv_features(model: nn.Module, x: torch.Tensor, batch_size: int, *, layer: nn.Module | None = None,
                       device=None) -> torch.Tensor:
    """The flattened output of ``last_conv(model)`` (the last convolutional feature map), (N, D).

    Captured with a forward hook during ordinary forward passes of ``batch_size`` images (the
    output of the module's last call in a pass is kept); the hook is removed afterwards.

    Parameters
    ----------
    model : nn.Module
        Classifier of normalized images, in eval mode.
    x : Tensor or array
        (N, C, H, W) normalized images; any object sliceable along dim 0 (e.g. a numpy memmap)
        works, each chunk is moved to the model's device.
    batch_size : int
        Images per forward pass.
    layer : nn.Module, optional
        The hooked module (default :func:`heatcheck.models.last_conv`).
    device : optional
        Where the features are returned (default the model's device).

    Returns
    -------
    Tensor
        (N, D) float32 features ``f_I``.
    """
    if layer is None:
        from ..models import last_conv  # lazy: the model zoo is only needed here
        layer = last_conv(model)
    param = next(model.parameters(), None)
    dev = param.device if param is not None else torch.device("cpu")
    captured: list[torch.Tensor] = []

    def hook(module, inputs, output):
        captured[:] = [output]

    out = []
    handle = layer.register_forward_hook(hook)
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                chunk = torch.as_tensor(np.asarray(x[i:i + batch_size]) if not isinstance(x, torch.Tensor)
                                        else x[i:i + batch_size]).to(dev)
                captured.clear()
                model(chunk)
                if not captured:
                    raise HeatcheckError(f"the hooked layer {type(layer).__name__} did not run in the forward pass")
                f = captured[0].detach().flatten(1).float()
                out.append(f.to(device) if device is not None else f)
    finally:
        handle.remove()
    if not out:
        return torch.empty(0, 0, device=device if device is not None else dev)
    return torch.cat(out)


def feature_alpha(model: nn.Module, x_all, batch_size: int = 256) -> float:
    """The normalization of eq. (4), from the original images only.

    .. math::

        \\alpha = \\frac{1}{E_{I'}\\bigl[\\|f_{I'} - E_{I''}[f_{I''}]\\|\\bigr]}

    with f the flattened last-convolutional feature map (:func:`last_conv_features`) and the
    expectations over the evaluated images ``x_all`` (means over images; the feature mean is
    accumulated in float64).

    Parameters
    ----------
    model : nn.Module
        Classifier in eval mode.
    x_all : Tensor or array
        (N, C, H, W) normalized images (all images the metric is evaluated on). Their features
        are held on the CPU in float32 (N * D * 4 bytes).
    batch_size : int
        Images per forward pass.

    Returns
    -------
    float
        alpha; an error if the mean distance is 0 (fewer than 2 distinct feature vectors).
    """
    f = last_conv_features(model, x_all, batch_size, device="cpu")
    if len(f) == 0:
        raise HeatcheckError("feature_alpha needs at least one image")
    mean = f.double().mean(0)
    spread = float((f.double() - mean).norm(dim=1).mean())
    if not spread > 0:
        raise HeatcheckError("feature_alpha: all images have the same features (mean distance 0), alpha is undefined")
    return 1.0 / spread


@METRICS.register("unexplainable_features")
class UnexplainableFeatures(Metric):
    """Unexplainable feature components (eq. 4): per image ``alpha * ||f~_I - f_I||``, with
    ``f_I`` the flattened last-convolutional features of the image and ``f~_I`` those of the
    image whose lowest-``|a|`` pixels carrying a fraction tau of ``sum |a|`` are set to 0 (the
    dataset mean; :func:`mask_lowest`). The mean over images is

    .. math::  M_{feature} = \\alpha\\, E_I\\bigl[\\|\\tilde f_I - f_I\\|\\bigr].

    Lower is better.

    Parameters (config ``metrics.unexplainable_features``)
    ------------------------------------------------------
    taus : list of float, default [0.05, 0.1]

    ``alpha`` (:func:`feature_alpha` over the evaluated images) comes in as a keyword. Extra
    columns: ``masked_fraction`` (share of the pixels masked; the paper reports about 30%) and
    ``distance`` (the unnormalized ``||f~_I - f_I||``).
    """

    higher_is_better = False
    axes = ("tau",)
    needs = ("features",)
    params = (Param("taus", "array", list(DEFAULT_TAUS), "shares of the total |a| masked",
                    items={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, min_items=1,
                    unique=True),)
    configs = staticmethod(metric_configs.unexplainable_features)
    primary = "0.05"
    primary_params = staticmethod(metric_configs.unexplainable_features_primary)

    @classmethod
    def passes(cls, params, side):
        return 1.0 + len(params["taus"]), 0.0

    def taus(self) -> list:
        return metric_configs.unexplainable_features_taus(self.params)

    def __call__(self, model, x, saliency, targets, index=None, boxes=None, masks=None, alpha=None, **kw):
        if alpha is None:
            raise HeatcheckError("unexplainable_features needs alpha (keyword 'alpha', see feature_alpha)")
        taus = self.taus()
        b = len(x)
        m = torch.stack([torch.as_tensor(mask_lowest(saliency, t)) for t in taus], 1).to(x.device)  # (B, T, H, W)
        masked = torch.where(m.unsqueeze(2), torch.zeros((), dtype=x.dtype, device=x.device),
                             x.unsqueeze(1)).flatten(0, 1)  # (B*T, C, H, W), image-major
        f = last_conv_features(model, x, self.batch_size).double()
        f_masked = last_conv_features(model, masked, self.batch_size).double().view(b, len(taus), -1)
        dist = (f_masked - f.unsqueeze(1)).norm(dim=2).cpu().numpy()
        return MetricResult(float(alpha) * dist, extra={
            "masked_fraction": m.flatten(2).double().mean(2).cpu().numpy(), "distance": dist})


# --------------------------------------------------------------------------------------------
# eq. (5): robustness to spatial masking


def non_robustness(a, a_masked, masks) -> np.ndarray:
    """Per-image, per-mask non-robustness, eq. (5) of the paper.

    .. math::

        M_{non\\text{-}robust} = E_I\\Bigl[\\frac{1}{\\|a\\|}
            \\sqrt{\\textstyle\\sum_{i \\in I \\setminus I_{mask}} (a_i - \\hat a_i)^2}\\Bigr]

    This returns the bracket per image and mask.

    Parameters
    ----------
    a : array or Tensor
        (B, H, W) maps of the original images.
    a_masked : array or Tensor
        (B, K, H, W) maps of the masked images (same target class), K = 4 for :func:`half_masks`.
    masks : array or Tensor
        (K, H, W) bool, True = masked; the sum runs over the unmasked pixels.

    Returns
    -------
    ndarray
        (B, K) float64. ``||a||`` is the L2 norm of the whole original map; a map of zero norm
        scores 0 (never NaN).
    """
    a = _double(a)
    ah = _double(a_masked, a.device)
    keep = ~torch.as_tensor(np.asarray(masks) if not isinstance(masks, torch.Tensor) else masks,
                            device=a.device).bool()
    if ah.shape[0] != a.shape[0] or ah.shape[2:] != a.shape[1:] or keep.shape != ah.shape[1:]:
        raise ValueError(f"shapes do not match: a {tuple(a.shape)}, a_masked {tuple(ah.shape)}, masks {tuple(keep.shape)}")
    diff = torch.where(keep, a.unsqueeze(1) - ah, torch.zeros((), dtype=a.dtype, device=a.device))
    num = diff.flatten(2).pow(2).sum(2).sqrt()
    norm = a.flatten(1).norm(dim=1, keepdim=True)
    out = torch.where(norm > 0, num / norm.clamp(min=torch.finfo(a.dtype).tiny), torch.zeros_like(num))
    return out.cpu().numpy()


@METRICS.register("masking_robustness")
class MaskingRobustness(Metric):
    """Non-robustness to spatial masking (eq. 5): per image and half, the L2 distance between the
    original map and the map of the half-masked image over the unmasked pixels, divided by the
    norm of the original map. Lower is better.

    The maps of the masked images (:func:`apply_half_masks`, explained for the same targets) come
    in as ``masked_saliency`` (B, 4, H, W), halves in the order left, right, top, bottom.
    """

    higher_is_better = False
    axes = ("half",)
    needs = ("reruns",)
    params = (Param("explainers", "array", None, "Explainers to rerun on the four half-masked copies (null = all).",
                    items={"type": "string"}, unique=True, nullable=True),)
    configs = staticmethod(metric_configs.masking_robustness)

    @classmethod
    def passes(cls, params, side):
        return 0.0, 0.0  # the reruns are saliency jobs (the explainers' passes on the copies)

    def __call__(self, model, x, saliency, targets, index=None, boxes=None, masks=None, masked_saliency=None, **kw):
        if masked_saliency is None:
            raise HeatcheckError("masking_robustness needs the maps of the half-masked images (keyword 'masked_saliency')")
        h, w = saliency.shape[-2:]
        return MetricResult(non_robustness(saliency, masked_saliency, half_masks(h, w)))


# --------------------------------------------------------------------------------------------
# eq. (6): mutual verification


def mutual_verification(maps: Mapping[str, object], batch_size: int = 256):
    """Mutual verification between explainers, eq. (6) of the paper.

    .. math::

        M_{mutual}(\\alpha, \\beta) = E_I\\Bigl[\\Bigl\\|\\frac{a^\\alpha}{\\|a^\\alpha\\|}
                                   - \\frac{a^\\beta}{\\|a^\\beta\\|}\\Bigr\\|\\Bigr]

    Parameters
    ----------
    maps : mapping name -> array or Tensor
        (B, H, W) maps of the same B images (in the same order) for each of E explainers.
    batch_size : int
        Images processed at once (bounds memory on large arrays, e.g. memmaps).

    Returns
    -------
    names : list of str
        The explainers, in the mapping's order.
    matrix : ndarray
        (E, E) float64, the mean over images: symmetric with a zero diagonal.
    per_image : ndarray
        (B, E, E) float64, the distance per image.

    Notes
    -----
    Each map is divided by its L2 norm over all pixels, so the result does not change when a map
    is multiplied by a positive constant (a negative one flips its sign). A map of zero norm is
    the zero vector after normalization: its distance to any unit map is 1, to another zero map 0.
    Distances lie in [0, 2].
    """
    names = list(maps)
    if not names:
        raise ValueError("mutual_verification needs at least one explainer")
    shapes = {n: tuple(maps[n].shape) for n in names}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"maps must all have the same shape, got {shapes}")
    b = shapes[names[0]][0]
    if b == 0:
        raise ValueError("mutual_verification needs at least one image")
    e = len(names)
    per_image = np.zeros((b, e, e))
    for s in range(0, b, batch_size):
        units = [_unit(_double(maps[n][s:s + batch_size]).cpu().reshape(min(batch_size, b - s), -1)) for n in names]
        for i in range(e):
            for j in range(i + 1, e):
                d = (units[i] - units[j]).norm(dim=1).numpy()
                per_image[s:s + len(d), i, j] = d
                per_image[s:s + len(d), j, i] = d
    return names, per_image.mean(0), per_image


@METRICS.register("mutual_verification")
class MutualVerification(Metric):
    """Mutual verification between explainers (eq. 6), lower is more mutually consistent.

    Not a per-explainer metric (``per_explainer = False``): it compares the maps of several
    explainers on the same images. ``MutualVerification.compute(maps)`` (=
    :func:`mutual_verification`) or calling an instance with the dict of maps returns
    ``(names, matrix (E, E), per_image (B, E, E))``.
    """

    higher_is_better = False
    per_explainer = False
    compute = staticmethod(mutual_verification)

    @classmethod
    def passes(cls, params, side):
        return 0.0, 0.0

    def __call__(self, maps, *args, **kw):
        if not isinstance(maps, Mapping):
            raise HeatcheckError("mutual_verification compares explainers: call it with a dict name -> (B, H, W) maps")
        return mutual_verification(maps, batch_size=self.batch_size)


__all__ = ["DEFAULT_KS", "DEFAULT_TAUS", "HALVES", "MASK_RTOL", "has_negative", "shapley_bias_scores", "ShapleyBias",
           "mask_lowest", "last_conv_features", "feature_alpha", "UnexplainableFeatures", "half_masks",
           "apply_half_masks", "non_robustness", "MaskingRobustness", "mutual_verification", "MutualVerification"]
