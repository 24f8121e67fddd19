"""How many forward-equivalent passes each stage makes, without importing torch.

Used for cluster resource estimates in the rules and by the dry-run cost report. A backward pass
counts as one forward pass.
"""

from __future__ import annotations

import math


def scaled(value: int | None, size: int, at_224: int, minimum: int = 1) -> int:
    """A pixel parameter given for 224-px images, scaled to ``size`` when not set (None)."""
    if value is not None:
        return int(value)
    return max(minimum, int(round(at_224 * size / 224)))


def shapley_cell(params: dict, side: int) -> int:
    """Shapley player side: ``cell`` if set, else pixels up to 64 px and side/32 above."""
    return int(params["cell"]) if params.get("cell") else (1 if side <= 64 else max(1, round(side / 32)))


def explainer_passes(name: str, params: dict, side: int) -> float:
    """Forward-equivalent passes per image of explainer ``name`` with ``params`` on ``side``-px images."""
    p = params or {}
    if name in ("random", "edge"):
        return 0.0
    if name == "cam":
        return 1.0
    if name in ("grad", "gradient_x_input", "guided_backprop", "gradcam"):
        return 2.0
    if name == "lrp":  # zennit re-runs each layer per modified weight set
        return 3.0 if p.get("rule", "epsilon") == "epsilon" else 9.0
    if name == "integrated_gradients":
        return 2.0 * p.get("steps", 50)
    if name == "smoothgrad":
        return 2.0 * p.get("samples", 10)
    if name == "deepshap":
        return 4.0 * p.get("background_size", 64)
    if name == "lime":
        return float(p.get("samples", 1000))
    if name == "rise":
        return float(p.get("masks", 5000))
    if name == "meaningful_perturbation":
        return 2.0 * p.get("steps", 300)
    if name == "occlusion":
        w = scaled(p.get("window"), side, 8, 2)
        s = scaled(p.get("stride"), side, 8, 2)
        return float((math.ceil(max(side - w, 0) / s) + 1) ** 2 + 1)
    raise KeyError(name)


def seconds_per_pass(side: int) -> float:
    """A conservative CPU estimate of one forward pass of one image (ResNet-50 at 224 px: ~0.12 s)."""
    return 0.125 * (side / 224) ** 2


def metric_passes(name: str, params: dict, side: int) -> float:
    """Forward passes per image (and saliency map) of metric ``name`` with ``params``."""
    p = params or {}
    if name == "average_drop":
        return 1.0 + p.get("real", True) + len(p.get("percentiles", [50, 70, 75, 80, 85, 90]))
    if name in ("insertion", "deletion"):
        n_base = sum(p.get("uniform_seeds", 5) if b == "uniform" else 1
                     for b in p.get("baselines", ["mean", "blur", "uniform"]))
        steps = p.get("steps", 100)
        if p.get("step_pixels"):
            steps = math.ceil(side * side / p["step_pixels"])
        return float(n_base * len(p.get("granularities", ["pixel", "region"])) * (steps + 1))
    if name == "pointing_game":
        return 0.0
    return 1.0
