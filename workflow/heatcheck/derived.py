"""Derived map arrays: saliency arrays made from an explainer's maps or by rerunning it on changed
inputs, named ``{explainer}+{kind}{k}``. The one module that names, parses and builds them.

=================  ======  =====================================================================
kind               copies  what
=================  ======  =====================================================================
``blur``           1       the explainer's stored maps Gaussian-blurred (the first paper's
                           sparsity study), made without the model (:func:`blur_shard`)
``halfmasked``     4       the explainer rerun on each image with its left, right, top and bottom
                           half set to the mean (eq. 5 of the second paper; :func:`apply_half_masks`)
``randomized{k}``  1       the explainer rerun on the model with its top k layers randomized
``noisy{k}``       1       the explainer rerun on the k-th noisy copy of the inputs
=================  ======  =====================================================================

The names are file stems and Snakemake wildcard values like an explainer's; the stages read
them through :func:`parse_derived`. Torch-free to import (the builders of reruns import torch
when called). Data flows one way: the saliency stage builds the reruns' inputs here, not from the
metrics; blurred arrays are written here, not by the analyses.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import numpy as np

from . import HeatcheckError
from .lazy import torch


@dataclass(frozen=True)
class Kind:
    """A kind of derived array: maps per image, made from stored maps (``maps``) or by rerunning
    the explainer (``rerun``), and whether its name carries a number ``k``."""

    copies: int
    source: str
    numbered: bool = False


KINDS = {"blur": Kind(1, "maps"), "halfmasked": Kind(4, "rerun"),
         "randomized": Kind(1, "rerun", numbered=True), "noisy": Kind(1, "rerun", numbered=True)}
DERIVED_KINDS = tuple(KINDS)
BLUR, HALFMASKED, RANDOMIZED, NOISY = DERIVED_KINDS
_DERIVED = re.compile(r"^(?P<base>[^+]+)\+(?P<kind>" + "|".join(DERIVED_KINDS) + r")(?P<k>\d*)$")


class DerivedNameError(HeatcheckError, ValueError):
    """A ``+`` name that is not a derived map array's."""


def derived_name(explainer: str, kind: str, k: int | None = None) -> str:
    """The name of a derived array, e.g. ``grad+blur``, ``gradcam+randomized3``, ``grad+noisy0``."""
    if kind not in KINDS:
        raise DerivedNameError(f"unknown derived map kind {kind!r}; valid: {', '.join(DERIVED_KINDS)}")
    if (k is None) == KINDS[kind].numbered:
        raise DerivedNameError(f"derived map kind {kind!r} {'needs' if KINDS[kind].numbered else 'takes no'} a number k")
    return f"{explainer}+{kind}{'' if k is None else int(k)}"


def derived_pattern(explainer: str, kind: str) -> str:
    """A regular expression of the derived names of ``explainer`` of ``kind`` (wildcard constraints)."""
    if kind not in KINDS:
        raise DerivedNameError(f"unknown derived map kind {kind!r}; valid: {', '.join(DERIVED_KINDS)}")
    return re.escape(f"{explainer}+{kind}") + (r"\d+" if KINDS[kind].numbered else "")


def parse_derived(name: str, strict: bool = False) -> tuple[str, str | None, int | None]:
    """(original explainer, kind, k) of a derived name; ``(name, None, None)`` for an original.

    With ``strict``, a name with a ``+`` that is not a valid derived name (``grad+foo``,
    ``grad+randomized`` without its step, ``grad+blur3``) raises :class:`DerivedNameError`.
    """
    m = _DERIVED.match(name)
    if not m or bool(m["k"]) != KINDS[m["kind"]].numbered:
        if strict and "+" in name:
            raise DerivedNameError(f"{name!r} is not a derived map array's name: expected {{explainer}}+KIND with "
                                   f"KIND one of " + ", ".join(k + ("<k>" if KINDS[k].numbered else "") for k in KINDS))
        return name, None, None
    return m["base"], m["kind"], int(m["k"]) if m["k"] else None


def is_original(name: str) -> bool:
    """Not a derived array (the controls are originals)."""
    return "+" not in name  # every "+" name is derived, or refused by split_variant


def split_variant(name: str) -> tuple[str, str | None]:
    """(original explainer, kind or None) of a saliency array's name, refusing a ``+`` suffix that
    is no kind (``rise+halfmasked`` -> ``("rise", "halfmasked")``)."""
    base, kind, _ = parse_derived(name)
    if kind is None and "+" in name:
        raise DerivedNameError(f"unknown saliency variant in {name!r}; valid: " + ", ".join(
            f"<explainer>+{k}" + ("<k>" if KINDS[k].numbered else "") for k in DERIVED_KINDS))
    return base, kind


def source(name: str) -> str:
    """The original explainer of an array's name (itself for an original)."""
    return split_variant(name)[0]


def is_derived(name: str) -> bool:
    return parse_derived(name)[1] is not None


def copies(name: str) -> int:
    """Maps per image of the saliency array ``name`` (1, or 4 for ``+halfmasked``)."""
    kind = split_variant(name)[1]
    return KINDS[kind].copies if kind else 1


# --- half-masked reruns ------------------------------------------------------------------------


def half_masks(height: int, width: int, device=None) -> torch.Tensor:
    """Masks of the left, right, top and bottom half: (4, H, W) bool, True = masked.

    Each half is ``ceil(W / 2)`` columns (``ceil(H / 2)`` rows): with an odd side the middle
    column (row) belongs to **both** halves, so left/right (top/bottom) are mirror images of the
    same size and the unmasked part compared in eq. (5) is exactly the other ``floor`` half.
    """
    cols = torch.arange(width, device=device)
    rows = torch.arange(height, device=device)
    hw, hh = -(-width // 2), -(-height // 2)
    left = (cols < hw).expand(height, width)
    right = (cols >= width - hw).expand(height, width)
    top = (rows < hh)[:, None].expand(height, width)
    bottom = (rows >= height - hh)[:, None].expand(height, width)
    return torch.stack([left, right, top, bottom])


def apply_half_masks(x: torch.Tensor) -> torch.Tensor:
    """The four half-masked copies of each image: (B * 4, C, H, W), image-major (copy ``4 b + h``
    is image b with half ``HALVES[h]`` set to 0, the dataset mean)."""
    b, c, h, w = x.shape
    m = half_masks(h, w, x.device)[None, :, None]  # (1, 4, 1, H, W)
    return torch.where(m, torch.zeros((), dtype=x.dtype, device=x.device), x.unsqueeze(1)).reshape(b * 4, c, h, w)


# --- blurred copies ----------------------------------------------------------------------------


def blur_maps(maps: np.ndarray, kernel: int, sigma: float) -> np.ndarray:
    """Post-process (ReLU, min-max) then Gaussian-blur each (H, W) map with a ``kernel``-wide
    window (radius kernel // 2) and ``sigma``, reflecting at the borders; the result is
    min-max scaled again so that it is on the same [0, 1] scale as the maps it is compared with."""
    from scipy import ndimage

    from .postprocess import relu_minmax

    m = relu_minmax(np.asarray(maps, dtype=np.float32))
    radius = max(int(kernel) // 2, 1)
    out = ndimage.gaussian_filter(m, sigma=(0, sigma, sigma), mode="reflect", truncate=radius / sigma)
    return relu_minmax(out)


def blur_params(params: dict, side: int) -> tuple[int, float]:
    """Kernel and sigma of the map blur: given, or 11 and 5 at 224 px scaled to ``side`` (the
    values the paper uses for its blurred baseline)."""
    from .costs import blur_kernel

    kernel = blur_kernel(params.get("kernel"), side)
    sigma = float(params.get("sigma") or max(0.5, 5.0 * side / 224))
    return kernel, sigma


def blur_shard(src_report, out_array, out_report, params: dict) -> dict:
    """One shard of ``{explainer}+blur``: the blurred copy of the maps of the source shard whose
    report is ``src_report``, written into ``out_array`` (created by ``init_saliency``), resized
    like the source to its images, and this shard's report ``out_report`` (the same images,
    targets and sign declaration; finalize_saliency marks the array complete)."""
    from .store import open_saliency, read_saliency, read_shard_report, write_saliency_shard

    src = read_shard_report(src_report)
    start, stop = src["start"], src["stop"]
    arr = open_saliency(src["array"], rows=(start, stop), repair=True)
    kernel, sigma = blur_params(params, arr.shape[-1])
    t0 = time.perf_counter()
    maps = blur_maps(read_saliency(arr, start, stop, repair=True), kernel, sigma)
    write_saliency_shard(out_array, start, maps, arr.chunks[0], ids=list(arr.attrs["ids"]))
    report = {**{k: src[k] for k in ("shard", "start", "stop", "ids", "targets", "signed") if k in src},
              "array": str(out_array), "source": str(src_report), "kernel": kernel, "sigma": sigma,
              "seconds": time.perf_counter() - t0}
    with open(out_report, "w") as fh:
        json.dump(report, fh, indent=1)
    return report
