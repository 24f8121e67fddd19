"""How many forward-equivalent passes each stage makes, without importing torch.

Used for cluster resource estimates in the rules and by the dry-run cost report. A backward pass
counts as one forward pass.
"""

from __future__ import annotations

import math


def _scaled(value, side: int, at_224: int, minimum: int) -> int:
    return int(value) if value is not None else max(minimum, int(round(at_224 * side / 224)))


def explainer_passes(name: str, params: dict, side: int) -> float:
    """Forward-equivalent passes per image of explainer ``name`` with ``params`` on ``side``-px images."""
    p = params or {}
    if name in ("random", "edge"):
        return 0.0
    if name == "cam":
        return 1.0
    if name in ("grad", "gradient_x_input", "guided_backprop", "gradcam", "lrp"):
        return 2.0
    if name == "integrated_gradients":
        return 2.0 * p.get("steps", 50)
    if name == "smoothgrad":
        return 2.0 * p.get("samples", 10)
    if name == "deepshap":
        return 2.0 * p.get("background", 64)
    if name == "lime":
        return float(p.get("samples", 1000))
    if name == "rise":
        return float(p.get("masks", 5000))
    if name == "meaningful_perturbation":
        return 2.0 * p.get("steps", 300)
    if name == "occlusion":
        w = _scaled(p.get("window"), side, 8, 2)
        s = _scaled(p.get("stride"), side, 8, 2)
        return float((math.ceil(max(side - w, 0) / s) + 1) ** 2 + 1)
    raise KeyError(name)


def seconds_per_pass(side: int) -> float:
    """A conservative CPU estimate of one forward pass of one image (ResNet-50 at 224 px: ~0.12 s)."""
    return 0.125 * (side / 224) ** 2
