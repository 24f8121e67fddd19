"""Gradient and CAM explainers and the controls, each against its definition."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from heatcheck.explainers import EXPLAINERS, make_explainer
from heatcheck.models import build_model, last_conv


def linear_model(c=3, h=4, w=4, k=3, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, k)).eval()


def test_all_explainers_registered():
    for name in ["grad", "gradient_x_input", "guided_backprop", "integrated_gradients", "smoothgrad",
                 "gradcam", "cam", "random", "edge"]:
        assert name in EXPLAINERS


def test_grad_is_max_abs_weight_over_channels():
    m = linear_model()
    x = torch.randn(2, 3, 4, 4)
    t = torch.tensor([0, 2])
    out = make_explainer("grad", m, {}).attribute(x, t)
    w = m[1].weight.view(3, 3, 4, 4)
    assert torch.allclose(out, w[t].abs().amax(1), atol=1e-6)


def test_gradient_x_input_on_linear_model():
    m = linear_model()
    x = torch.randn(5, 3, 4, 4)
    t = torch.tensor([0, 1, 2, 1, 0])
    out = make_explainer("gradient_x_input", m, {}).attribute(x, t)
    w = m[1].weight.view(3, 3, 4, 4)
    assert torch.allclose(out, (w[t] * x).sum(1), atol=1e-5)
    # completeness of a linear model without bias
    assert torch.allclose(out.sum((1, 2)) + m[1].bias[t], m(x)[torch.arange(5), t], atol=1e-4)


def test_guided_backprop_matches_the_rule_by_hand():
    torch.manual_seed(1)
    lin1, lin2 = nn.Linear(12, 6), nn.Linear(6, 2)
    m = nn.Sequential(nn.Flatten(), lin1, nn.ReLU(), lin2).eval()
    x = torch.randn(3, 3, 2, 2)
    t = torch.tensor([1, 0, 1])
    out = make_explainer("guided_backprop", m, {}).attribute(x, t)
    pre = lin1(x.flatten(1))
    v = lin2.weight[t]  # gradient arriving at the ReLU output
    g = (v.clamp(min=0) * (pre > 0)) @ lin1.weight  # only positive gradients through active units
    assert torch.allclose(out, g.view(3, 3, 2, 2).sum(1), atol=1e-5)


@pytest.mark.parametrize("arch", ["lenet", "resnet8"])
def test_integrated_gradients_completeness(arch):
    torch.manual_seed(0)
    m = build_model(arch, 4, 32).eval()
    x = torch.randn(3, 3, 32, 32)
    t = torch.tensor([0, 3, 1])
    out = make_explainer("integrated_gradients", m, {"steps": 64, "baseline": "zero"}, batch_size=64).attribute(x, t)
    with torch.no_grad():
        delta = m(x)[torch.arange(3), t] - m(torch.zeros_like(x))[torch.arange(3), t]
    err = (out.sum((1, 2)) - delta).abs()
    assert (err <= 0.01 * delta.abs() + 1e-3).all(), (err, delta)


def test_smoothgrad_zero_noise_is_the_gradient_and_draws_are_per_image():
    torch.manual_seed(0)
    m = build_model("lenet", 3, 32).eval()
    x = torch.randn(4, 3, 32, 32)
    t = torch.tensor([0, 1, 2, 0])
    sg0 = make_explainer("smoothgrad", m, {"samples": 3, "noise": 0.0}).attribute(x, t)
    xr = x.clone().requires_grad_(True)
    m(xr)[torch.arange(4), t].sum().backward()
    assert torch.allclose(sg0, xr.grad.sum(1), atol=1e-6)
    e = make_explainer("smoothgrad", m, {"samples": 5, "noise": 0.2}, seed=7)
    full = e.attribute(x, t, index=torch.arange(10, 14))
    one = e.attribute(x[2:3], t[2:3], index=torch.tensor([12]))
    assert torch.allclose(full[2], one[0], atol=1e-6)
    other = make_explainer("smoothgrad", m, {"samples": 5, "noise": 0.2}, seed=8).attribute(x[2:3], t[2:3], index=torch.tensor([12]))
    assert not torch.allclose(one, other)


def _hooked(model, x, t):
    acts = {}
    layer = last_conv(model)
    h = layer.register_forward_hook(lambda mod, i, o: acts.update(a=o))
    out = model(x)
    h.remove()
    (g,) = torch.autograd.grad(out[torch.arange(len(x)), t].sum(), acts["a"])
    return acts["a"].detach(), g, out.detach()


@pytest.mark.parametrize("arch", ["lenet", "resnet8"])
def test_gradcam_against_manual_hooks(arch):
    torch.manual_seed(0)
    m = build_model(arch, 5, 32).eval()
    x = torch.randn(2, 3, 32, 32)
    t = torch.tensor([4, 1])
    out = make_explainer("gradcam", m, {"layer": None}).attribute(x, t)
    a, g, _ = _hooked(m, x, t)
    cam = (g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True)
    ref = F.interpolate(cam, size=(32, 32), mode="bilinear", align_corners=False).squeeze(1)
    assert torch.allclose(out, ref, atol=1e-5)


def test_cam_is_the_class_weighted_feature_map():
    torch.manual_seed(0)
    m = build_model("resnet8", 5, 32).eval()
    x = torch.randn(3, 3, 32, 32)
    t = torch.tensor([0, 4, 2])
    e = make_explainer("cam", m, {})
    out = e.attribute(x, t)
    a, _, logits = _hooked(m, x, t)
    raw = torch.einsum("bk,bkhw->bhw", m.fc.weight[t], a)
    # definition: the global average of the (pre-upsampling) CAM plus the bias is the logit
    assert torch.allclose(raw.mean((1, 2)) + m.fc.bias[t], logits[torch.arange(3), t], atol=1e-4)
    ref = F.interpolate(raw.unsqueeze(1), size=(32, 32), mode="bilinear", align_corners=False).squeeze(1)
    assert torch.allclose(out, ref, atol=1e-5)
    with pytest.raises(Exception, match="not applicable"):
        make_explainer("cam", build_model("lenet", 5, 32).eval(), {}).attribute(x, t)


def test_random_control_is_seeded_per_image():
    m = linear_model()
    x = torch.randn(3, 3, 4, 4)
    t = torch.zeros(3, dtype=torch.long)
    e = make_explainer("random", m, {}, seed=3)
    a = e.attribute(x, t, index=torch.tensor([5, 6, 7]))
    b = e.attribute(x[1:2], t[1:2], index=torch.tensor([6]))
    assert a.shape == (3, 4, 4) and torch.equal(a[1], b[0]) and not torch.equal(a[0], a[1])


def test_edge_control_finds_a_step_edge():
    x = torch.zeros(1, 3, 8, 8)
    x[..., 4:] = 1.0
    out = make_explainer("edge", linear_model(h=8, w=8), {}).attribute(x, torch.zeros(1, dtype=torch.long))[0]
    assert torch.allclose(out[:, :3], torch.zeros(8, 3)) and torch.allclose(out[:, 5:], torch.zeros(8, 3))
    assert (out[:, 3] > 0).all() and (out[:, 4] > 0).all()
    assert np.isclose(float(out[4, 3]), 4.0)  # Sobel response to a unit step: 1 + 2 + 1
