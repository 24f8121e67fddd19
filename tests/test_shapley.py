"""The permutation-sampling Shapley estimator against exact Shapley values computed by enumeration.

Games have at most 9 players (a 3x3 image with cell 1, a 6x6 image with cell 2, a 5x5 image with
cell 2 whose edge cells are cut off), so the exact values take 512 coalitions. Every random draw
is seeded: the statistical checks are deterministic, with thresholds that a correct estimator
passes with a wide margin (and a biased or mis-scaled one fails).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from heatcheck.shapley import (cell_grid, cell_index, coalition_inputs, exact_shapley, image_game,
                               shapley_sampling, to_cells, walk_passes, walk_ranks)

CLASSES = 3


def tiny_net(size: int, seed: int = 0) -> nn.Module:
    """A small nonlinear conv net (interactions between pixels) on ``size x size`` RGB images."""
    torch.manual_seed(seed)
    side = size - 1
    net = nn.Sequential(nn.Conv2d(3, 8, 2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(8 * side * side, 16), nn.Tanh(), nn.Linear(16, CLASSES)).eval()
    with torch.no_grad():
        net[-1].weight.mul_(3.0)  # spread the softmax so the probability game is not flat
    return net


def images(n: int, size: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def exact(net, x, targets, cell, output="prob", baseline=0.0) -> torch.Tensor:
    hc, wc = cell_grid(x.shape[-2], x.shape[-1], cell)
    return torch.stack([exact_shapley(image_game(net, x[i], int(targets[i]), cell=cell, output=output,
                                                 baseline=baseline), hc * wc) for i in range(len(x))])


# (image side, cell): 9 players each; the 5x5 case exercises the cut-off edge cells
GAMES = [(3, 1), (6, 2), (5, 2)]


@pytest.fixture(scope="module", params=GAMES, ids=[f"{s}px-cell{c}" for s, c in GAMES])
def game(request):
    size, cell = request.param
    net = tiny_net(size)
    x = images(8, size)
    t = torch.arange(8) % CLASSES
    return net, x, t, cell, exact(net, x, t, cell)


# --------------------------------------------------------------------------------------------
# exact Shapley values and the game helpers


def test_exact_shapley_textbook_games():
    # glove game: player 0 holds a left glove, players 1 and 2 right gloves; a pair is worth 1
    def glove(m):
        return (m[:, 0] & (m[:, 1] | m[:, 2])).double()
    phi = exact_shapley(glove, 3)
    assert torch.allclose(phi, torch.tensor([4 / 6, 1 / 6, 1 / 6], dtype=torch.float64))
    # additive game with an interaction term split equally (v = sum a_i + c * [0 and 1])
    a = torch.tensor([0.5, -1.0, 2.0, 0.25], dtype=torch.float64)

    def add(m):
        md = m.double()
        return md @ a + 3.0 * md[:, 0] * md[:, 1]
    assert torch.allclose(exact_shapley(add, 4), a + torch.tensor([1.5, 1.5, 0, 0], dtype=torch.float64))
    # several games at once: (2**n, B) values -> (B, n)
    both = exact_shapley(lambda m: torch.stack([glove(m), 2 * glove(m)], 1), 3)
    assert torch.allclose(both, torch.stack([phi, 2 * phi]))
    with pytest.raises(ValueError):
        exact_shapley(glove, 40)


def test_coalition_inputs_and_cell_index():
    x = torch.randn(3, 5, 5)
    idx = cell_index(5, 5, 2)
    assert idx.shape == (5, 5) and idx.max() == 8 and idx[4, 4] == 8 and idx[0, 2] == 1 and idx[2, 0] == 3
    masks = torch.zeros(2, 9, dtype=torch.bool)
    masks[0, 4] = True
    masks[1] = True
    out = coalition_inputs(x, masks, 2, baseline=0.5)
    keep = (idx == 4)
    assert torch.equal(out[0][:, keep], x[:, keep])
    assert (out[0][:, ~keep] == 0.5).all()
    assert torch.equal(out[1], x)


# --------------------------------------------------------------------------------------------
# the sampler against the exact values


def test_estimate_within_standard_errors(game):
    net, x, t, cell, phi = game
    est, se, grid = shapley_sampling(net, x, t, cell=cell, samples=400, batch_size=1024, seed=3)
    assert grid == (3, 3) and est.shape == se.shape == (8, 9) and est.dtype == torch.float64
    z = (est - phi) / se
    # a normal error is within 3 standard errors 99.7% of the time; allow some heavy tails
    assert (z.abs() < 3).float().mean() >= 0.9, z
    # the reported standard errors are the right size: RMS z close to 1 (72 players)
    rms_z = z.pow(2).mean().sqrt().item()
    assert 0.6 < rms_z < 1.5, rms_z


def test_error_shrinks_like_inverse_sqrt_samples(game):
    net, x, t, cell, phi = game
    # errors in units of each player's walk-to-walk spread sigma_i (from an independent run), so
    # that a few high-variance players do not dominate the RMS: then RMS ~ 1 / sqrt(samples)
    sigma = shapley_sampling(net, x, t, cell=cell, samples=1600, batch_size=1024, seed=99).stderr * 40
    rms = {}
    for s in (100, 1600):
        est, se, _ = shapley_sampling(net, x, t, cell=cell, samples=s, batch_size=1024, seed=5)
        rms[s] = ((est - phi) / sigma).pow(2).mean().sqrt().item()
        assert 0.6 < rms[s] * math.sqrt(s) < 1.5, rms
    ratio = rms[100] / rms[1600]
    assert 2.5 < ratio < 6.5, (ratio, rms)  # sqrt(16) = 4


@pytest.mark.parametrize("samples", [1, 2, 7, 100])
def test_efficiency_every_sample_count(game, samples):
    net, x, t, cell, phi = game
    est, se, _ = shapley_sampling(net, x, t, cell=cell, samples=samples, batch_size=64)
    # exact: sum of Shapley values = F(x) - F(baseline), evaluated independently by image_game
    assert torch.allclose(est.sum(1), phi.sum(1), atol=1e-6, rtol=0)
    if samples == 1:
        assert torch.isnan(se).all()  # one walk: no spread to measure
    else:
        assert torch.isfinite(se).all() and (se >= 0).all()


def test_antithetic_unbiased_and_efficient(game):
    net, x, t, cell, phi = game
    for s in (2, 8):
        est, _, _ = shapley_sampling(net, x, t, cell=cell, samples=s, antithetic=True, batch_size=256)
        assert torch.allclose(est.sum(1), phi.sum(1), atol=1e-6, rtol=0)
    est, se, _ = shapley_sampling(net, x, t, cell=cell, samples=400, antithetic=True, batch_size=1024, seed=7)
    z = (est - phi) / se
    assert (z.abs() < 3).float().mean() >= 0.9, z
    assert 0.6 < z.pow(2).mean().sqrt().item() < 1.5


def test_antithetic_pairs_and_their_standard_error():
    # walk 2k+1 is walk 2k reversed
    r = walk_ranks(9, 6, antithetic=True, seed=0, index=3)
    assert torch.equal(r[1::2], 8 - r[0::2])
    assert torch.equal(r.sort(1).values, torch.arange(9, dtype=torch.int32).expand(6, 9))
    with pytest.raises(ValueError):
        shapley_sampling(tiny_net(3), images(1, 3), 0, samples=3, antithetic=True)
    # with 2 players a permutation and its reverse are all permutations: every pair mean is the
    # exact value, so the standard error over pair means is 0 (over single walks it would not be)
    x = images(3, 4, seed=2)[:, :, :2, :]  # 2x4 images with cell 2: a 1x2 grid of cells
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 4, 8), nn.Tanh(), nn.Linear(8, CLASSES)).eval()
    t = torch.tensor([0, 1, 2])
    phi = exact(net, x, t, 2)
    est, se, grid = shapley_sampling(net, x, t, cell=2, samples=6, antithetic=True)
    assert grid == (1, 2)
    assert torch.allclose(est, phi, atol=1e-9)
    assert se.abs().max() < 1e-9
    _, se_plain, _ = shapley_sampling(net, x, t, cell=2, samples=6)
    assert se_plain.max() > 1e-4


# --------------------------------------------------------------------------------------------
# closed form, cells, reproducibility, cost


@pytest.mark.parametrize("size,cell", [(6, 1), (6, 2), (7, 3)])
def test_linear_model_exact_from_one_permutation(size, cell):
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, CLASSES)).eval()
    x = images(4, size)
    t = torch.tensor([0, 1, 2, 1])
    baseline = 0.3
    w = lin[1].weight.detach().view(CLASSES, 3, size, size)[t]  # (B, C, H, W)
    # phi_cell = sum over the cell's pixels and channels of w * (x - baseline)
    closed = to_cells((w * (x - baseline)).sum(1), cell).flatten(1).double()
    for seed in (0, 1):
        est, _, _ = shapley_sampling(lin, x, t, cell=cell, samples=1, output="logit", baseline=baseline, seed=seed)
        assert torch.allclose(est, closed, atol=1e-5, rtol=0)
    _, se, _ = shapley_sampling(lin, x, t, cell=cell, samples=3, output="logit", baseline=baseline)
    assert se.max() < 1e-5  # every permutation gives the same marginals


def test_to_cells():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(2, 7, 5))
    out = to_cells(maps, 3)
    assert isinstance(out, np.ndarray) and out.shape == (2, 3, 2)
    for i in range(3):
        for j in range(2):
            assert np.allclose(out[:, i, j], maps[:, 3 * i:3 * i + 3, 3 * j:3 * j + 3].sum((1, 2)))
    t = torch.from_numpy(maps).float()
    assert torch.allclose(to_cells(t, 1), t)
    assert torch.allclose(to_cells(t, 3), torch.from_numpy(out).float(), atol=1e-5)
    assert to_cells(t, 3).sum() == pytest.approx(t.sum().item(), abs=1e-4)
    # integer maps are summed in float64
    assert to_cells(torch.ones(4, 4, dtype=torch.long), 2).equal(torch.full((2, 2), 4.0, dtype=torch.float64))


def test_cell_order_matches_to_cells():
    # the estimate's player p is cell (p // Wc, p % Wc): a map that is 1 on one pixel sums onto
    # the cell whose player carries the value in the closed form of a linear model
    size, cell = 6, 2
    lin = nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, 1, bias=False)).eval()
    with torch.no_grad():
        lin[1].weight.zero_()
        lin[1].weight.view(3, size, size)[:, 4, 1] = 1.0  # pixel (4, 1) is in cell (2, 0): player 6
    x = torch.ones(1, 3, size, size)
    est, _, grid = shapley_sampling(lin, x, torch.tensor([0]), cell=cell, samples=1, output="logit")
    assert grid == (3, 3)
    assert est[0].argmax().item() == 6 and est[0, 6].item() == pytest.approx(3.0)
    onehot = torch.zeros(size, size)
    onehot[4, 1] = 1
    assert to_cells(onehot, cell).flatten().argmax().item() == 6


def test_deterministic_per_image_index():
    net = tiny_net(6)
    x = images(5, 6)
    t = torch.tensor([0, 1, 2, 0, 1])
    idx = [10, 11, 12, 13, 14]
    full, full_se, _ = shapley_sampling(net, x, t, cell=2, samples=20, batch_size=50, seed=4, index=idx)
    # one image alone, other chunk sizes: the same permutations, hence the same estimate
    alone, alone_se, _ = shapley_sampling(net, x[2:3], t[2:3], cell=2, samples=20, batch_size=7, seed=4, index=[12])
    assert torch.allclose(alone[0], full[2], atol=1e-7, rtol=0)
    assert torch.allclose(alone_se[0], full_se[2], atol=1e-7, rtol=0)
    rev, _, _ = shapley_sampling(net, x.flip(0), t.flip(0), cell=2, samples=20, batch_size=1000, seed=4,
                                 index=idx[::-1])
    assert torch.allclose(rev.flip(0), full, atol=1e-7, rtol=0)
    other, _, _ = shapley_sampling(net, x, t, cell=2, samples=20, batch_size=50, seed=5, index=idx)
    assert not torch.allclose(other, full)


class CountingNet(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net, self.rows = net, 0

    def forward(self, x):
        self.rows += len(x)
        return self.net(x)


@pytest.mark.parametrize("samples,antithetic", [(1, False), (10, False), (10, True)])
def test_forward_pass_count(samples, antithetic):
    net = CountingNet(tiny_net(6))
    x = images(3, 6)
    shapley_sampling(net, x, torch.tensor([0, 1, 2]), cell=2, samples=samples, antithetic=antithetic, batch_size=32)
    assert net.rows == 3 * walk_passes(9, samples) == 3 * (samples * 8 + 2)


def test_single_player_and_logit_efficiency():
    net = tiny_net(3)
    x = images(2, 3)
    t = torch.tensor([1, 2])
    est, se, grid = shapley_sampling(net, x, t, cell=3, samples=4)  # one cell: phi = F(x) - F(0)
    assert grid == (1, 1)
    phi = exact(net, x, t, 3)
    assert torch.allclose(est, phi, atol=1e-9) and se.abs().max() < 1e-12
    est, _, _ = shapley_sampling(net, x, t, samples=5, output="logit")
    assert torch.allclose(est.sum(1), exact(net, x, t, 1, output="logit").sum(1), atol=1e-5)
    with pytest.raises(ValueError):
        shapley_sampling(net, x, t, output="margin")
    assert math.isclose(walk_passes(64, 1000), 63002)
