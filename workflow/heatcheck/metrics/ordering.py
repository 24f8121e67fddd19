"""Pixel orders for insertion/deletion: at which curve point each pixel is perturbed.

A *schedule* is an integer array (B, H, W): pixel p is perturbed at curve points k >= t[p]
(k = 0 is the unperturbed start, k = K the end, every pixel perturbed). Insertion and deletion
both read it; so do all baselines, which is why it is computed once per image and map.
"""

from __future__ import annotations

import numpy as np

from ..costs import pixel_steps


def descending_order(values: np.ndarray) -> np.ndarray:
    """Per row of (B, N) ``values``, the indices from the largest value to the smallest, ties in
    index order: ``np.argsort(-values, axis=1, kind="stable")``.

    float32 rows (the post-processed maps) are sorted as one int64 key per value (the value's
    order-preserving bits above its index), which numpy sorts several times faster than a
    stable argsort of floats (22 ms against 2.7 ms per 224-px map here); other types take the
    stable argsort.
    """
    v = np.asarray(values)
    if v.dtype != np.float32:
        return np.argsort(-v, axis=1, kind="stable")
    bits = (-v + np.float32(0)).view(np.int32).astype(np.int64)  # + 0 turns -0.0 into 0.0: a tie
    bits ^= (bits >> 31) & 0x7FFFFFFF  # negative floats: larger bits are smaller values
    key = (bits << 32) | np.arange(v.shape[1], dtype=np.int64)
    return np.sort(key, axis=1) & 0xFFFFFFFF


def pixel_schedule(saliency: np.ndarray, steps: int | None = None, step_pixels: int | None = None) -> tuple[np.ndarray, int]:
    """Most relevant first, ``step_pixels`` per step (default ``ceil(H*W/steps)``).

    Ties are broken by pixel index (stable sort), so the schedule is deterministic.

    Returns
    -------
    schedule : (B, H, W) int32, values in 1..K
    K : number of steps
    """
    b, h, w = saliency.shape
    n = h * w
    per, k_total = pixel_steps(n, steps, step_pixels)
    order = descending_order(saliency.reshape(b, n))
    t = np.empty((b, n), dtype=np.int32)
    ranks = np.arange(n) // per + 1
    np.put_along_axis(t, order, ranks[None].repeat(b, 0).astype(np.int32), axis=1)
    return t.reshape(b, h, w), k_total


def _sliding_min(a: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Minimum over windows of ``k`` along ``axis`` (length L -> L - k + 1), from windows of
    doubling length: ceil(log2 k) array operations instead of k - 1."""
    def part(x, start, length):
        return x[(slice(None),) * axis + (slice(start, start + length),)]

    n_out = a.shape[axis] - k + 1
    m, span = a, 1
    while 2 * span <= k:
        m = np.minimum(part(m, 0, m.shape[axis] - span), part(m, span, m.shape[axis] - span))
        span *= 2
    return np.minimum(part(m, 0, n_out), part(m, k - span, n_out))


def _window_min(padded: np.ndarray, r: int) -> np.ndarray:
    """(B, h + 2r, w + 2r) -> (B, h, w): the minimum over the (2r + 1)^2 square around each pixel."""
    return _sliding_min(_sliding_min(padded, 2 * r + 1, 2), 2 * r + 1, 1)


def region_schedule(saliency: np.ndarray, region: int, steps: int) -> tuple[np.ndarray, int]:
    """Region mode (AOPC-style): repeatedly take the most relevant not-yet-perturbed pixel and
    perturb the ``region`` x ``region`` square around it (clipped to the image); a curve point is
    recorded each time the perturbed fraction passes the next 1/``steps``.

    The centres of that greedy walk are the pixels with no earlier centre (in the order of
    :func:`descending_order`) within ``region // 2`` pixels (Chebyshev distance). They are found
    in rounds over the whole batch, not pixel by pixel: an undecided pixel whose rank is the
    smallest among the undecided pixels of its square is a centre (every earlier pixel near it
    is already covered by another centre), and its square is then covered. The rounds are as
    many as the longest chain of centres waiting for each other (5-90 on maps of 32-224 px);
    the result is the walk's, exactly. A pixel's step is then that of the first centre whose
    square covers it.

    Returns
    -------
    schedule : (B, H, W) int32 in 1..steps: the first point at which each pixel is perturbed
    K : ``steps``
    """
    b, h, w = saliency.shape
    n = h * w
    if b * n == 0:
        return np.zeros((b, h, w), dtype=np.int32), steps
    r = region // 2
    hp, wp = h + 2 * r, w + 2 * r
    done = np.int32(n)  # the rank of covered pixels and of the padding: larger than any pixel's
    rank = np.empty((b, n), dtype=np.int32)
    np.put_along_axis(rank, descending_order(saliency.reshape(b, n)),
                      np.broadcast_to(np.arange(n, dtype=np.int32), (b, n)), axis=1)
    ranks = np.full((b, hp, wp), done, dtype=np.int32)  # padded
    ranks[:, r:r + h, r:r + w] = rank.reshape(b, h, w)
    live = ranks.copy()  # the ranks of the undecided pixels
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    square = (dy * wp + dx).ravel()  # a centre's square as offsets in the padded flat index
    centres = []
    y0, y1, x0, x1 = 0, h, 0, w  # the rows and columns that may hold undecided pixels
    while True:
        undecided = live[:, y0 + r:y1 + r, x0 + r:x1 + r] < done
        rows, cols = np.flatnonzero(undecided.any((0, 2))), np.flatnonzero(undecided.any((0, 1)))
        if not len(rows):
            break
        y0, y1, x0, x1 = y0 + rows[0], y0 + rows[-1] + 1, x0 + cols[0], x0 + cols[-1] + 1
        crop = live[:, y0:y1 + 2 * r, x0:x1 + 2 * r]
        inner = crop[:, r:r + y1 - y0, r:r + x1 - x0]
        bi, yi, xi = np.nonzero((inner == _window_min(crop, r)) & (inner < done))
        at = (bi * hp + yi + y0 + r) * wp + xi + x0 + r
        centres.append(at)
        live.reshape(-1)[(at[:, None] + square).ravel()] = done
    at = np.concatenate(centres)
    first = np.full((b, hp, wp), done, dtype=np.int32)  # the centres' ranks, elsewhere `done`
    first.reshape(-1)[at] = ranks.reshape(-1)[at]
    first = _window_min(first, r).reshape(b, n)  # per pixel, the rank of its first centre
    # pixels perturbed before each centre's step: those of the centres of lower rank
    per_centre = np.bincount((first + (np.arange(b) * n)[:, None]).ravel(), minlength=b * n).reshape(b, n)
    before = np.take_along_axis(np.cumsum(per_centre, 1) - per_centre, first, 1)
    # the state after a step is recorded at every point whose threshold exceeds the count before it
    thresholds = np.ceil(np.arange(1, steps + 1) * n / steps).astype(np.int64)  # counts at points 1..K
    point = (np.searchsorted(thresholds, np.arange(n), side="right") + 1).astype(np.int32)
    return point[before].reshape(b, h, w), steps
