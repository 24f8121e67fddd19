"""Pixel orders for insertion/deletion: at which curve point each pixel is perturbed.

A *schedule* is an integer array (B, H, W): pixel p is perturbed at curve points k >= t[p]
(k = 0 is the unperturbed start, k = K the end, every pixel perturbed). Insertion and deletion
both read it; so do all baselines, which is why it is computed once per image and map.
"""

from __future__ import annotations

import numpy as np

from ..costs import pixel_steps


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
    order = np.argsort(-saliency.reshape(b, n), axis=1, kind="stable")
    t = np.empty((b, n), dtype=np.int32)
    ranks = np.arange(n) // per + 1
    np.put_along_axis(t, order, ranks[None].repeat(b, 0).astype(np.int32), axis=1)
    return t.reshape(b, h, w), k_total


def region_schedule(saliency: np.ndarray, region: int, steps: int) -> tuple[np.ndarray, int]:
    """Region mode (AOPC-style): repeatedly take the most relevant not-yet-perturbed pixel and
    perturb the ``region`` x ``region`` square around it (clipped to the image); a curve point is
    recorded each time the perturbed fraction passes the next 1/``steps``.

    Returns
    -------
    schedule : (B, H, W) int32 in 1..steps: the first point at which each pixel is perturbed
    K : ``steps``
    """
    b, h, w = saliency.shape
    n = h * w
    r = region // 2
    out = np.empty((b, h, w), dtype=np.int32)
    thresholds = np.ceil(np.arange(1, steps + 1) * n / steps).astype(np.int64)  # counts at points 1..K
    for i in range(b):
        order = np.argsort(-saliency[i].reshape(-1), kind="stable")
        done = np.zeros((h, w), dtype=bool)
        t = np.zeros((h, w), dtype=np.int32)
        count = 0
        for p in order:
            y, x = divmod(int(p), w)
            if done[y, x]:
                continue
            y0, y1, x0, x1 = max(0, y - r), min(h, y + r + 1), max(0, x - r), min(w, x + r + 1)
            new = ~done[y0:y1, x0:x1]
            # the state after this region step is recorded at every point whose threshold
            # exceeds the count before it: its pixels appear from the first such point on
            t[y0:y1, x0:x1][new] = np.searchsorted(thresholds, count, side="right") + 1
            count += int(new.sum())
            done[y0:y1, x0:x1] = True
            if count >= n:
                break
        out[i] = t
    return out, steps
