"""Occlusion, RISE and LIME against their definitions on cases small enough to know the answer.

Most models here are "probability models": they output the logits ``[log(1 - q), log q]`` so
that the softmax probability of class 1 is exactly a chosen function ``q`` of the input, e.g.
linear in the pixels or in the superpixel indicators, which makes the expected maps computable
by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from heatcheck import HeatcheckError
from heatcheck.costs import explainer_passes
from heatcheck.explainers import EXPLAINERS
from heatcheck.explainers.perturbation import RISE, Lime, Occlusion, lime_weights, window_starts



class ProbModel(nn.Module):
    """Two classes whose softmax probabilities are ``1 - q(x)`` and ``q(x)``."""

    def __init__(self, q):
        super().__init__()
        self.q = q

    def forward(self, x):
        q = self.q(x).double().clamp(1e-12, 1 - 1e-12)
        return torch.stack([torch.log1p(-q), torch.log(q)], 1)


def small_cnn(channels=3, size=16, classes=5, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(6 * (size // 2) ** 2, classes)).eval()


# ------------------------------------------------------------------------------------------
# occlusion


def hand_occlusion(drop_of_window, h, w, window, stride):
    """Mean over covering windows of the drop of each window, by explicit loops."""
    total, count = np.zeros((h, w)), np.zeros((h, w))
    for top in window_starts(h, window, stride):
        for left in window_starts(w, window, stride):
            d = drop_of_window(top, left)
            total[top:top + window, left:left + window] += d
            count[top:top + window, left:left + window] += 1
    return total / count


@pytest.mark.parametrize("window,stride", [(3, 2), (2, 2), (4, 1), (8, 8)])
def test_occlusion_equals_hand_computed_drops_of_a_linear_probability_model(window, stride):
    # q = 0.5 + sum(w * x): occluding a window drops q by exactly sum over the window of w * x
    rng = np.random.default_rng(0)
    c, h, wd = 2, 8, 8
    weights = torch.from_numpy(rng.uniform(-0.003, 0.003, (c, h, wd)))
    x = torch.from_numpy(rng.uniform(-1, 1, (2, c, h, wd))).float()
    model = ProbModel(lambda z: 0.5 + (z.double() * weights).sum((1, 2, 3)))
    targets = torch.tensor([1, 0])  # class 0 has probability 1 - q: drops change sign
    maps = Occlusion(model, batch_size=7, window=window, stride=stride).attribute(x, targets)
    assert maps.shape == (2, h, wd) and maps.dtype == torch.float32
    for b, sign in enumerate([1.0, -1.0]):
        contrib = (weights * x[b].double()).sum(0).numpy()  # per-pixel share of q
        expected = hand_occlusion(lambda t, l: sign * contrib[t:t + window, l:l + window].sum(), h, wd, window, stride)
        np.testing.assert_allclose(maps[b].numpy(), expected, atol=2e-6)


def test_occlusion_of_a_model_reading_one_pixel_is_nonzero_only_on_its_window():
    # non-overlapping 2x2 windows: only the window holding pixel (5, 2) changes q
    x = torch.ones(1, 3, 8, 8)
    model = ProbModel(lambda z: 0.2 + 0.6 * z[:, 1, 5, 2])
    m = Occlusion(model, window=2, stride=2).attribute(x, torch.tensor([1]))[0]
    expected = torch.zeros(8, 8)
    expected[4:6, 2:4] = 0.6
    torch.testing.assert_close(m, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("window,stride", [(3, 2), (4, 4), (5, 3), (2, 1)])
def test_occlusion_equals_captum(window, stride):
    from captum.attr import Occlusion as CaptumOcclusion

    model = small_cnn()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 3, 4])
    # a batch size that splits images across forward chunks
    ours = Occlusion(model, batch_size=37, window=window, stride=stride).attribute(x, targets)
    with torch.no_grad():
        ref = CaptumOcclusion(lambda z: model(z).softmax(1)).attribute(
            x, sliding_window_shapes=(3, window, window), strides=(3, stride, stride), baselines=0,
            target=targets, perturbations_per_eval=16)
    assert torch.equal(ref[:, 0], ref[:, 2])  # captum's map is the same on every channel
    torch.testing.assert_close(ours, ref[:, 0].float(), atol=1e-6, rtol=1e-5)


def test_occlusion_geometry_defaults_and_pass_count():
    model = small_cnn()
    for size in (16, 32, 64, 224):
        e = Occlusion(model, window=None, stride=None)
        w, s = e._geometry(size, size)
        assert (w, s) == (max(2, round(8 * size / 224)),) * 2
        assert e.passes_per_image(size) == explainer_passes("occlusion", {}, size)
    e = Occlusion(model, window=5, stride=3)
    assert e.passes_per_image(16) == explainer_passes("occlusion", {"window": 5, "stride": 3}, 16) == 26
    with pytest.raises(HeatcheckError, match="stride"):
        Occlusion(model, window=2, stride=3).attribute(torch.zeros(1, 3, 16, 16), torch.tensor([0]))
    with pytest.raises(HeatcheckError, match="window"):
        Occlusion(model, window=20).attribute(torch.zeros(1, 3, 16, 16), torch.tensor([0]))


def test_occlusion_map_does_not_depend_on_batching():
    model = small_cnn()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([0, 2, 4])
    together = Occlusion(model, window=4, stride=2, batch_size=40).attribute(x, t)
    alone = torch.cat([Occlusion(model, window=4, stride=2, batch_size=256).attribute(x[i:i + 1], t[i:i + 1])
                       for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-5)


def test_a_streaming_method_is_given_images_that_fill_its_forward_chunks():
    """compute_shard gives occlusion (257 passes an image at 32 px) 7 images a call at batch 256,
    whose forward passes are all full but the call's last; a method that does not stream gets
    the images that fill one batch."""
    from heatcheck.explainers.base import STREAM_CHUNKS

    sizes = []

    class Recording(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, z):
            sizes.append(len(z))
            return self.model(z)

    occ = Occlusion(Recording(small_cnn(size=32)), batch_size=256)
    per = occ.images_per_call(32, 32)
    assert occ.passes_per_image(32) == 257 and per == STREAM_CHUNKS * 256 // 257 == 7
    assert occ.images_per_call(32, 3) == 3
    occ.attribute(torch.randn(per, 3, 32, 32), torch.zeros(per, dtype=torch.long))
    assert sizes == [256] * per + [per]
    ig = EXPLAINERS.get("integrated_gradients")(small_cnn(size=32), batch_size=256, steps=32)
    assert not ig.streams and ig.images_per_call(32, 32) == 256 // int(ig.passes_per_image(32)) == 4


# ------------------------------------------------------------------------------------------
# RISE


def rise_reference_mask(grid, shift_draw, size, cell):
    """One mask as the RISE code builds it: skimage resize of the grid, then the shifted crop."""
    from skimage.transform import resize

    up = (grid.shape[0] + 1) * cell
    big = resize(grid.numpy().astype(np.float64), (up, up), order=1, mode="reflect", anti_aliasing=False)
    dy, dx = (int(v * cell) for v in shift_draw)
    return big[dy:dy + size, dx:dx + size]


def test_rise_masks_follow_the_rise_code_and_are_reproducible_from_the_seed():
    size, grid, p = 20, 7, 0.3  # cell = 3 px, 24-px upsampled masks: not a divisor case
    e = RISE(nn.Identity(), masks=150, grid=grid, p=p, seed=4)
    masks = e.masks(0, 150, size, size)
    assert masks.shape == (150, size, size) and masks.dtype == torch.float32
    for block in (0, 2):
        grids, shifts = e.grids_and_shifts(block)
        assert set(grids.unique().tolist()) <= {0.0, 1.0}
        for i in range(0, len(grids), 5):
            np.testing.assert_allclose(masks[block * 64 + i].numpy(), rise_reference_mask(grids[i], shifts[i], size, 3),
                                       atol=1e-6)
    # the same seed gives the same masks whatever the batch size; a smaller set is a prefix
    again = RISE(nn.Identity(), masks=100, grid=grid, p=p, seed=4, batch_size=3).masks(0, 100, size, size)
    assert torch.equal(again, masks[:100])
    assert not torch.equal(RISE(nn.Identity(), masks=150, grid=grid, p=p, seed=5).masks(0, 150, size, size), masks)
    big = RISE(nn.Identity(), masks=4000, grid=grid, p=p, seed=4).masks(0, 4000, size, size)
    assert abs(big.mean().item() - p) < 0.01  # bilinear weights sum to one: E[M] = p


def rise_expectation(q0, q1, patch, size, grid, p):
    """Exact E[q(x * M) M(u)] / p for q = q0 + q1 * mean of M over ``patch`` (x = 1).

    With cell values G_j ~ Bernoulli(p) and interpolation weights w_j(u) (summing to one):
    E[M(v) M(u)] = p^2 + p (1 - p) sum_j w_j(v) w_j(u), averaged over the cell x cell shifts.
    """
    from skimage.transform import resize

    cell = -(-size // grid)
    up = (grid + 1) * cell
    weights = np.zeros((grid * grid, cell, cell, size, size))
    for j in range(grid * grid):
        onehot = np.zeros((grid, grid))
        onehot.flat[j] = 1
        big = resize(onehot, (up, up), order=1, mode="reflect", anti_aliasing=False)
        for dy in range(cell):
            for dx in range(cell):
                weights[j, dy, dx] = big[dy:dy + size, dx:dx + size]
    w_patch = weights[:, :, :, patch[0], patch[1]].mean((-1, -2))
    cross = np.einsum("jab,jabuv->uv", w_patch, weights) / cell ** 2
    return q0 + q1 * (p + (1 - p) * cross)


@pytest.mark.parametrize("seed", [0, 1])
def test_rise_estimate_approaches_its_analytic_expectation(seed):
    size, grid, p = 16, 4, 0.5
    patch = (slice(4, 8), slice(8, 12))
    model = ProbModel(lambda z: 0.05 + 0.9 * z[:, 0, patch[0], patch[1]].mean((1, 2)))
    expected = rise_expectation(0.05, 0.9, patch, size, grid, p)
    x = torch.ones(1, 1, size, size)

    def rms_error(n):
        sal = RISE(model, masks=n, grid=grid, p=p, seed=seed).attribute(x, torch.tensor([1]))[0].double().numpy()
        return np.sqrt(((sal - expected) ** 2).mean())

    small, large = rms_error(256), rms_error(16384)
    # Monte Carlo error shrinks like 1/sqrt(masks): 8x here
    assert large < 0.35 * small
    assert large < 0.01


def test_rise_top_pixels_fall_in_the_patch_the_model_needs():
    # the target probability is high only when the 4x4 patch at rows 20-23, cols 8-11 is kept
    model = ProbModel(lambda z: torch.sigmoid(20 * (z[:, 0, 20:24, 8:12].mean((1, 2)) - 0.75)))
    x = torch.ones(2, 3, 32, 32)
    sal = RISE(model, masks=2000, grid=7, p=0.1, seed=0).attribute(x, torch.tensor([1, 1]))
    for s in sal:
        top = s.flatten().argsort(descending=True)[:16]
        rows, cols = top // 32, top % 32
        inside = (rows >= 20) & (rows < 24) & (cols >= 8) & (cols < 12)
        assert inside[:8].all()
        assert inside.float().mean() >= 0.75


def test_rise_map_does_not_depend_on_batching():
    model = small_cnn()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([1, 2, 3])
    together = RISE(model, masks=300, grid=5, p=0.3, seed=1, batch_size=64).attribute(x, t)
    alone = torch.cat([RISE(model, masks=300, grid=5, p=0.3, seed=1, batch_size=100).attribute(x[i:i + 1], t[i:i + 1])
                       for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------------------------------------
# LIME


def block_image(size=32, blocks=4, seed=0):
    """An image of blocks x blocks flat squares of distinct colours; channel 0 is 1 everywhere."""
    rng = np.random.default_rng(seed)
    colours = rng.permutation(np.linspace(-2.0, 2.0, blocks * blocks * 2).reshape(-1, 2))[:blocks * blocks]
    img = np.ones((3, size, size), dtype=np.float32)
    side = size // blocks
    for k, (a, b) in enumerate(colours):
        r, c = divmod(k, blocks)
        img[1, r * side:(r + 1) * side, c * side:(c + 1) * side] = a
        img[2, r * side:(r + 1) * side, c * side:(c + 1) * side] = b
    return torch.from_numpy(img)


def superpixel_linear_model(seg, coefs, intercept):
    """q = intercept + sum_k coefs[k] * (fraction of superpixel k kept), read from channel 0 (= 1)."""
    onehot = torch.nn.functional.one_hot(torch.from_numpy(seg).flatten(), len(coefs)).double()
    onehot = onehot / onehot.sum(0)
    coefs = torch.as_tensor(coefs, dtype=torch.float64)
    return ProbModel(lambda z: intercept + z[:, 0].flatten(1).double() @ onehot @ coefs)


def test_lime_recovers_the_coefficients_of_a_model_linear_in_superpixels():
    x = block_image()[None]
    e = Lime(nn.Identity(), samples=1000, segments=16, compactness=10.0)
    seg = e.segment(x)[0]
    k = int(seg.max()) + 1
    assert 8 <= k <= 32
    rng = np.random.default_rng(3)
    coefs = rng.uniform(-1, 1, k) * 0.45 / k  # q stays in (0.05, 0.95)
    e.model = superpixel_linear_model(seg, coefs, 0.5)
    sal = e.attribute(x, torch.tensor([1]), index=torch.tensor([7]))[0].numpy()
    recovered = np.array([sal[seg == i].mean() for i in range(k)])
    assert all(np.ptp(sal[seg == i]) == 0 for i in range(k))  # one value per superpixel
    assert (np.argsort(recovered) == np.argsort(coefs)).all()
    # ridge (alpha 1) shrinks by about 1 / (sum of weighted feature variances), under 2% here
    np.testing.assert_allclose(recovered, coefs, rtol=0.03, atol=2e-4)


def test_lime_equals_sklearn_weighted_ridge_on_its_samples():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import Ridge
    from sklearn.metrics.pairwise import cosine_distances

    model = small_cnn()
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    t = torch.tensor([2, 4])
    e = Lime(model, samples=200, segments=10, compactness=5.0, seed=3, batch_size=64)
    maps = e.attribute(x, t, index=torch.tensor([11, 4]))
    for b, index in enumerate([11, 4]):
        seg = e.segment(x[b:b + 1])[0]
        z = e.samples(index, int(seg.max()) + 1).numpy()
        assert (z[0] == 1).all() and set(np.unique(z[1:])) == {0, 1}
        keep = torch.from_numpy(z[:, seg].astype(np.float32))[:, None]
        with torch.no_grad():
            y = model(x[b] * keep).softmax(1)[:, t[b]].double().numpy()
        d = cosine_distances(z, np.ones((1, z.shape[1])))[:, 0]
        w = np.sqrt(np.exp(-d ** 2 / 0.25 ** 2))  # lime_image's kernel, width 0.25
        np.testing.assert_allclose(lime_weights(torch.from_numpy(z)).numpy(), w, atol=1e-12)
        ridge = Ridge(alpha=1.0, fit_intercept=True).fit(z, y, sample_weight=w)
        scale = np.abs(ridge.coef_).max()
        np.testing.assert_allclose(maps[b].numpy(), ridge.coef_[seg], atol=1e-4 * scale, rtol=1e-4)


def test_lime_map_of_an_image_depends_only_on_its_index():
    model = small_cnn()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(6))
    t = torch.tensor([0, 1, 2])
    idx = torch.tensor([7, 3, 11])
    params = dict(samples=150, segments=12, compactness=10.0, seed=2)
    together = Lime(model, batch_size=100, **params).attribute(x, t, index=idx)
    alone = torch.cat([Lime(model, batch_size=256, **params).attribute(x[i:i + 1], t[i:i + 1], index=idx[i:i + 1])
                       for i in range(3)])
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=1e-5)
    other = Lime(model, batch_size=100, **params).attribute(x[:1], t[:1], index=torch.tensor([8]))
    assert not torch.allclose(other, together[:1])


# ------------------------------------------------------------------------------------------
# all three


@pytest.mark.parametrize("name,params", [("occlusion", {"window": None, "stride": None}),
                                         ("rise", {"masks": 200, "grid": 7, "p": 0.1}),
                                         ("lime", {"samples": 100, "segments": 50, "compactness": 10.0})])
def test_registered_and_explains_a_lenet_batch(name, params):
    from heatcheck.models.cifar import LeNet

    torch.manual_seed(0)
    model = LeNet(10, 32).eval()
    e = EXPLAINERS.get(name)(model, batch_size=64, seed=0, **params)
    x = torch.randn(3, 3, 32, 32)
    maps = e.attribute(x, torch.tensor([1, 5, 9]), index=torch.tensor([0, 1, 2]))
    assert maps.shape == (3, 32, 32) and maps.dtype == torch.float32
    assert torch.isfinite(maps).all() and maps.abs().sum() > 0
    assert e.passes_per_image(32) > 0


def test_lime_segments_single_channel_images():
    seg = Lime(nn.Identity(), segments=8).segment(torch.randn(1, 1, 16, 16))[0]
    assert seg.shape == (16, 16) and seg.min() == 0
    assert sorted(np.unique(seg)) == list(range(seg.max() + 1))
