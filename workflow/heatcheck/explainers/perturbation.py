"""Perturbation explainers: sliding-window occlusion, RISE and LIME, all written here, fully batched.

All three score the target-class *softmax probability* of perturbed copies of the image, with the
removed parts set to zero, which is the dataset mean in normalized space.

Why not captum: captum implements Occlusion and Lime, but neither reaches 0.8 of the model's raw
batched forward throughput on every model of the project. Measured by
``benchmarks/bench_perturbation.py`` at 32 px, batch 256, as median ratios to the raw forward of
the same perturbed inputs (1 thread, as the pipeline's jobs run; 2026-12-01): captum's Occlusion
0.50 (LeNet) / 0.62 (ResNet-8) called per image, 0.61 / 0.97 with all images in one call; its
Lime 0.23 / 0.71 (one example at a time, each sample built and weighted in Python). The versions
here reach 0.90 / 0.98 (occlusion), 0.91 / 0.95 (RISE), 0.87 / 0.98 (LIME, SLIC included: on
LeNet, SLIC's 0.6-1.3 ms an image is about 5% of 1,000 forward passes). They build the perturbed
inputs of all (image, perturbation) pairs vectorized, one chunk at a time, into the chunk's
tensor, and stream them through the model in chunks of ``batch_size``: every forward chunk but
a call's last is full (a call takes the images of 8 chunks: ``Explainer.images_per_call``) and
no forward pass is made per perturbation. ``tests/test_explainers_perturbation.py`` checks
occlusion against captum's ``Occlusion`` and each method against its definition.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..lazy import torch
from .. import HeatcheckError
from ..costs import scaled
from .base import EXPLAINERS, Explainer, Param, ceil_div, indices_or_range

#: Builds the inputs (n, C, H, W), target classes (n,) and any extras of the pairs ``start:stop``.
Builder = Callable[[int, int], tuple]


def score_chunks(model, n: int, build: Builder, batch_size: int):
    """Target-class softmax probabilities of ``n`` perturbed inputs, built and scored chunk by chunk.

    Only one chunk of perturbed inputs exists at a time, which bounds memory whatever the number
    of images and perturbations; every chunk but the last holds exactly ``batch_size`` inputs.

    Parameters
    ----------
    model : nn.Module
        The classifier (eval mode).
    n : int
        Number of (image, perturbation) pairs.
    build : callable
        ``build(start, stop) -> (inputs, targets, *extra)`` for the pairs ``start:stop``.
    batch_size : int
        Inputs per forward pass.

    Yields
    ------
    start, stop, probs, extra
        The chunk's pair range, its (stop - start,) float32 probabilities and ``build``'s extras.
    """
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        # inputs are built outside inference mode so that nothing built (or cached) with them
        # becomes an inference tensor
        inputs, targets, *extra = build(start, stop)
        with torch.inference_mode():
            probs = model(inputs).float().softmax(1).gather(1, targets.view(-1, 1)).squeeze(1)
        yield start, stop, probs.clone(), extra


def stream_scores(model, n: int, build: Builder, batch_size: int) -> torch.Tensor:
    """All ``n`` probabilities of :func:`score_chunks` as one (n,) tensor."""
    out = [probs for _, _, probs, _ in score_chunks(model, n, build, batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def image_major(x: torch.Tensor, start: int, stop: int, per: int, keep) -> torch.Tensor:
    """Perturbed inputs of the pairs ``start:stop`` of an image-major stream of ``per`` pairs per image.

    ``keep(b, k0, k1)`` gives the (k1 - k0, H, W) keep masks of perturbations ``k0:k1`` of image
    ``b``; each image is broadcast against its masks, which is cheaper than gathering it per pair,
    straight into its rows of the chunk (LeNet at 32 px: 0.2 ms a chunk of 256; the products
    concatenated afterwards took 2 ms, two thirds of the chunk's forward pass).
    """
    out = torch.empty((stop - start, *x.shape[1:]), dtype=x.dtype, device=x.device)
    for b in range(start // per, (stop - 1) // per + 1):
        k0, k1 = max(start - b * per, 0), min(stop - b * per, per)
        row = b * per + k0 - start
        torch.mul(x[b], keep(b, k0, k1).unsqueeze(1).to(x.dtype), out=out[row:row + k1 - k0])
    return out


# --------------------------------------------------------------------------------------------
# occlusion


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Top (or left) edges of the sliding windows along one axis, as captum places them.

    Windows start at 0, s, 2s, ... until the axis is covered: ``ceil((size - w) / s) + 1``
    windows, the last one cut off at the border when ``s`` does not divide ``size - w``.
    """
    return [i * stride for i in range(ceil_div(size - window, stride) + 1)]


@EXPLAINERS.register("occlusion")
class Occlusion(Explainer):
    """Sliding-window occlusion (Zeiler & Fergus 2014) with a window of zeros (the dataset mean).

    A pixel's attribution is the mean, over the windows covering it, of
    ``p(x) - p(x with the window set to 0)``, p the target-class probability: captum's
    ``Occlusion`` with ``sliding_window_shapes=(C, w, w)``, ``strides=(C, s, s)``, ``baselines=0``.

    Parameters
    ----------
    window, stride : int or None
        Side and step of the square window in pixels; None scales the first paper's 8 px at
        224 px to the image size (at least 2 px).
    """

    streams = True
    signed = True
    params = (Param("window", "integer", None, "window side in pixels (null = 8 at 224 px, scaled, at least 2)",
                    minimum=1, nullable=True),
              Param("stride", "integer", None, "step between windows (null = 8 at 224 px, scaled, at least 2)",
                    minimum=1, nullable=True))

    @classmethod
    def geometry(cls, params: dict, side: int) -> tuple[int, int]:
        """Window and stride on ``side``-px images: given, or the first paper's 8 px at 224 px
        scaled (at least 2)."""
        return scaled(params["window"], side, 8, 2), scaled(params["stride"], side, 8, 2)

    @classmethod
    def passes(cls, params, side):
        w, s = cls.geometry(params, side)
        return float((ceil_div(max(side - w, 0), s) + 1) ** 2 + 1), 0.0

    @classmethod
    def limits(cls, params, side):
        window, stride = cls.geometry(params, side)
        return [("window", window, side, "the image side", ""),
                ("stride", stride, window, "the window", "pixels between windows would never be occluded")]

    def _geometry(self, height: int, width: int) -> tuple[int, int]:
        size = min(height, width)
        w, s = self.geometry(self.params, size)
        if w > size:
            raise HeatcheckError(f"config key explainers.occlusion.window = {w} exceeds the image size "
                                 f"{height}x{width}")
        if s > w:
            # captum refuses this too: pixels between windows would never be occluded
            raise HeatcheckError(f"config key explainers.occlusion.stride = {s} is larger than the window "
                                 f"({w}); some pixels would never be occluded")
        return w, s

    def attribute(self, x, targets, index=None):
        b, _, h, wd = x.shape
        w, s = self._geometry(h, wd)
        dev = x.device
        tops = torch.tensor(window_starts(h, w, s), device=dev)
        lefts = torch.tensor(window_starts(wd, w, s), device=dev)
        # rows[k, i]: window row k covers image row i (windows are separable: row x column)
        rows = ((torch.arange(h, device=dev) >= tops[:, None]) & (torch.arange(h, device=dev) < tops[:, None] + w)).float()
        cols = ((torch.arange(wd, device=dev) >= lefts[:, None]) & (torch.arange(wd, device=dev) < lefts[:, None] + w)).float()
        nh, nw = len(tops), len(lefts)
        # per image: the nh * nw windows, then "window" nh * nw: none, the unoccluded image
        per = nh * nw + 1
        row_of = torch.cat([torch.arange(nh * nw, device=dev) // nw, torch.tensor([0], device=dev)])
        col_of = torch.cat([torch.arange(nh * nw, device=dev) % nw, torch.tensor([0], device=dev)])
        on = torch.ones(per, device=dev)
        on[-1] = 0
        targets = targets.to(dev)

        def keep(_, k0, k1):
            # 1 - (window rows x window columns): the occluded square, as an outer product
            r, c = rows[row_of[k0:k1]] * on[k0:k1, None], cols[col_of[k0:k1]]
            return 1.0 - r[:, :, None] * c[:, None, :]

        def build(start, stop):
            return image_major(x, start, stop, per, keep), targets[torch.arange(start, stop, device=dev) // per]

        p = stream_scores(self.model, b * per, build, self.batch_size).to(dev).view(b, per)
        drop = (p[:, -1:] - p[:, :-1]).view(b, nh, nw).double()
        r, c = rows.double(), cols.double()
        # sum over windows of drop * window mask, then divided by the number of windows per pixel
        total = torch.einsum("bmn,mi,nj->bij", drop, r, c)
        count = torch.einsum("mi,nj->ij", r, c)
        return (total / count).float()


# --------------------------------------------------------------------------------------------
# RISE

#: masks per generation block: the unit of seeding, so the mask set never depends on chunking
RISE_BLOCK = 64
#: mask bytes kept between calls (all 5,000 masks at 32 px take 20 MB; at 224 px, 1 GB: regenerated)
RISE_CACHE_BYTES = 256 * 2 ** 20


@EXPLAINERS.register("rise")
class RISE(Explainer):
    """RISE (Petsiuk et al. 2018) as in the first paper's code.

    ``masks`` binary ``grid x grid`` grids keep each cell with probability ``p``; each is
    upsampled bilinearly to ``(grid + 1) * ceil(H / grid)`` pixels and cropped to H x W at a
    random shift in ``[0, ceil(H / grid))`` (per axis). The saliency of a pixel is
    ``sum_i p_target(x * M_i) M_i(pixel) / (p * masks)``.

    The masks are drawn from ``seed`` alone, in blocks of :data:`RISE_BLOCK` seeded by
    ``(seed, block)``: the same set for every image, like RISE, and a set of n masks is the first
    n of any larger set. They are generated block by block, so 5,000 masks at 224 px never need
    to be in memory at once.

    Parameters
    ----------
    masks : int
        Number of masks (5,000 in the paper's code).
    grid : int
        Cells per side of the binary grid (7).
    p : float
        Keep probability of a cell (0.1 in the paper's code, not RISE's usual 0.5).
    """

    streams = True
    signed = False  # a weighted sum of masks and probabilities
    params = (Param("masks", "integer", 5000, "random masks (forward passes) per image", minimum=1),
              Param("grid", "integer", 7, "cells per side of a mask's binary grid", minimum=2),
              Param("p", "number", 0.1, "Keep probability of a grid cell (p = 1 keeps every cell: every mask is "
                    "the whole image and the map is constant).", exclusive_minimum=0, exclusive_maximum=1))

    @classmethod
    def passes(cls, params, side):
        return float(params["masks"]), 0.0

    @classmethod
    def limits(cls, params, side):
        return [("grid", params["grid"], side, "the image side", "a cell would be smaller than a pixel")]

    def __init__(self, model, **kw):
        super().__init__(model, **kw)
        self.n_masks = int(self.params["masks"])
        self.grid = int(self.params["grid"])
        self.p = float(self.params["p"])
        self._cache: dict[tuple[int, int, int], torch.Tensor] = {}

    def grids_and_shifts(self, block: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The binary grids (n, grid, grid) float32 and uniform [0, 1) shift draws (n, 2) of a block.

        Drawn independently of the image size; a shift draw u becomes ``floor(u * cell)`` pixels.
        """
        seed = np.random.SeedSequence([self.seed, 0x52495345, block]).generate_state(1)[0]  # "RISE"
        g = torch.Generator().manual_seed(int(seed))
        grids = (torch.rand((RISE_BLOCK, self.grid, self.grid), generator=g) < self.p).float()
        shifts = torch.rand((RISE_BLOCK, 2), generator=g, dtype=torch.float64)
        n = min(RISE_BLOCK, self.n_masks - block * RISE_BLOCK)
        return grids[:n], shifts[:n]

    def _block(self, block: int, height: int, width: int) -> torch.Tensor:
        key = (block, height, width)
        if key in self._cache:
            return self._cache[key]
        grids, u = self.grids_and_shifts(block)
        rows = self._crops(u[:, 0], height)  # (n, H, grid)
        cols = self._crops(u[:, 1], width)  # (n, W, grid)
        masks = (rows @ grids @ cols.transpose(1, 2)).contiguous()
        used = sum(m.numel() * 4 for m in self._cache.values())
        if used + masks.numel() * 4 <= RISE_CACHE_BYTES:
            self._cache[key] = masks
        return masks

    def _crops(self, u: torch.Tensor, size: int) -> torch.Tensor:
        """Per mask, the rows of the upsampling matrix that survive its random crop (n, size, grid).

        Upsampling the grid to ``(grid + 1) * cell`` pixels is a matrix product on each axis. The
        weights are those of the RISE code's ``skimage.transform.resize(order=1, mode="reflect",
        anti_aliasing=False)``: linear interpolation at ``(o + 0.5) * grid / up - 0.5`` with
        samples beyond the border mirrored about the edge cell (scipy's "mirror"), which differs
        from torch's edge clamping within half a cell of the border.
        """
        g = self.grid
        cell = ceil_div(size, g)
        up = (g + 1) * cell
        src = (torch.arange(up, dtype=torch.float64) + 0.5) * g / up - 0.5
        lo = src.floor()
        frac = src - lo
        lo = lo.long()

        def mirror(i):
            return torch.where(i < 0, -i, torch.where(i > g - 1, 2 * (g - 1) - i, i))

        mat = torch.zeros(up, g, dtype=torch.float64)
        mat.index_put_((torch.arange(up), mirror(lo)), 1 - frac, accumulate=True)
        mat.index_put_((torch.arange(up), mirror(lo + 1)), frac, accumulate=True)
        shift = (u * cell).long().clamp(max=cell - 1)  # a uniform integer shift in [0, cell)
        return mat[shift[:, None] + torch.arange(size)].float()

    def masks(self, start: int, stop: int, height: int, width: int) -> torch.Tensor:
        """Masks ``start:stop`` (n, H, W) float32 in [0, 1], on the CPU."""
        first, last = start // RISE_BLOCK, ceil_div(stop, RISE_BLOCK)
        blocks = torch.cat([self._block(i, height, width) for i in range(first, last)])
        return blocks[start - first * RISE_BLOCK: stop - first * RISE_BLOCK]

    def attribute(self, x, targets, index=None):
        b, _, h, w = x.shape
        dev = x.device
        targets = targets.to(dev)
        sal = torch.zeros(b, h * w, dtype=torch.float64, device=dev)

        def build(start, stop):
            # pairs run mask-major so that one chunk needs only a few consecutive masks
            j = torch.arange(start, stop, device=dev)
            m0 = start // b
            m = self.masks(m0, (stop - 1) // b + 1, h, w).to(dev)
            img, mk = j % b, j // b - m0
            # every image times every mask of the chunk by broadcasting, then the chunk's pairs:
            # cheaper than gathering images and masks pair by pair (at most 2 b - 2 extra products)
            inputs = (x.unsqueeze(0) * m.to(x.dtype)[:, None, None]).flatten(0, 1)[start - m0 * b: stop - m0 * b]
            return inputs, targets[img], img, m, mk

        # add the score-weighted masks chunk by chunk, while the chunk's masks are at hand
        for _, _, s, (img, m, mk) in score_chunks(self.model, b * self.n_masks, build, self.batch_size):
            weight = torch.zeros(b, len(m), device=dev)
            weight[img, mk] = s.to(dev)
            sal += (weight @ m.view(len(m), -1)).double()
        return (sal / (self.p * self.n_masks)).view(b, h, w).float()


# --------------------------------------------------------------------------------------------
# LIME

#: LIME's default kernel width for images (lime_image.LimeImageExplainer)
LIME_KERNEL_WIDTH = 0.25
#: LIME's default surrogate: sklearn Ridge(alpha=1, fit_intercept=True)
LIME_RIDGE_ALPHA = 1.0


def slic_segments(image: torch.Tensor, segments: int, compactness: float) -> np.ndarray:
    """SLIC superpixels (H, W) int64 labelled 0..K-1 of one normalized image (C, H, W).

    The image is min-max scaled to [0, 1] first (a monotone rescaling, so SLIC sees an
    unnormalized-looking image); 3-channel images are segmented in CIELAB as skimage does.
    """
    from skimage.segmentation import slic

    img = image.detach().double().cpu().permute(1, 2, 0).numpy()
    lo, hi = img.min(), img.max()
    img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    if img.shape[-1] == 1:
        seg = slic(img[..., 0], n_segments=segments, compactness=compactness, start_label=0, channel_axis=None)
    else:
        seg = slic(img, n_segments=segments, compactness=compactness, start_label=0, channel_axis=-1,
                   convert2lab=img.shape[-1] == 3)
    # contiguous labels whatever SLIC's connectivity pass left
    return np.unique(seg, return_inverse=True)[1].reshape(seg.shape).astype(np.int64)


def lime_weights(z: torch.Tensor, kernel_width: float = LIME_KERNEL_WIDTH) -> torch.Tensor:
    """LIME's sample weights: ``sqrt(exp(-d^2 / width^2))``, d the cosine distance of each binary
    sample (..., K) to the all-ones vector (the unperturbed image); d = 1 for an empty sample."""
    on = z.double().sum(-1)
    d = 1.0 - torch.sqrt(on / z.shape[-1])
    return torch.exp(-d ** 2 / kernel_width ** 2).sqrt()


def weighted_ridge(z: torch.Tensor, y: torch.Tensor, w: torch.Tensor, alpha: float = LIME_RIDGE_ALPHA) -> torch.Tensor:
    """Coefficients (B, K) of sklearn's ``Ridge(alpha, fit_intercept=True)`` fitted with
    ``sample_weight=w``, for a batch of problems z (B, S, K), y (B, S), w (B, S), in float64.

    As in sklearn, the intercept is not penalized: features and targets are centred on their
    weighted means. All-zero (padding) columns get coefficient 0 and leave the others unchanged.
    """
    z, y, w = z.double(), y.double(), w.double()
    wn = w / w.sum(1, keepdim=True)
    zc = z - (wn[:, :, None] * z).sum(1, keepdim=True)
    yc = y - (wn * y).sum(1, keepdim=True)
    a = zc.transpose(1, 2) @ (w[:, :, None] * zc) + alpha * torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)
    rhs = zc.transpose(1, 2) @ (w * yc)[:, :, None]
    return torch.linalg.solve(a, rhs).squeeze(-1)


@EXPLAINERS.register("lime")
class Lime(Explainer):
    """LIME (Ribeiro et al. 2016) on SLIC superpixels, as ``lime_image`` fits it.

    Per image: ``samples`` binary on/off vectors over its superpixels (the first all on, the
    unperturbed image, as in lime_image; the rest uniform), drawn from ``(seed, image index)``;
    off superpixels are set to 0 (the mean); a ridge surrogate (alpha 1, with intercept) is
    fitted to the target probabilities with LIME's exponential kernel (width 0.25) on the cosine
    distance to the all-on vector. A pixel's attribution is its superpixel's coefficient.

    Parameters
    ----------
    samples : int
        Perturbed samples (forward passes) per image.
    segments, compactness
        SLIC's ``n_segments`` and ``compactness``.
    """

    streams = True
    signed = True
    params = (Param("samples", "integer", 1000, "perturbed samples (forward passes) per image", minimum=10),
              Param("segments", "integer", 50, "SLIC superpixels (n_segments)", minimum=2),
              Param("compactness", "number", 10.0, "SLIC compactness", exclusive_minimum=0))

    @classmethod
    def passes(cls, params, side):
        return float(params["samples"]), 0.0

    @classmethod
    def limits(cls, params, side):
        return [("segments", params["segments"], side * side, "the pixels", "")]

    def segment(self, x: torch.Tensor) -> list[np.ndarray]:
        """SLIC superpixels of each image of the batch (B, C, H, W)."""
        return [slic_segments(img, int(self.params["segments"]), float(self.params["compactness"])) for img in x]

    def samples(self, index: int, n_features: int) -> torch.Tensor:
        """The binary samples (S, K) of the image at dataset position ``index`` with K superpixels."""
        z = torch.randint(0, 2, (int(self.params["samples"]), n_features), generator=self.generator(index))
        z[0] = 1
        return z

    def attribute(self, x, targets, index=None):
        b, _, h, w = x.shape
        dev = x.device
        targets = targets.to(dev)
        idx = indices_or_range(index, b)
        segs = self.segment(x)
        ks = [int(s.max()) + 1 for s in segs]
        kmax = max(ks)
        n_samples = int(self.params["samples"])
        # per-image draws, zero-padded to the batch's largest superpixel count
        z = torch.zeros(b, n_samples, kmax, dtype=torch.bool)
        weights = torch.empty(b, n_samples, dtype=torch.float64)
        for i, (ii, k) in enumerate(zip(idx, ks)):
            zi = self.samples(ii, k)
            z[i, :, :k] = zi.bool()
            weights[i] = lime_weights(zi)
        z, weights = z.to(dev), weights.to(dev)
        seg = torch.from_numpy(np.stack(segs)).to(dev).view(b, -1)

        zf = z.float()

        def keep(i, s0, s1):
            # superpixel on/off -> pixel keep mask, through the image's label map
            return zf[i, s0:s1].index_select(1, seg[i]).view(-1, h, w)

        def build(start, stop):
            return image_major(x, start, stop, n_samples, keep), targets[torch.arange(start, stop, device=dev) // n_samples]

        y = stream_scores(self.model, b * n_samples, build, self.batch_size).to(dev).view(b, n_samples)
        coef = weighted_ridge(z, y, weights)
        return torch.gather(coef, 1, seg).view(b, h, w).float()
