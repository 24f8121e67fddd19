"""Pass settings (precision, channels_last, compile) applied to a model, and bf16 agreement."""

import copy

import numpy as np
import pytest
import torch

from heatcheck import HeatcheckError
from heatcheck.explainers import make_explainer
from heatcheck.models import build_model
from heatcheck.precision import prepare_model


def _model(arch="resnet8"):
    torch.manual_seed(0)
    return build_model(arch, 6, 32).eval()


def test_fp32_defaults_leave_the_model_untouched():
    m = _model()
    cls = type(m)
    x = torch.randn(4, 3, 32, 32)
    before = m(x)
    assert prepare_model(m) is m and type(m) is cls
    assert torch.equal(m(x), before)


def test_bf16_runs_under_autocast_and_returns_fp32_logits_close_to_fp32():
    x = torch.randn(8, 3, 32, 32)
    ref = _model()(x)
    m = prepare_model(_model(), precision="bf16")
    out = m(x)
    assert out.dtype == torch.float32
    assert not torch.equal(out, ref)  # autocast really changed the arithmetic
    # bf16 keeps 8 bits of mantissa: logits agree to ~1e-2 relative
    assert torch.allclose(out, ref, atol=0.05 * ref.abs().max().item())
    assert (out.argmax(1) == ref.argmax(1)).float().mean() >= 0.75


def test_prepared_model_keeps_hooks_layers_and_gradients():
    m = prepare_model(_model(), precision="bf16", channels_last=True)
    assert hasattr(m, "layer3") and isinstance(m, torch.nn.Module)
    seen = []
    m.layer3.register_forward_hook(lambda mod, i, o: seen.append(o.shape))
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    m(x)[:, 0].sum().backward()
    assert seen and x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_deep_copy_of_a_prepared_model_calls_its_own_weights():
    m = prepare_model(_model(), precision="bf16")
    c = copy.deepcopy(m)
    for p in c.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 3, 32, 32)
    assert not torch.equal(m(x), c(x))
    assert torch.allclose(c(x), torch.zeros(2, 6), atol=1e-6)


def test_channels_last_in_fp32_agrees_with_contiguous():
    x = torch.randn(4, 3, 32, 32)
    ref = _model()(x)
    out = prepare_model(_model(), channels_last=True)(x)
    assert torch.allclose(out, ref, atol=1e-4)


def test_unknown_precision_is_refused():
    with pytest.raises(HeatcheckError, match="precision 'fp8'"):
        prepare_model(_model(), precision="fp8")


@pytest.mark.parametrize("name,params", [("integrated_gradients", {"steps": 8}), ("gradcam", {}),
                                         ("occlusion", {"window": 8, "stride": 8})])
def test_bf16_maps_agree_with_fp32(name, params):
    """bf16 maps of gradient, CAM and perturbation methods: Pearson r >= 0.95 per image with the
    fp32 maps (the tolerance the README states for bf16)."""
    x = torch.randn(4, 3, 32, 32)
    targets = torch.tensor([0, 1, 2, 3])
    maps = {}
    for prec in ("fp32", "bf16"):
        m = prepare_model(_model(), precision=prec)
        for p in m.parameters():
            p.requires_grad_(False)
        maps[prec] = make_explainer(name, m, params, batch_size=64).attribute(x, targets).detach().numpy()
    for a, b in zip(maps["fp32"], maps["bf16"]):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] >= 0.95
