"""LRP (zennit) and DeepSHAP (shap): conservation, exact small cases, architectures, refusals."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from heatcheck import HeatcheckError
from heatcheck.explainers import EXPLAINERS
from heatcheck.models import build_model


def _lrp(model, **params):
    return EXPLAINERS.get("lrp")(model.eval(), batch_size=4, seed=0, **params)


def _logit(model, x, t):
    with torch.no_grad():
        return model(x).gather(1, t.view(-1, 1)).squeeze(1)


def _bias_free_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, bias=False), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(32, 16, bias=False), nn.ReLU(), nn.Linear(16, 5, bias=False)).eval()


class VGGLike(nn.Module):
    """VGG layout in miniature: conv-BN-ReLU blocks with max pooling, adaptive pooling, an MLP head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(),
                                        nn.Linear(32, 10))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


def _randomize_bn(model, zero_shift=False):
    """Non-trivial batch-norm statistics so that merging them matters (optionally shift-free)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if zero_shift:
                m.running_mean.zero_()
                m.bias.data.zero_()
            else:
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()


# --- LRP ------------------------------------------------------------------------------------


def test_lrp_epsilon_conserves_relevance_on_bias_free_net():
    model = _bias_free_cnn()
    torch.manual_seed(1)
    x, t = torch.randn(4, 3, 16, 16), torch.tensor([0, 1, 2, 4])
    rel = _lrp(model, rule="epsilon", epsilon=1e-9).attribute(x, t)
    assert rel.shape == (4, 16, 16) and rel.dtype == torch.float32
    torch.testing.assert_close(rel.sum((1, 2)), _logit(model, x, t), rtol=1e-4, atol=1e-5)
    # a large epsilon only absorbs relevance, it never creates any
    big = _lrp(model, rule="epsilon", epsilon=1.0).attribute(x, t)
    assert (big.sum((1, 2)).abs() <= _logit(model, x, t).abs() + 1e-5).all()


def test_lrp_on_linear_model_is_weight_times_input():
    torch.manual_seed(2)
    lin = nn.Linear(3 * 8 * 8, 4)  # the bias does not matter: output relevance = logit
    model = nn.Sequential(nn.Flatten(), lin).eval()
    x, t = torch.randn(3, 3, 8, 8), torch.tensor([3, 0, 1])
    rel = _lrp(model, epsilon=1e-9).attribute(x, t)
    expected = (lin.weight.detach()[t].view(3, 3, 8, 8) * x).sum(1)
    torch.testing.assert_close(rel, expected, rtol=1e-4, atol=1e-6)


def test_lrp_conserves_through_cifar_resnet_blocks():
    # bias-free after batch-norm merging (no shifts), so conservation tests the canonizer: the
    # skip additions must go through zennit's Sum and every batch norm must be merged
    model = _randomize_bn(build_model("resnet8", 10, 16), zero_shift=True)
    nn.init.zeros_(model.fc.bias)
    torch.manual_seed(3)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([1, 7])
    rel = _lrp(model, epsilon=1e-9).attribute(x, t)
    torch.testing.assert_close(rel.sum((1, 2)), _logit(model, x, t), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("rule", ["epsilon", "alpha_beta"])
@pytest.mark.parametrize("arch", ["cifar_resnet8", "tv_resnet18", "vgg_like"])
def test_lrp_runs_on_architectures(arch, rule):
    torch.manual_seed(4)
    if arch == "cifar_resnet8":
        model, size = build_model("resnet8", 10, 32), 32
    elif arch == "tv_resnet18":
        model, size = torchvision.models.resnet18(num_classes=10), 32
    else:
        model, size = VGGLike(), 32
    model = _randomize_bn(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, t = torch.randn(3, 3, size, size), torch.tensor([0, 5, 9])
    out_before = model(x)
    rel = _lrp(model, rule=rule, mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25]).attribute(x, t)
    assert rel.shape == (3, size, size) and rel.dtype == torch.float32
    assert torch.isfinite(rel).all() and rel.abs().sum() > 0
    # canonizers and hooks are removed again: same parameters, same function
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    torch.testing.assert_close(model(x), out_before)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_lrp_batched_equals_single_and_selects_target():
    model = _bias_free_cnn()
    torch.manual_seed(5)
    x, t = torch.randn(5, 3, 16, 16), torch.tensor([4, 0, 2, 2, 1])
    for rule in ("epsilon", "alpha_beta"):
        explainer = EXPLAINERS.get("lrp")(model, batch_size=2, rule=rule, mean=[0.0] * 3, std=[0.3] * 3)
        batch = explainer.attribute(x, t)
        for i in range(5):
            torch.testing.assert_close(batch[i], explainer.attribute(x[i:i + 1], t[i:i + 1])[0],
                                       rtol=1e-5, atol=1e-6)
        other = explainer.attribute(x[:1], torch.tensor([3]))
        assert not torch.allclose(other[0], batch[0])


def test_lrp_alpha_beta_tiny_case():
    # first layer = identity (z^B passes relevance unchanged), second = one output unit, alpha-beta
    first = nn.Linear(4, 4, bias=False)
    first.weight.data = torch.eye(4)
    head = nn.Linear(4, 1, bias=False)
    head.weight.data = torch.tensor([[1.0, -2.0, 0.5, -1.0]])
    model = nn.Sequential(nn.Flatten(), first, nn.ReLU(), head).eval()
    x = torch.tensor([1.0, 0.5, 2.0, 0.5]).view(1, 1, 2, 2)  # contributions 1, -1, 1, -0.5
    f = 0.5
    rel = _lrp(model, rule="alpha_beta", mean=[0.0], std=[1.0]).attribute(x, torch.tensor([0])).flatten()
    # positive contributions share alpha * f = 1.0, negative ones -beta * f = -0.5
    expected = torch.tensor([0.5, -1 / 3, 0.5, -1 / 6])
    torch.testing.assert_close(rel, expected, rtol=1e-4, atol=1e-6)
    assert rel[rel > 0].sum().item() == pytest.approx(2 * f, rel=1e-4)
    assert rel[rel < 0].sum().item() == pytest.approx(-1 * f, rel=1e-4)
    assert rel.sum().item() == pytest.approx(f, rel=1e-4)


def test_lrp_zbox_first_layer():
    lin = nn.Linear(4, 1, bias=False)
    lin.weight.data = torch.tensor([[1.0, -2.0, 0.5, -1.0]])
    model = nn.Sequential(nn.Flatten(), lin).eval()
    x = torch.tensor([0.3, -0.2, 0.1, 0.4]).view(1, 1, 2, 2)
    mean, std = 0.25, 0.5
    low, high = (0 - mean) / std, (1 - mean) / std
    rel = _lrp(model, rule="alpha_beta", mean=[mean], std=[std]).attribute(x, torch.tensor([0])).flatten()
    w, xv = lin.weight.data[0], x.flatten()
    z = xv * w - low * w.clamp(min=0) - high * w.clamp(max=0)
    expected = z / z.sum() * (xv * w).sum()
    torch.testing.assert_close(rel, expected, rtol=1e-4, atol=1e-6)


class _FunctionalResidual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        y = self.relu(self.conv(x)) + x  # a skip connection no canonizer knows
        return self.fc(y.mean((2, 3)))


def test_lrp_refuses_uncanonizable_model():
    with pytest.raises(HeatcheckError, match=r"'lrp'.*_FunctionalResidual"):
        _lrp(_FunctionalResidual()).attribute(torch.randn(1, 3, 8, 8), torch.tensor([0]))


def test_lrp_refuses_unmergeable_batch_norm():
    model = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with pytest.raises(HeatcheckError, match=r"'lrp'.*batch norm"):
        _lrp(model).attribute(torch.randn(1, 3, 8, 8), torch.tensor([0]))


# --- DeepSHAP -------------------------------------------------------------------------------


def _small_cnn():
    torch.manual_seed(6)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, 1),  # overlapping windows
        nn.Conv2d(6, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()


def _shap(model, background, n, batch_size=16):
    return EXPLAINERS.get("deepshap")(model.eval(), batch_size=batch_size, seed=0, background=background,
                                      background_size=n)


def _assert_additive(model, explainer, x, t, background):
    phi = explainer.attribute(x, t)
    with torch.no_grad():
        delta = _logit(model, x, t) - model(background).mean(0)[t]
    err = (phi.sum((1, 2)) - delta).abs()
    assert (err <= 1e-3 * delta.abs().clamp(min=1e-2)).all(), (phi.sum((1, 2)), delta)
    return phi


def test_deepshap_additivity_small_cnn():
    model = _small_cnn()
    torch.manual_seed(7)
    bg, x, t = torch.randn(12, 3, 16, 16), torch.randn(3, 3, 16, 16), torch.tensor([0, 3, 1])
    # batch_size 8 -> background in chunks of 4: averaging over chunks stays exact
    phi = _assert_additive(model, _shap(model, bg, 10, batch_size=8), x, t, bg[:10])
    assert phi.shape == (3, 16, 16) and phi.dtype == torch.float32 and torch.isfinite(phi).all()


def test_deepshap_additivity_residual_nets():
    # shared ReLU modules inside residual blocks and in-place skip additions are rewritten
    torch.manual_seed(8)
    for model in (_randomize_bn(build_model("resnet8", 10, 16)),
                  _randomize_bn(torchvision.models.resnet18(num_classes=10))):
        bg, x, t = torch.randn(4, 3, 16, 16), torch.randn(2, 3, 16, 16), torch.tensor([2, 9])
        _assert_additive(model, _shap(model, bg, 4), x, t, bg)


def test_deepshap_target_selection_and_batching():
    model = _small_cnn()
    torch.manual_seed(9)
    bg, x, t = torch.randn(6, 3, 16, 16), torch.randn(4, 3, 16, 16), torch.tensor([2, 0, 2, 3])
    explainer = _shap(model, bg, 6)
    batch = explainer.attribute(x, t)
    for i in range(4):
        torch.testing.assert_close(batch[i], explainer.attribute(x[i:i + 1], t[i:i + 1])[0], rtol=1e-4, atol=1e-6)
    assert not torch.allclose(explainer.attribute(x[:1], torch.tensor([1]))[0], batch[0])
    assert explainer.passes_per_image(32) == 4 * 6
    # shap's per-module activations are not left behind, the original model is untouched
    assert not any("x" in m._parameters or "y" in m._parameters for m in explainer._wrapper.modules())
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())


class _Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(torch.sigmoid(self.conv(x)).mean((2, 3)))


def test_deepshap_refuses_unsupported_model():
    bg = torch.randn(2, 3, 8, 8)
    with pytest.raises(HeatcheckError, match=r"'deepshap'.*_Gated.*sigmoid"):
        _shap(_Gated(), bg, 2).attribute(torch.randn(1, 3, 8, 8), torch.tensor([0]))


def test_deepshap_needs_background():
    with pytest.raises(HeatcheckError, match="background"):
        _shap(_small_cnn(), None, 4).attribute(torch.randn(1, 3, 16, 16), torch.tensor([0]))
