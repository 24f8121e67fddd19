"""Shapley values of an image classifier's target output by permutation sampling, fully batched.

This is the reference of the second paper's pixel-level bias metric (section 3.1): the Shapley
value of player i (a pixel, or a square cell of pixels) in the game

.. math::

    v(S) = F(I_S), \\qquad
    \\phi_i = \\sum_{S \\subseteq N \\setminus \\{i\\}} \\frac{|S|!\\,(P - |S| - 1)!}{P!}
              \\bigl[v(S \\cup \\{i\\}) - v(S)\\bigr],

where ``I_S`` keeps the image's values on the pixels of the players in S and sets every other
pixel (all channels) to the baseline, by default 0: the dataset's mean pixel in normalized input
space. F is the target-class softmax probability (``output="prob"``, the default) or logit
(``output="logit"``).

Estimator (Castro et al. 2009). For a uniformly random permutation pi of the P players, the
marginal contribution of player ``pi_j`` is ``v(pi_1..pi_j) - v(pi_1..pi_{j-1})``; its
expectation over pi is exactly phi_i. One *walk* along pi (the empty coalition, then adding the
players one at a time) yields every player's marginal contribution with P + 1 evaluations, and
they telescope: the marginals of one walk sum to ``v(N) - v(empty)``. With m walks,

.. math::

    \\hat\\phi_i = \\frac1m \\sum_{k=1}^m \\Delta_i^{(k)}, \\qquad
    \\mathrm{SE}_i = \\frac{s_i}{\\sqrt m}, \\quad
    s_i^2 = \\frac{1}{m-1}\\sum_k (\\Delta_i^{(k)} - \\hat\\phi_i)^2,

so efficiency, :math:`\\sum_i \\hat\\phi_i = v(N) - v(\\emptyset)`, holds for every m by
construction (up to float64 rounding of the telescoping sums). With ``antithetic=True`` walks
come in pairs (pi, reversed pi); the two are dependent, so the units of the mean and of the
standard error are the m/2 pair means (s_i is their standard deviation, over sqrt(m/2)).

Cost. ``v(empty)`` and ``v(N)`` are the same for every walk of an image, so they are evaluated
once per image and shared: an image costs ``samples * (P - 1) + 2`` forward passes
(:func:`walk_passes`), not ``samples * (P + 1)``. The interior walk inputs of all images and
permutations form one stream, built chunk by chunk on the device (a coalition mask is
``rank_pi(cell of pixel) < j``, compared for a whole chunk at once, then multiplied into the
input buffer) and forwarded in chunks of exactly ``batch_size`` inputs; no Python loop runs
per walk step. ``benchmarks/bench_shapley.py`` measures the throughput against the raw model and
against captum's ``ShapleyValueSampling`` (2026-12-01, 2 cores, 1 thread as the pipeline's jobs run:
0.90 (LeNet) / 1.01 (ResNet-8) of the raw forward of the same inputs, captum taking 1.1-1.55x
ours' time; with 2 threads LeNet's is 0.83-0.86, its forward passes being too short, 15 us an
image, for the fixed cost of a chunk, about 0.5 ms, to vanish).

Reproducibility. The permutations of an image are drawn from a generator seeded by
``(seed, image index)`` (as :meth:`heatcheck.explainers.base.Explainer.generator`), so an image's
estimate does not depend on the other images of the call or on ``batch_size`` (beyond the
model's float rounding, which may vary with the batch a forward runs in).
"""

from __future__ import annotations

import math
import sys
from typing import Callable, NamedTuple

import numpy as np

from .lazy import no_grad, nn, torch

#: players above which :func:`exact_shapley` refuses (2**P coalitions are evaluated)
EXACT_MAX_PLAYERS = 16

OUTPUTS = ("prob", "logit")


class ShapleyEstimate(NamedTuple):
    """Result of :func:`shapley_sampling`.

    Attributes
    ----------
    estimate : Tensor
        (B, P) float64 mean marginal contribution per player; players in row-major cell order,
        so ``estimate.view(B, *grid)`` lines up with :func:`to_cells` of a map.
    stderr : Tensor
        (B, P) float64 standard error of each estimate (NaN with fewer than 2 walks, or 2 pairs
        when antithetic).
    grid : tuple of int
        (Hc, Wc), the cell grid.
    """

    estimate: torch.Tensor
    stderr: torch.Tensor
    grid: tuple[int, int]


# --------------------------------------------------------------------------------------------
# players


def cell_grid(height: int, width: int, cell: int) -> tuple[int, int]:
    """(Hc, Wc) = (ceil(H / cell), ceil(W / cell)): cells at the bottom/right edge may be cut off."""
    if cell < 1:
        raise ValueError(f"cell must be >= 1, got {cell}")
    return -(-height // cell), -(-width // cell)


def cell_index(height: int, width: int, cell: int, device=None) -> torch.Tensor:
    """(H, W) int64 player of each pixel: ``(h // cell) * Wc + (w // cell)`` (row-major cells)."""
    _, wc = cell_grid(height, width, cell)
    rows = torch.arange(height, device=device) // cell
    cols = torch.arange(width, device=device) // cell
    return rows[:, None] * wc + cols[None, :]


def to_cells(maps, cell: int):
    """Sum maps (..., H, W) over ``cell x cell`` blocks: (..., Hc, Wc).

    The Shapley value of a cell is not the sum of its pixels' Shapley values, but an attribution
    map is compared with the cell-level estimate through this sum (an attribution map read as a
    decomposition ``y = b + sum_i A_i`` of the output, paper eq. 2, sums over a cell). Edge cells
    that are cut off sum the pixels they have. Accepts a tensor or an array and returns the same
    kind (float64 for integer input).
    """
    is_np = not isinstance(maps, torch.Tensor)
    t = torch.as_tensor(np.asarray(maps)) if is_np else maps
    if not t.is_floating_point():
        t = t.double()
    *lead, h, w = t.shape
    hc, wc = cell_grid(h, w, cell)
    if hc * cell != h or wc * cell != w:
        # zero-pad to whole cells: the padding adds nothing to the sums
        t = torch.nn.functional.pad(t, (0, wc * cell - w, 0, hc * cell - h))
    out = t.reshape(*lead, hc, cell, wc, cell).sum(dim=(-3, -1))
    return out.numpy() if is_np else out


def coalition_inputs(x: torch.Tensor, masks: torch.Tensor, cell: int, baseline=0.0) -> torch.Tensor:
    """Images (N, C, H, W) of coalitions: ``baseline + (x - baseline) * [player present]``.

    Parameters
    ----------
    x : Tensor
        One normalized image (C, H, W).
    masks : Tensor
        (N, P) bool, ``masks[n, p]`` = player p is present in coalition n.
    cell : int
        Player side in pixels.
    baseline : float or Tensor
        Value of absent pixels, a scalar or broadcastable to (C, H, W).

    This is the plain, pixel-gather construction (used by :func:`image_game` and to check the
    sampler's fused construction).
    """
    c, h, w = x.shape
    idx = cell_index(h, w, cell, x.device).view(-1)
    m = masks.to(x.device)[:, idx].view(-1, 1, h, w)
    # where, not base + (x - base) * m, so that present pixels are bit-exact copies of x
    return torch.where(m, x, _baseline(baseline, x))


# --------------------------------------------------------------------------------------------
# the model as a game


def _baseline(baseline, x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(baseline, dtype=x.dtype, device=x.device)


def _check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")


def _score(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, output: str) -> torch.Tensor:
    """Target-class probability or logit (N,) float64 of one chunk of inputs.

    The softmax runs in float64: marginal contributions are differences of nearby probabilities,
    and float32 rounding (~6e-8) would be a visible share of the small ones.
    """
    with torch.inference_mode():
        out = model(inputs).double()
        if output == "prob":
            out = out.softmax(1)
        v = out.gather(1, targets.view(-1, 1)).squeeze(1)
    # a copy made outside inference mode is an ordinary tensor, free to be written in place later
    return v.to(torch.float64, copy=True)


def _score_batched(model, inputs: torch.Tensor, targets: torch.Tensor, output: str, batch_size: int) -> torch.Tensor:
    return torch.cat([_score(model, inputs[i:i + batch_size], targets[i:i + batch_size], output)
                      for i in range(0, len(inputs), batch_size)])


def image_game(model: nn.Module, x: torch.Tensor, target: int, *, cell: int = 1, output: str = "prob",
               baseline=0.0, batch_size: int = 256) -> Callable[[torch.Tensor], torch.Tensor]:
    """The coalition game ``v(S) = F(I_S)`` of one image, for :func:`exact_shapley`.

    Parameters
    ----------
    model : nn.Module
        Classifier of normalized images, in eval mode.
    x : Tensor
        The image, (C, H, W) or (1, C, H, W).
    target : int
        Class whose output F is explained.
    cell, output, baseline, batch_size
        As in :func:`shapley_sampling`.

    Returns
    -------
    callable
        ``v(masks)`` for masks (N, P) bool, returning (N,) float64.
    """
    _check_output(output)
    x = x.reshape(x.shape[-3:])
    dev = x.device

    def v(masks: torch.Tensor) -> torch.Tensor:
        masks = torch.as_tensor(masks, dtype=torch.bool)
        t = torch.full((batch_size,), int(target), dtype=torch.long, device=dev)
        out = []
        for i in range(0, len(masks), batch_size):
            inp = coalition_inputs(x, masks[i:i + batch_size], cell, baseline)
            out.append(_score(model, inp, t[:len(inp)], output))
        return torch.cat(out).cpu()
    return v


def exact_shapley(f: Callable[[torch.Tensor], torch.Tensor], n_players: int) -> torch.Tensor:
    """Exact Shapley values by enumerating all ``2**n_players`` coalitions.

    .. math::

        \\phi_i = \\sum_{S \\not\\ni i} \\frac{|S|!\\,(n-|S|-1)!}{n!}\\,[v(S \\cup \\{i\\}) - v(S)]

    Parameters
    ----------
    f : callable
        ``f(masks)`` for masks (2**n, n) bool (row c is the coalition whose bit p of c is set
        for player p), returning (2**n,) values, or (2**n, B) for B games at once.
    n_players : int
        n, at most :data:`EXACT_MAX_PLAYERS` (meant for tests: <= 10 players is instant).

    Returns
    -------
    Tensor
        (n,) float64, or (B, n) for B games.
    """
    n = int(n_players)
    if not 1 <= n <= EXACT_MAX_PLAYERS:
        raise ValueError(f"exact_shapley enumerates 2**n coalitions; n must be in 1..{EXACT_MAX_PLAYERS}, got {n}")
    codes = torch.arange(2 ** n)
    bits = torch.arange(n)
    masks = ((codes[:, None] >> bits) & 1).bool()
    v = torch.as_tensor(f(masks)).double().cpu()
    size = masks.sum(1)
    weight = torch.tensor([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)],
                          dtype=torch.float64)
    phi = []
    for i in range(n):
        without = codes[((codes >> i) & 1) == 0]
        w = weight[size[without]]
        diff = v[without | (1 << i)] - v[without]
        phi.append((w.view(-1, *([1] * (diff.ndim - 1))) * diff).sum(0))
    return torch.stack(phi, -1)


# --------------------------------------------------------------------------------------------
# the sampler


def image_generator(seed: int, index: int) -> torch.Generator:
    """A CPU generator seeded by ``(seed, image index)``, as ``Explainer.generator``."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0]))


def walk_passes(n_players: int, samples: int) -> int:
    """Forward passes per image of :func:`shapley_sampling`: ``samples * (P - 1) + 2``.

    Each walk needs the P - 1 interior coalitions; the empty and the full coalition are evaluated
    once per image and shared by all walks (a plain implementation costs ``samples * (P + 1)``).
    """
    return int(samples) * (int(n_players) - 1) + 2


def walk_ranks(n_players: int, samples: int, *, antithetic: bool = False, seed: int = 0, index: int = 0) -> torch.Tensor:
    """Positions of the players in an image's ``samples`` random permutations: (samples, P) int32.

    ``rank[k, p] = j`` when player p is the (j+1)-th added in walk k, so the coalition after j
    steps is ``{p : rank[k, p] < j}``. Permutations are argsorts of float64 uniforms (ties, which
    would bias the order, have probability ~P^2 / 2^53). Antithetic walks 2k and 2k+1 are a
    permutation and its reverse (``rank' = P - 1 - rank``).
    """
    g = image_generator(seed, index)
    n = samples // 2 if antithetic else samples
    perm = torch.rand(n, n_players, generator=g, dtype=torch.float64).argsort(1)
    rank = torch.empty_like(perm)
    rank.scatter_(1, perm, torch.arange(n_players).expand(n, n_players).contiguous())
    if antithetic:
        rank = torch.stack([rank, n_players - 1 - rank], 1).reshape(samples, n_players)
    return rank.to(torch.int32)


@no_grad
def shapley_sampling(model: nn.Module, x: torch.Tensor, targets, *, cell: int = 1, samples: int = 1000,
                     antithetic: bool = False, output: str = "prob", batch_size: int = 256, seed: int = 0,
                     index=None, baseline=0.0, progress: bool = False) -> ShapleyEstimate:
    """Permutation-sampling Shapley values of the target output, for a batch of images.

    Parameters
    ----------
    model : nn.Module
        Classifier of normalized images (B, C, H, W) -> logits, in eval mode (BatchNorm in train
        mode would make outputs depend on the chunk).
    x : Tensor
        (B, C, H, W) normalized images, on the model's device.
    targets : Tensor or int
        (B,) classes whose output F is explained (an int applies to all images).
    cell : int
        Player side in pixels: P = ceil(H / cell) * ceil(W / cell) players, each all channels
        of a ``cell x cell`` square (cut off at the bottom/right edge when cell does not divide).
    samples : int
        Walks (permutations) per image, m; even when ``antithetic``. Paper: 1000 per CIFAR
        image, 100 per VOC image (there with cell = 1).
    antithetic : bool
        Draw walks in pairs (pi, reversed pi); the standard error is over the m/2 pair means.
    output : {"prob", "logit"}
        F: the target-class softmax probability, or its logit.
    batch_size : int
        Inputs per forward pass (every chunk but the last is full).
    seed : int
        Seed; image b draws its permutations from ``(seed, index[b])``.
    index : sequence of int, optional
        The images' positions in the dataset (default ``range(B)``).
    baseline : float or Tensor
        Value of absent pixels, scalar or broadcastable to (C, H, W); 0 is the dataset mean in
        normalized space.
    progress : bool
        Print the share of forward passes done to stderr.

    Returns
    -------
    ShapleyEstimate
        ``(estimate (B, P), stderr (B, P), (Hc, Wc))``, float64 on x's device;
        ``estimate[b].sum() == F(x_b) - F(baseline)`` up to float64 rounding, for every m.
        Each image costs :func:`walk_passes` ``(P, samples)`` forward passes.
    """
    _check_output(output)
    samples = int(samples)
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if antithetic and samples % 2:
        raise ValueError(f"antithetic sampling draws walks in pairs; samples must be even, got {samples}")
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    b_n, c, h, w = x.shape
    hc, wc = cell_grid(h, w, cell)
    p_n = hc * wc
    dev, dtype = x.device, x.dtype
    targets = torch.as_tensor(targets, device=dev).long()
    targets = targets.expand(b_n) if targets.ndim == 0 else targets.view(b_n)
    index = list(range(b_n)) if index is None else [int(i) for i in index]
    if len(index) != b_n:
        raise ValueError(f"index has {len(index)} entries for {b_n} images")
    base = _baseline(baseline, x)

    # the endpoints of every walk, once per image
    f_empty = _score_batched(model, base.expand(b_n, c, h, w), targets, output, batch_size)
    f_full = _score_batched(model, x, targets, output, batch_size)

    # construction: a chunk's coalitions are one gather of its walks' ranks and one compare at
    # cell level (players ranked below j), spread to the pixels by one gather of the 0/1 mask
    # (P times fewer compares than at pixel level: 0.13 ms instead of 0.2-1 ms for a chunk of 256
    # at 32 px and 4-px cells), multiplied into the input buffer broadcast
    # over channels (a multiply by the mask is ~2x faster than torch.where here). With a nonzero
    # baseline, x * m + baseline * (1 - m) keeps the result bit-exact: present pixels are x, absent
    # ones the baseline, as in the endpoint passes.
    nonzero_base = bool((base != 0).any())
    pix = cell_index(h, w, cell, dev).view(-1)
    inner = p_n - 1  # interior walk positions j = 1 .. P-1 are evaluated
    per_img = samples * inner
    total = b_n * per_img
    estimate = torch.empty(b_n, p_n, dtype=torch.float64, device=dev)
    stderr = torch.empty_like(estimate)
    state: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def open_image(b: int):
        if b not in state:
            rank = walk_ranks(p_n, samples, antithetic=antithetic, seed=seed, index=index[b]).to(dev)
            state[b] = (rank, torch.empty(per_img, dtype=torch.float64, device=dev))
        return state[b]

    def finish(b: int):
        rank, vals = open_image(b)
        del state[b]
        v = torch.cat([f_empty[b].expand(samples, 1), vals.view(samples, inner), f_full[b].expand(samples, 1)], 1)
        # marginal of the player added at step j is v[j+1] - v[j]; gather puts it at the player
        phi = v.diff(dim=1).gather(1, rank.long())
        if antithetic:
            phi = phi.view(samples // 2, 2, p_n).mean(1)
        m = len(phi)
        estimate[b] = phi.mean(0)
        stderr[b] = phi.std(0, correction=1) / math.sqrt(m) if m > 1 else float("nan")

    buf = torch.empty(min(batch_size, total), c, h, w, dtype=dtype, device=dev) if total else None
    row_t = torch.empty(len(buf) if total else 0, dtype=torch.long, device=dev)
    done = 0  # images finished
    report = max(1, total // (batch_size * 20)) if total else 1
    for chunk, start in enumerate(range(0, total, batch_size)):
        stop = min(total, start + batch_size)
        n = stop - start
        segs = []
        for b in range(start // per_img, (stop - 1) // per_img + 1):
            rank, vals = open_image(b)
            r0, r1 = max(start, b * per_img) - b * per_img, min(stop, (b + 1) * per_img) - b * per_img
            o = b * per_img + r0 - start
            rows = r1 - r0
            r = torch.arange(r0, r1, device=dev)
            # walk k, after j players: the coalition is the players ranked below j
            # (j in the ranks' int32: comparing int32 to int64 would promote the whole chunk)
            j = (r % inner + 1).to(rank.dtype)
            mask = torch.lt(rank.index_select(0, r // inner), j[:, None]).to(dtype)
            if cell > 1:
                mask = mask.index_select(1, pix)
            mask = mask.view(rows, 1, h, w)
            out = buf[o:o + rows]
            torch.mul(mask, x[b], out=out)
            if nonzero_base:
                out.addcmul_(1 - mask, base)
            row_t[o:o + rows] = targets[b]
            segs.append((vals, r0, r1, o))
        scores = _score(model, buf[:n], row_t[:n], output)
        for vals, r0, r1, o in segs:
            vals[r0:r1] = scores[o:o + r1 - r0]
        # images whose last walk ended in this chunk are complete
        while done < b_n and (done + 1) * per_img <= stop:
            finish(done)
            done += 1
        if progress and (chunk % report == 0 or stop == total):
            print(f"shapley: {stop}/{total} passes ({100 * stop / total:.0f}%)", file=sys.stderr, flush=True)
    # with a single player (or total == 0) no interior pass exists: the walks are endpoints only
    while done < b_n:
        finish(done)
        done += 1
    return ShapleyEstimate(estimate, stderr, (hc, wc))


__all__ = ["ShapleyEstimate", "cell_grid", "cell_index", "to_cells", "coalition_inputs", "image_game",
           "exact_shapley", "image_generator", "walk_passes", "walk_ranks", "shapley_sampling",
           "EXACT_MAX_PLAYERS"]
