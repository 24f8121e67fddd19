"""The explainer interface, its registry, and batching helpers shared by all methods.

Every explainer maps a batch of *normalized* images (B, C, H, W) and target classes (B,) to raw,
signed attribution maps (B, H, W) float32: no ReLU, no min-max scaling (metrics post-process).
"""

from __future__ import annotations

import math

import numpy as np

from .. import HeatcheckError
from ..batching import image_generator, batched, ceil_div, input_gradient, scaled, select, target_scores  # noqa: F401
from ..lazy import nn, torch  # noqa: F401  (nn: annotations)
from ..methods import Method, Param  # noqa: F401  (re-exported: what a plugin subclasses and declares)
from ..registry import Registry

#: batches of passes a call of a streaming explainer fills (:meth:`Explainer.images_per_call`)
STREAM_CHUNKS = 8

#: Explainers by config name (``explainers.<name>`` in config.yaml, the wildcard, the file stem).
EXPLAINERS: Registry["Explainer"] = Registry("explainer")


class Explainer(Method):
    """Base class of explanation methods.

    A subclass declares (torch-free, :mod:`heatcheck.methods`) its ``params``, its ``needs``
    (``gradients``, ``layer``, ``gap_fc``, ``module_hooks``, ``background``), its passes per image
    (:meth:`passes`) and the sign of its maps (``signed``), and implements :meth:`attribute`.

    Parameters
    ----------
    model : nn.Module
        Classifier taking normalized images, in eval mode, on its device.
    batch_size : int
        Inputs per forward/backward pass for methods that evaluate many perturbed or
        interpolated copies of an image.
    seed : int
        Seed of every random draw; draws are made per image from ``(seed, image index)`` so that
        a map does not depend on the shard or batch the image falls in.
    background : Tensor, optional
        Normalized training images, for methods that need a reference set (DeepSHAP).
    mean, std : sequence of float, optional
        The dataset's normalization constants (the valid input box, for LRP's z^B rule).
    **params
        The method's parameters (``explainers.<name>`` in config.yaml); the declared defaults
        fill the rest (:meth:`~heatcheck.methods.Method.fill`), in ``self.params``.
    """

    #: the map does not depend on the model (controls such as ``edge`` and ``random``)
    model_free: bool = False
    #: the map is a seeded draw that depends on neither the model nor the image (``random``):
    #: its reruns on derived copies of an image (the half-masked copies) draw anew per copy,
    #: from ``(seed, image index, copy + 1)``, or every copy would repeat the original's map
    input_free: bool = False
    #: the method's maps take both signs (True) or are never negative (False: magnitudes, mask
    #: weights) by definition; None: not fixed by the method, the maps themselves tell. The
    #: Shapley-bias metric presumes signed maps (second paper, Table 2), its table marks the rest
    signed: bool | None = None
    #: its maps are sparse pixel-level gradient maps, blurred by default in the first paper's
    #: sparsity study (section 4.4; ``analysis.blur.explainers`` null)
    sparse: bool = False
    #: runs its passes in fp32 whatever the ``precision`` setting (its rules trace the model or
    #: compare outputs exactly: see :func:`heatcheck.precision.full_precision`)
    full_precision: bool = False
    #: traces the model with torch.fx, which patches ``nn.Module.__call__`` for the whole process
    #: while it traces: such jobs never share a process with other jobs (:mod:`heatcheck.jobs`)
    traces_model: bool = False
    #: streams its perturbed inputs through the model in full chunks of ``batch_size`` whatever
    #: the number of images of a call (:func:`heatcheck.explainers.perturbation.score_chunks`),
    #: so a call may take many images (:meth:`images_per_call`)
    streams: bool = False

    def __init__(self, model: nn.Module, *, batch_size: int = 256, seed: int = 0,
                 background: torch.Tensor | None = None, mean=None, std=None, **params):
        self.model = model
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.background = background
        self.mean, self.std = mean, std
        self.params = self.fill(params)
        try:
            self.device = next(model.parameters()).device
        except StopIteration:
            self.device = torch.device("cpu")

    def attribute(self, x: torch.Tensor, targets: torch.Tensor,
                  index: torch.Tensor | None = None) -> torch.Tensor:
        """Attribution maps (B, H, W) float32 of ``targets`` for normalized images ``x``.

        ``index`` holds the images' positions in the dataset (for per-image random draws);
        ``arange(B)`` when omitted. It may be (B, 2) draw keys ``(image index, copy + 1)``
        instead (the derived copies of :attr:`input_free` explainers).
        """
        raise NotImplementedError

    @classmethod
    def passes(cls, params: dict, side: int) -> tuple[float, float]:
        """Forward and backward passes per image with ``params`` (filled) on ``side``-px images:
        every explainer declares its own (the cost report, job resources and chunk sizes read it)."""
        raise NotImplementedError(f"{cls.__qualname__} does not declare passes(params, side)")

    def passes_per_image(self, side: int) -> float:
        """Forward-equivalent passes per image on ``side``-px images (a backward counts as one)."""
        return float(sum(type(self).passes(self.params, side)))

    def images_per_call(self, side: int, n: int) -> int:
        """How many of ``n`` images one :meth:`attribute` call is given (``compute_shard`` and the
        benchmarks call it so): as many as fill a batch of passes, at least one; for a
        :attr:`streams` method, as many as fill :data:`STREAM_CHUNKS` batches, since only a call's
        last chunk is partial (occlusion's 257 passes an image at batch 256 one image per call
        made every second forward pass one of a single input: 0.87 of the raw throughput on LeNet)."""
        batches = STREAM_CHUNKS if self.streams else 1
        return max(1, min(n, batches * self.batch_size // max(1, math.ceil(self.passes_per_image(side)))))

    @classmethod
    def refusal(cls, model: nn.Module, sample: torch.Tensor) -> str | None:
        """Why the method cannot explain ``model`` (None: it can), from the model's structure.

        Checked once per model, before any saliency job (the ``load_model`` / ``train_model`` job
        writes the reasons to the model's JSON). ``sample``: two normalized images of the size
        the model is given. Uses the layers :func:`heatcheck.models.facts.model_facts` found.
        """
        from ..models import gap_fc, last_conv

        if cls.needs_module_hooks and isinstance(model, torch.jit.ScriptModule):
            return (f"it works through hooks on the model's layers, and a TorchScript model runs its compiled "
                    f"graph without them; load the model as a factory or an architecture with weights instead")
        if cls.needs_layer:
            try:
                last_conv(model)
            except HeatcheckError:
                return ("the model has no convolutional feature map (no module that runs once outputs an "
                        "(N, C, h, w) map); name one with models.<name>.layer if it has one")
        if cls.needs_gap_fc and gap_fc(model) is None:
            return ("it needs global average pooling of the feature layer followed by one linear layer, and the "
                    "model's output is not a linear layer of the spatial mean of its feature layer")
        return None

    # helpers -----------------------------------------------------------------

    def generator(self, index) -> torch.Generator:
        """A CPU generator seeded by ``(seed, image index)`` (or ``(seed, *draw key)``):
        per-image reproducible draws."""
        return image_generator(self.seed, index)


def indices_or_range(index, n: int) -> list:
    """Per image its draw key: the image index (an int), or a tuple for (B, k) draw keys."""
    if index is None:
        return list(range(n))
    return [int(i) if np.ndim(i) == 0 else tuple(int(v) for v in i) for i in index]


def check_finite(maps: torch.Tensor | np.ndarray, ids: list[str], explainer: str) -> None:
    """Raise naming the first image whose map has NaN or infinity."""
    arr = maps.detach().cpu().numpy() if isinstance(maps, torch.Tensor) else np.asarray(maps)
    bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise HeatcheckError(
            f"explainer {explainer!r} produced a map with NaN or infinity for image {ids[i]!r} "
            f"({int(bad.sum())} bad map(s) in this shard)")


__all__ = ["EXPLAINERS", "Explainer", "select", "batched", "target_scores", "input_gradient",
           "check_finite", "ceil_div", "scaled", "indices_or_range"]
