"""Post-processing of raw saliency maps, as in the first paper (section 3.5)."""

from __future__ import annotations

import numpy as np


def relu_minmax(maps: np.ndarray, relu: bool = True) -> np.ndarray:
    """Remove negative relevance (``relu``), then min-max scale each map to [0, 1].

    A constant map (no NaN from 0/0) becomes all ones if its value is positive (every pixel
    equally and fully relevant) and all zeros otherwise (no relevance): so Average Drop of a map
    of ones is 0, and of a map of zeros is the drop to the empty image.
    Works on (N, H, W) or a single (H, W) map.
    """
    a = np.asarray(maps, dtype=np.float32)
    single = a.ndim == 2
    a = a[None] if single else a
    if relu:
        a = np.maximum(a, 0)
    flat = a.reshape(len(a), -1)
    lo = flat.min(1, keepdims=True)
    span = flat.max(1, keepdims=True) - lo
    out = np.where(span > 0, (flat - lo) / np.where(span > 0, span, 1), (flat > 0).astype(np.float32))
    out = out.astype(np.float32).reshape(a.shape)
    return out[0] if single else out
