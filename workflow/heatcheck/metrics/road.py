"""ROAD: Remove And Debias (Rong et al. 2022, "A Consistent and Efficient Evaluation Strategy for
Attribution Methods", ICML), without retraining.

A share p of the pixels is removed, most relevant first (MoRF) or least relevant first (LeRF),
and refilled by *noisy linear imputation*: every removed pixel takes the weighted mean of its
eight neighbours (direct neighbours weight 1/6, diagonal ones 1/12, as in the paper), solved
jointly over all removed pixels of an image and channel, plus Gaussian noise. The imputation
removes the information of the chosen pixels without leaving the removal pattern (a shape the
model could read: "class information leakage") in the image. The score is the model's
probability of the target class on the imputed image, at each p (a curve), and its mean over p.

MoRF and LeRF are two metrics (``road_morf``: lower is better, ``road_lerf``: higher is better),
in the way insertion and deletion are two: the score tables, the correlations and the rankings
read a metric's direction per metric.
"""

from __future__ import annotations

import numpy as np

from ..lazy import LazyModule, no_grad, torch
from .. import HeatcheckError
from ..batching import image_generator, select
from ..postprocess import relu_minmax
from .base import METRICS, Metric, MetricResult, Param

sparse = LazyModule("scipy.sparse")
sparse_linalg = LazyModule("scipy.sparse.linalg")

#: ROAD's default removal percentages and imputation noise (sigma on [0, 1] images): the
#: defaults of the parameters below
ROAD_PERCENTAGES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
ROAD_NOISE = 0.01
#: (row offset, column offset, weight) of the eight neighbours in the imputation (paper, sec. 4)
NEIGHBOURS = ((-1, -1, 1 / 12), (-1, 0, 1 / 6), (-1, 1, 1 / 12), (0, -1, 1 / 6),
              (0, 1, 1 / 6), (1, -1, 1 / 12), (1, 0, 1 / 6), (1, 1, 1 / 12))
#: unknowns per sparse solve: bounds the memory of one LU factorization; larger blocks were no
#: faster here (224 px, 9 percentages: 0.46 s per image at 1 system per solve, 0.57 s at 150,000)
MAX_UNKNOWNS = 100_000
#: floats of imputed images held at once (images x percentages x C x H x W)
MAX_VALUES = 1 << 24


def _sliced(offset: int, size: int) -> tuple[slice, slice]:
    """Slices of the pixels p and of their neighbours p + offset, both inside ``0..size-1``."""
    return slice(max(0, -offset), size - max(0, offset)), slice(max(0, offset), size - max(0, -offset))


def _solve(x: np.ndarray, removed: np.ndarray, out: np.ndarray) -> None:
    """Impute the removed pixels of a block of systems into ``out`` (one sparse LU for the block).

    Unknown ``u_i`` for each removed pixel i, one equation per unknown:
    ``(sum_{j in N(i)} w_ij) u_i - sum_{j in N(i), removed} w_ij u_j = sum_{j in N(i), kept} w_ij x_j``,
    N(i) the neighbours inside the image: ``u_i`` is the weighted mean of its neighbours.
    """
    s, c, h, w = x.shape
    n = int(removed.sum())
    if n == 0:
        return
    var = np.full(removed.shape, -1, dtype=np.int64)
    var[removed] = np.arange(n)  # row-major over (system, row, column)
    diag = np.zeros(n)
    rhs = np.zeros((n, c))
    rows, cols, vals = [], [], []
    for dy, dx, wt in NEIGHBOURS:
        (py, qy), (px, qx) = _sliced(dy, h), _sliced(dx, w)
        rp, rq = removed[:, py, px], removed[:, qy, qx]
        vp = var[:, py, px]
        # each pixel has at most one neighbour per offset: the indices below are unique
        diag[vp[rp]] += wt
        both = rp & rq
        rows.append(vp[both])
        cols.append(var[:, qy, qx][both])
        vals.append(np.full(int(both.sum()), -wt))
        edge = rp & ~rq
        si, yi, xi = np.nonzero(edge)
        rhs[vp[edge]] += wt * x[si, :, yi + qy.start, xi + qx.start]
    rows, cols, vals = (np.concatenate(v) for v in (rows, cols, vals))
    idx = np.arange(n)
    a = sparse.csc_matrix((np.concatenate([diag, vals]), (np.concatenate([idx, rows]), np.concatenate([idx, cols]))),
                          shape=(n, n))
    # symmetric and diagonally dominant: a symmetric fill-reducing order and no pivoting are safe
    # (about 1.5x faster than splu's defaults here)
    lu = sparse_linalg.splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    sol = lu.solve(rhs)
    np.moveaxis(out, 1, -1)[removed] = sol.reshape(n, c)


def noisy_linear_imputation(x, removed, noise=None, max_unknowns: int = MAX_UNKNOWNS) -> np.ndarray:
    """ROAD's noisy linear imputation of many images at once.

    Each removed pixel gets the weighted mean of its (up to eight) neighbours inside the image,
    direct neighbours weighted 1/6 and diagonal ones 1/12 (the weights renormalized over the
    neighbours that exist, at borders and corners), where neighbours that are themselves removed
    enter with their own imputed value: one sparse linear system per image and channel, solved
    exactly. Then ``noise`` is added to the removed pixels.

    Parameters
    ----------
    x : array (S, C, H, W)
        Images (any units; the imputation is linear, so normalized images give the normalized
        imputation of the raw ones).
    removed : bool array (S, H, W)
        True = pixel removed (all channels).
    noise : array (S, C, H, W), optional
        Added to the removed pixels (ROAD: Gaussian, sigma 0.01 on [0, 1] images); kept pixels
        are never changed.
    max_unknowns : int
        Systems are solved in blocks of at most this many unknowns (one image more if a single
        one exceeds it).

    Returns
    -------
    ndarray (S, C, H, W) float64
        The imputed images.

    Raises
    ------
    ValueError
        If an image has every pixel removed (the system is singular: nothing to impute from).
        With at least one kept pixel every group of connected removed pixels borders a kept one,
        and the system (weakly diagonally dominant, irreducible per group) has one solution.
    """
    x = np.asarray(x, dtype=np.float64)
    removed = np.asarray(removed, dtype=bool)
    if x.ndim != 4 or removed.shape != (x.shape[0],) + x.shape[2:]:
        raise ValueError(f"x must be (S, C, H, W) and removed (S, H, W); got {x.shape} and {removed.shape}")
    counts = removed.reshape(len(x), -1).sum(1)
    full = np.flatnonzero(counts == removed[0].size).tolist() if len(x) else []
    if len(full):
        raise ValueError(f"noisy_linear_imputation: image(s) {full[:10]} have every pixel removed")
    out = x.copy()
    start = 0
    while start < len(x):
        stop, total = start + 1, counts[start]
        while stop < len(x) and total + counts[stop] <= max_unknowns:
            total += counts[stop]
            stop += 1
        _solve(x[start:stop], removed[start:stop], out[start:stop])
        start = stop
    if noise is not None:
        out += np.asarray(noise, dtype=np.float64) * removed[:, None]
    return out


def removal_masks(saliency: np.ndarray, percentages, morf: bool, tiebreak: np.ndarray) -> np.ndarray:
    """The pixels removed at each percentage: (B, P, H, W) bool.

    The ``floor(p / 100 * H * W)`` pixels of highest value (MoRF) or lowest value (LeRF) are
    removed; ties are broken by ``tiebreak`` (B, H*W), a random rank per pixel (ROAD adds a tiny
    random offset to the maps for this), so that flat regions (e.g. the zeros of a ReLU'd map)
    are not removed in reading order. LeRF's order is MoRF's reversed: the pixels LeRF removes at
    p are the ones MoRF keeps at 100 - p (up to the rounding of the counts).
    """
    b, h, w = saliency.shape
    n = h * w
    flat = saliency.reshape(b, n)
    order = np.lexsort((tiebreak, -flat), axis=1) if b else np.zeros((0, n), dtype=np.int64)
    if not morf:
        order = order[:, ::-1]
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n)[None].repeat(b, 0), axis=1)
    counts = np.array([int(np.floor(float(p) * n / 100 + 1e-9)) for p in percentages])
    return (rank[:, None, :] < counts[None, :, None]).reshape(b, len(counts), h, w)


class _Road(Metric):
    """Shared machinery of ``road_morf`` and ``road_lerf``.

    Parameters (config ``metrics.road_morf`` / ``metrics.road_lerf``)
    ------------------------------------------------------------------
    percentages : list of float in (0, 100), default 10, 20, ..., 90
        Shares of the pixels removed (the paper's figures; its code's CIFAR runs used
        10, 20, 30, 40, 50, 70, 90).
    noise : float, default 0.01
        Standard deviation of the noise added to the imputed pixels, in units of the [0, 1]
        image as in the paper; divided by the channel's ``std`` (call keyword) to act on
        normalized images. Without ``std`` it is taken in the input's own units.
    relu : bool, default False
        Set negative relevance to zero before ordering (ROAD's code orders by the signed map,
        summed over channels; the first paper's metrics remove negative relevance first).

    The order is by map value, ties broken by a random rank drawn per image from
    ``(seed, image index)``; the imputation noise comes from the same per-image generator, so
    a score does not depend on the shard or batch. The score is the mean of the target-class
    probability over the percentages (with percentages spread evenly over (0, 100) this is the
    area under the curve); the curve is kept (image x 1 x percentage). Extra column ``accuracy``:
    the share of percentages at which the target class is still the prediction, ROAD's own
    summary. The original code's LeRF at p keeps the p% most relevant pixels (removes 100 - p);
    here both orders remove p%, so a LeRF curve reads left to right like a MoRF curve, and over
    percentages symmetric around 50 the mean is the same either way.
    """

    has_curves = True
    axes = ("order",)
    morf: bool = True
    params = (
        Param("percentages", "array", list(ROAD_PERCENTAGES), "Shares of the pixels removed, in percent (one "
              "forward pass each); the score is the mean target probability over them.",
              items={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 100}, min_items=1),
        Param("noise", "number", ROAD_NOISE, "Standard deviation of the noise added to imputed pixels, on [0, 1] "
              "images (the paper's 0.01).", minimum=0),
        Param("relu", "boolean", False, "Set negative relevance to 0 before ordering (ROAD orders by the signed "
              "map)."))

    @classmethod
    def configs(cls, params):
        return [{"order": "morf" if cls.morf else "lerf"}]

    @classmethod
    def passes(cls, params, side):
        return float(len(params["percentages"])), 0.0

    def percentages(self) -> list[float]:
        ps = [float(p) for p in self.params["percentages"]]
        bad = [p for p in ps if not 0 < p < 100]
        if bad or not ps:
            raise HeatcheckError(f"config key metrics.{self.name}.percentages must be numbers in (0, 100), got {ps}")
        return ps

    def perturbed(self, x: torch.Tensor, saliency: torch.Tensor, index: torch.Tensor | None = None,
                  std=None) -> np.ndarray:
        """The imputed images of a batch at every percentage: (B, P, C, H, W) float64.

        Parameters
        ----------
        x : Tensor (B, C, H, W)
            Normalized images.
        saliency : Tensor (B, H, W)
            Raw signed maps.
        index : Tensor (B,), optional
            The images' positions in the dataset (per-image seeds); ``arange(B)`` when omitted.
        std : sequence of float, optional
            The per-channel standard deviation of the normalization (``noise`` is given on
            [0, 1] images); without it the noise is in the input's units.
        """
        b, c, h, w = x.shape
        index = torch.arange(b) if index is None else index
        ps = self.percentages()
        sigma = float(self.params["noise"])
        scale = sigma / np.asarray(std if std is not None else np.ones(c), dtype=np.float64).reshape(1, 1, c, 1, 1)
        maps = relu_minmax(saliency.detach().cpu().numpy(), relu=self.params["relu"])
        gens = [image_generator(self.seed, int(i)) for i in index]
        # one generator per image, drawn in a fixed sequence: tie-break ranks, then the noise
        tiebreak = np.stack([torch.rand(h * w, generator=g, dtype=torch.float64).numpy() for g in gens])
        noise = np.stack([torch.randn((len(ps), c, h, w), generator=g, dtype=torch.float64).numpy() for g in gens])
        removed = removal_masks(maps, ps, self.morf, tiebreak)  # (B, P, H, W)
        x_np = x.detach().cpu().numpy()
        out = noisy_linear_imputation(np.repeat(x_np, len(ps), axis=0), removed.reshape(b * len(ps), h, w),
                                      (noise * scale).reshape(b * len(ps), c, h, w))
        return out.reshape(b, len(ps), c, h, w)

    def __call__(self, model, x, saliency, targets, index=None, std=None, **kw):
        """Score a batch: see :meth:`perturbed` for the arguments (``std``: the normalization's
        per-channel standard deviation)."""
        b, c, h, w = x.shape
        index = torch.arange(b) if index is None else index
        n_p = len(self.percentages())
        probs, hits = np.zeros((b, n_p)), np.zeros((b, n_p))
        group = max(1, MAX_VALUES // (n_p * c * h * w))  # images imputed at once
        for s in range(0, b, group):
            sl = slice(s, min(b, s + group))
            imputed = self.perturbed(x[sl], saliency[sl], index[sl], std)
            g = len(imputed)
            inputs = torch.from_numpy(imputed.reshape(g * n_p, c, h, w)).to(device=x.device, dtype=x.dtype)
            p, hit = _probability_and_hit(model, inputs, targets[sl].repeat_interleave(n_p), self.batch_size)
            probs[sl], hits[sl] = p.reshape(g, n_p), hit.reshape(g, n_p)
        return MetricResult(probs.mean(1, keepdims=True), curves=probs[:, None, :].astype(np.float32),
                            extra={"accuracy": hits.mean(1, keepdims=True)})


@no_grad
def _probability_and_hit(model, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int):
    """Target-class probability and whether the target is the prediction, batched: (N,), (N,)."""
    probs, hits = [], []
    for i in range(0, len(inputs), batch_size):
        out = model(inputs[i:i + batch_size]).softmax(1)
        t = targets[i:i + batch_size].to(out.device)
        probs.append(select(out, t))
        hits.append(out.argmax(1) == t)
    if not probs:
        return np.zeros(0), np.zeros(0)
    return torch.cat(probs).double().cpu().numpy(), torch.cat(hits).double().cpu().numpy()


@METRICS.register("road_morf")
class RoadMoRF(_Road):
    """ROAD, most relevant first: the target probability after removing the most relevant p%
    and imputing them; low when the map found the evidence. Lower is better."""

    higher_is_better = False
    morf = True


@METRICS.register("road_lerf")
class RoadLeRF(_Road):
    """ROAD, least relevant first: the target probability after removing the least relevant p%;
    high when the map left the evidence alone. Higher is better."""

    higher_is_better = True
    morf = False
