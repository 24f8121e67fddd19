"""Batching helpers shared by explainers and metrics (torch only: no captum, shap or zennit, so
metric jobs start fast)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .lazy import nn, no_grad, torch  # noqa: F401  (nn: annotations)
from .costs import scaled  # noqa: F401  (re-exported: explainers and metrics use it)


def select(out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``out[i, targets[i]]`` for each row."""
    return out.gather(1, targets.view(-1, 1)).squeeze(1)


def batched(fn: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Apply ``fn`` to ``inputs`` in chunks of ``batch_size`` along dim 0 and concatenate."""
    return torch.cat([fn(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)])


@no_grad
def target_scores(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int,
                  softmax: bool = True) -> torch.Tensor:
    """Target-class probability (or logit) of many inputs, batched: (N,) for (N, C, H, W).

    ``targets`` is (N,) or a single class index broadcast to all inputs.
    """
    targets = torch.as_tensor(targets, device=inputs.device)
    if targets.ndim == 0:
        targets = targets.expand(len(inputs))
    out = []
    for i in range(0, len(inputs), batch_size):
        logits = model(inputs[i:i + batch_size])
        s = logits.softmax(1) if softmax else logits
        out.append(select(s, targets[i:i + batch_size]))
    return torch.cat(out) if out else torch.empty(0, device=inputs.device)


def input_gradient(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, batch_size: int) -> torch.Tensor:
    """d logit_target / d input, (B, C, H, W), computed in batches."""
    grads = []
    for i in range(0, len(x), batch_size):
        xi = x[i:i + batch_size].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            score = select(model(xi), targets[i:i + batch_size]).sum()
            (g,) = torch.autograd.grad(score, xi)
        grads.append(g)
    return torch.cat(grads)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def image_generator(seed: int, index) -> torch.Generator:
    """A CPU generator seeded by ``(seed, image index)``: per-image reproducible draws that do
    not depend on the shard or batch an image falls in.

    ``index`` is an image index, or a tuple of ints (a draw key such as ``(image index, copy)``,
    seeded by ``(seed, *key)``; its last entry must not be 0, which SeedSequence cannot tell
    from a shorter key)."""
    key = [int(index)] if np.ndim(index) == 0 else [int(i) for i in index]
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, *key]).generate_state(1)[0]))


def gaussian_blur(x: torch.Tensor, kernel: int, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) images with reflect padding (the same result as
    torchvision's ``gaussian_blur``, without importing torchvision)."""
    half = kernel // 2
    t = torch.arange(kernel, dtype=x.dtype, device=x.device) - half
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    out = torch.nn.functional.pad(x, (half, half, half, half), mode="reflect")
    out = torch.nn.functional.conv2d(out, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(out, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
