"""Optimization-based explainers: meaningful perturbation (Fong & Vedaldi 2017).

Written here (captum has no implementation). The mask is optimized for all images of a batch
in one tensor; the loss is a sum of per-image terms, so each image's mask receives exactly the
gradient it would receive alone and Adam's elementwise update keeps images independent (a map
does not depend on the batch it falls in).
"""

from __future__ import annotations

import math

from ..lazy import F, torch
from .base import EXPLAINERS, Explainer, Param, select

#: exponent of the total-variation term (Fong & Vedaldi's beta)
TV_BETA = 3.0


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) images, kernel radius ceil(3 sigma).

    Border pixels are replicated (reflection would need the radius to be smaller than the
    image, which a 10-px-at-224 blur on 16-px images is not).
    """
    if sigma <= 0:
        return x.clone()
    radius = max(1, int(math.ceil(3.0 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    out = F.pad(x, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def total_variation(m: torch.Tensor, beta: float = TV_BETA) -> torch.Tensor:
    """Per-mask mean of |vertical difference|^beta plus mean of |horizontal difference|^beta, (B,)."""
    dv = (m[:, :, 1:, :] - m[:, :, :-1, :]).abs().pow(beta).flatten(1).mean(1)
    dh = (m[:, :, :, 1:] - m[:, :, :, :-1]).abs().pow(beta).flatten(1).mean(1)
    return dv + dh


def mask_side(size: int) -> int:
    """Side of the low-resolution mask: 28 at 224 px (image side / 8), at least 8: with fewer
    cells, deleting the whole image costs less than deleting one object-sized cell."""
    return max(8, int(round(size / 8)))


@EXPLAINERS.register("meaningful_perturbation")
class MeaningfulPerturbation(Explainer):
    """Meaningful perturbation, deletion game (Fong & Vedaldi 2017).

    A low-resolution mask ``m`` in [0, 1] (side = image side / 8, at least 4), upsampled
    bilinearly, blends each image with its blurred copy: ``x * m + blur(x) * (1 - m)``. Starting
    from ``m = 1`` (nothing deleted), Adam (``lr``) minimizes for ``steps`` steps, per image,

        ``l1 * mean|1 - m| + tv * TV_3(m) + p_target(perturbed)``

    with ``TV_3`` the mean cubed absolute difference of neighbouring mask cells (beta = 3, as in
    the paper) and ``p_target`` the softmax probability of the target; after each step the mask
    is clipped to [0, 1] (projected gradient, as in the paper's code). The map is ``1 - m``
    upsampled to the image: high where deleting the image content lowers the score.

    Parameters (``explainers.meaningful_perturbation``)
    -------------------------------------------------
    steps, lr, l1, tv : optimization length, Adam step size and the two regularizer weights.
    blur_sigma : float or None
        Gaussian blur in pixels; None = 10 px at 224 px, scaled to the image size.

    The method draws no random numbers (no noise or jitter), so the map is a deterministic
    function of model, image and parameters; ``seed`` is unused.
    """

    signed = False  # 1 - mask, the mask in [0, 1]
    needs = ("gradients",)
    params = (Param("steps", "integer", 300, "Adam steps", minimum=1),
              Param("lr", "number", 0.1, "Adam step size", exclusive_minimum=0),
              Param("l1", "number", 0.05, "weight of the L1 term (mean deleted area)", minimum=0),
              Param("tv", "number", 0.2, "weight of the total-variation term", minimum=0),
              Param("blur_sigma", "number", None, "Blur of the deleted content in pixels (null = 10 at 224 px, "
                    "scaled; 0 would delete nothing).", exclusive_minimum=0, nullable=True))

    @classmethod
    def passes(cls, params, side):
        return (float(params["steps"]),) * 2

    def attribute(self, x, targets, index=None):
        targets = targets.to(x.device)
        maps = [self._optimize(x[i:i + self.batch_size].detach(), targets[i:i + self.batch_size])
                for i in range(0, len(x), self.batch_size)]
        return torch.cat(maps).float()

    def _optimize(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        steps, lr = int(self.params["steps"]), float(self.params["lr"])
        l1, tv = float(self.params["l1"]), float(self.params["tv"])
        sigma = self.params["blur_sigma"]
        b, _, h, w = x.shape
        if sigma is None:
            sigma = 10.0 * (h + w) / 2 / 224
        blurred = gaussian_blur(x, float(sigma))
        mask = torch.ones((b, 1, mask_side(h), mask_side(w)), dtype=x.dtype, device=x.device, requires_grad=True)
        opt = torch.optim.Adam([mask], lr=lr)
        with torch.enable_grad():
            for _ in range(steps):
                up = F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=False)
                perturbed = x * up + blurred * (1 - up)
                prob = select(self.model(perturbed).softmax(1), targets)
                loss = l1 * (1 - mask).abs().flatten(1).mean(1) + tv * total_variation(mask) + prob
                # gradient w.r.t. the mask only: the model's parameters must not accumulate .grad
                (mask.grad,) = torch.autograd.grad(loss.sum(), mask)
                opt.step()
                with torch.no_grad():
                    mask.clamp_(0.0, 1.0)
        with torch.no_grad():
            up = F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=False)
        return (1 - up).squeeze(1).detach()


__all__ = ["MeaningfulPerturbation", "gaussian_blur", "total_variation", "mask_side"]
