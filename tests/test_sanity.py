"""Cascading model-parameter randomization (Adebayo et al. 2018) and minor input noise, on the
package's real networks."""

import numpy as np
import pytest
import torch
from torch import nn

from heatcheck import HeatcheckError
from heatcheck.models import build_model
from heatcheck.sanity import (cascading_randomization, minor_input_noise, parametrized_layers, randomization_steps,
                              randomized_model)


@pytest.fixture
def lenet():
    torch.manual_seed(0)
    return build_model("lenet", 6, 32).eval()


def _layer_params(model, name):
    return [p.detach().clone() for p in model.get_submodule(name).parameters(recurse=False)]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def _all_differ(a, b):
    return all(not torch.equal(x, y) for x, y in zip(a, b))


def test_layers_top_first_and_count(lenet):
    assert parametrized_layers(lenet) == ["features.0", "features.3", "classifier.1", "classifier.3", "classifier.5"]
    assert randomization_steps(lenet) == ["classifier.5", "classifier.3", "classifier.1", "features.3", "features.0"]
    assert randomization_steps(lenet, 2) == ["classifier.5", "classifier.3"]
    for bad in (0, 6):
        with pytest.raises(HeatcheckError, match="between 1 and 5"):
            randomization_steps(lenet, bad)


def test_cascade_changes_the_top_k_layers_and_nothing_else(lenet):
    trained = {k: v.clone() for k, v in lenet.state_dict().items()}
    names = randomization_steps(lenet)
    steps = list(cascading_randomization(lenet, seed=3))
    assert [s.step for s in steps] == [1, 2, 3, 4, 5] and [s.layer for s in steps] == names
    assert steps[0].layers == ["classifier.5"] and steps[-1].layers == names
    for s in steps:
        for k, name in enumerate(names):
            before, after = _layer_params(lenet, name), _layer_params(s.model, name)
            if k < s.step:
                assert _all_differ(before, after), (s.step, name)
            else:  # earlier layers bit-identical to the trained ones until their step
                assert _same(before, after), (s.step, name)
        assert not s.model.training
    # the trained model is untouched
    assert all(torch.equal(v, lenet.state_dict()[k]) for k, v in trained.items())
    # cumulative: the top layer keeps the random weights it got at step 1
    assert _same(_layer_params(steps[0].model, "classifier.5"), _layer_params(steps[-1].model, "classifier.5"))
    x = torch.randn(4, 3, 32, 32)
    assert not torch.allclose(lenet(x), steps[0].model(x))


def test_deterministic_from_the_seed_and_independent_mode(lenet):
    a = [s.model.state_dict() for s in cascading_randomization(lenet, seed=1, layers=2)]
    b = [s.model.state_dict() for s in cascading_randomization(lenet, seed=1, layers=2)]
    c = [s.model.state_dict() for s in cascading_randomization(lenet, seed=2, layers=2)]
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in x)
    assert not torch.equal(a[0]["classifier.5.weight"], c[0]["classifier.5.weight"])
    state = torch.random.get_rng_state()
    list(cascading_randomization(lenet, seed=1, layers=1))
    assert torch.equal(state, torch.random.get_rng_state())  # global random state left alone
    names = randomization_steps(lenet)
    for s in cascading_randomization(lenet, seed=1, cascading=False):
        assert s.layers == [s.layer]
        for name in names:
            changed = not _same(_layer_params(lenet, name), _layer_params(s.model, name))
            assert changed == (name == s.layer)
    # the same layer gets the same random weights in both modes
    ind = next(cascading_randomization(lenet, seed=1, cascading=False))
    assert torch.equal(ind.model.state_dict()["classifier.5.weight"], a[0]["classifier.5.weight"])


def test_one_step_alone_equals_that_step_of_the_cascade(lenet):
    for cascading in (True, False):
        third = list(cascading_randomization(lenet, seed=5, layers=3, cascading=cascading))[-1]
        alone = randomized_model(lenet, 3, seed=5, cascading=cascading)
        assert alone.layers == third.layers and alone.layer == third.layer == "classifier.1"
        a, b = alone.model.state_dict(), third.model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_batchnorm_layers_are_reset_with_their_running_statistics():
    torch.manual_seed(0)
    model = build_model("resnet8", 6, 32)
    model.train()
    model(torch.randn(8, 3, 32, 32))  # move the running statistics away from 0 / 1
    model.eval()
    names = randomization_steps(model)
    assert names[0] == "fc" and names[-1] == "conv1" and len(names) == len(parametrized_layers(model))
    k = names.index("bn1") + 1
    last = list(cascading_randomization(model, layers=k))[-1].model
    assert torch.equal(last.bn1.running_mean, torch.zeros(16)) and torch.equal(last.bn1.running_var, torch.ones(16))
    assert not torch.equal(model.bn1.running_mean, torch.zeros(16))
    assert torch.equal(last.conv1.weight, model.conv1.weight)  # below bn1 in the cascade: untouched


def test_a_layer_without_reset_parameters_is_named():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x * self.w

    model = nn.Sequential(nn.Linear(2, 2), Scale())
    with pytest.raises(HeatcheckError, match="'1'.*reset_parameters"):
        list(cascading_randomization(model))


class MeanSign(nn.Module):
    """Class 0 iff the image mean is positive."""

    def forward(self, x):
        m = x.mean((1, 2, 3))
        return torch.stack([m, torch.zeros_like(m)], 1)


def test_noise_keeps_every_prediction_and_is_drawn_per_image():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 8, 8)
    x[:3] += 1.0   # far from the decision boundary
    x[3:] -= x[3:].mean((1, 2, 3), keepdim=True) - 1e-3  # mean +0.001: most draws would flip it
    model = MeanSign()
    out = minor_input_noise(model, x, std=0.5, seed=4, index=torch.arange(10, 16))
    assert torch.equal(model(out.x).argmax(1), model(x).argmax(1))
    assert np.all(out.scale[:3] == 0.5) and np.all(out.draws[:3] == 1)  # first draw kept
    assert out.draws[3:].max() > 1 and np.all(out.scale == 0.5)  # a flipped draw was redrawn
    # with one draw allowed, the flipping noise is halved until the prediction holds
    once = minor_input_noise(model, x, std=0.5, seed=4, index=torch.arange(10, 16), tries=1)
    assert torch.equal(model(once.x).argmax(1), model(x).argmax(1))
    shrunk = once.scale < 0.5
    assert shrunk.any() and not shrunk[:3].any()
    assert np.allclose(np.log2(0.5 / once.scale[shrunk]) % 1, 0)  # halvings
    noise = (out.x - x)[:3]
    assert abs(noise.std().item() / 0.5 - 1) < 0.1
    # the draw depends on the image index, not on the batch it is in
    alone = minor_input_noise(model, x[4:5], std=0.5, seed=4, index=torch.tensor([14]))
    assert torch.equal(alone.x[0], out.x[4]) and alone.scale[0] == out.scale[4]
    other = minor_input_noise(model, x, std=0.5, seed=4, copy_index=1, index=torch.arange(10, 16))
    assert not torch.equal(other.x[:3], out.x[:3])


def test_noise_on_an_untrained_network_keeps_predictions():
    torch.manual_seed(1)
    model = build_model("resnet8", 6, 32).eval()
    x = torch.randn(8, 3, 32, 32)
    out = minor_input_noise(model, x, std=0.1, seed=0)
    with torch.no_grad():
        assert torch.equal(model(out.x).argmax(1), model(x).argmax(1))
    assert (out.scale > 0).any()
