"""Meaningful perturbation: finds known evidence, shapes, determinism, batch independence."""

from __future__ import annotations

import torch
from torch import nn

from heatcheck.explainers import EXPLAINERS
from heatcheck.explainers.optimization import gaussian_blur, mask_side, total_variation
from heatcheck.models import build_model

SIZE, R0, C0 = 64, 22, 38  # the evidence: the 4x4 patch at rows 22-25, columns 38-41


class PatchModel(nn.Module):
    """Two classes; p(class 0) = sigmoid(3 * mean intensity of the 4x4 evidence patch)."""

    def forward(self, x):
        z = 3.0 * x[:, :, R0:R0 + 4, C0:C0 + 4].mean((1, 2, 3))
        return torch.stack([z, torch.zeros_like(z)], 1)


def _images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = -2.0 + 0.3 * torch.randn(n, 3, SIZE, SIZE, generator=g)
    x[:, :, R0:R0 + 4, C0:C0 + 4] = 2.0
    return x


def _mp(model, **params):
    params = {"steps": 80, **params}
    return EXPLAINERS.get("meaningful_perturbation")(model.eval(), batch_size=8, seed=0, **params)


def test_mask_deletes_the_evidence_patch():
    # default regularizers; 64 px gives an 8x8 mask (on a 4x4 mask nearly every cell borders a
    # deleted region and the TV term makes deleting everything the cheaper solution)
    x, t = _images(2), torch.tensor([0, 0])
    maps = _mp(PatchModel()).attribute(x, t)
    assert maps.shape == (2, SIZE, SIZE) and maps.dtype == torch.float32
    assert torch.isfinite(maps).all() and maps.min() >= 0 and maps.max() <= 1
    inside = maps[:, R0:R0 + 4, C0:C0 + 4].mean((1, 2))
    outside = maps.clone()
    outside[:, R0:R0 + 4, C0:C0 + 4] = float("nan")
    outside = outside.flatten(1).nanmean(1)
    assert (inside > 0.9).all() and (outside < 0.4).all(), (inside, outside)
    # far from the patch nothing is deleted
    assert maps[:, -8:, :8].max() < 0.05


def test_deterministic_and_batch_independent():
    x, t = _images(3, seed=1), torch.tensor([0, 1, 0])
    explainer = _mp(PatchModel(), steps=30)
    batch = explainer.attribute(x, t)
    torch.testing.assert_close(explainer.attribute(x, t), batch, rtol=0, atol=0)
    for i in range(3):
        torch.testing.assert_close(explainer.attribute(x[i:i + 1], t[i:i + 1])[0], batch[i], rtol=1e-5, atol=1e-5)


def test_runs_on_lenet_and_counts_passes():
    model = build_model("lenet", 10, 16).eval()
    torch.manual_seed(0)
    x, t = torch.randn(3, 3, 16, 16), torch.tensor([1, 2, 3])
    explainer = _mp(model, steps=5, blur_sigma=None)
    maps = explainer.attribute(x, t)
    assert maps.shape == (3, 16, 16) and torch.isfinite(maps).all()
    assert explainer.passes_per_image(16) == 10
    assert all(p.grad is None for p in model.parameters())
    batched = EXPLAINERS.get("meaningful_perturbation")(model, batch_size=2, steps=5).attribute(x, t)
    torch.testing.assert_close(batched, maps, rtol=1e-4, atol=1e-4)


def test_helpers():
    assert mask_side(224) == 28 and mask_side(32) == 8 and mask_side(16) == 8
    x = torch.randn(2, 3, 16, 16)
    b = gaussian_blur(x, 2.0)
    assert b.shape == x.shape
    torch.testing.assert_close(gaussian_blur(torch.full((1, 3, 8, 8), 0.7), 5.0), torch.full((1, 3, 8, 8), 0.7))
    assert b.std() < x.std()
    assert total_variation(torch.ones(2, 1, 4, 4)).abs().max() == 0
