"""Your own model: factories, torchvision / timm architectures by name, TorchScript, their facts."""

import importlib.util
import json
import textwrap

import pytest
import torch
from torch import nn

from heatcheck import HeatcheckError
from heatcheck.data import load_dataset
from heatcheck.models import input_normalization, load_checkpoint, model_input, normalize
from heatcheck.models.facts import model_facts
from heatcheck.models.train import import_pretrained
from heatcheck.shards import check_applicable
from heatcheck.store import DatasetStore, write_dataset
from test_data import shapes_spec

FACTORY = textwrap.dedent('''
    import torch
    from torch import nn

    class Net(nn.Module):
        """conv -> relu -> GAP -> linear: CAM applies."""
        def __init__(self, classes=6, width=8):
            super().__init__()
            self.conv = nn.Conv2d(3, width, 3, padding=1)
            self.act = nn.ReLU()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear(width, classes)
        def forward(self, x):
            return self.head(self.pool(self.act(self.conv(x))).flatten(1))

    class Dense(nn.Module):
        """No convolution at all, and a fixed input side of 64."""
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3 * 64 * 64, 6)
        def forward(self, x):
            return self.fc(x.flatten(1))

    def build(classes=6, width=8):
        torch.manual_seed(1)
        return Net(classes, width)

    def dense():
        return Dense()

    def not_a_module():
        return "resnet"

    def broken():
        raise ValueError("no such layer")
''')


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("store")
    write_dataset(d / "images.zarr", load_dataset(shapes_spec(n_train=12, n_eval=6)), "shapes")
    return d / "images.zarr"


@pytest.fixture(scope="module")
def store64(tmp_path_factory):
    # 64 px: a torchvision ResNet's last stage is 2x2 (at 32 px it is 1x1, no spatial map)
    d = tmp_path_factory.mktemp("store64")
    write_dataset(d / "images.zarr", load_dataset(shapes_spec(n_train=12, n_eval=6, size=64)), "shapes")
    return d / "images.zarr"


@pytest.fixture
def factory_file(tmp_path):
    f = tmp_path / "mynet.py"
    f.write_text(FACTORY)
    return f


def spec(**kw):
    out = {"source": "pretrained", "weights": None, "min_gain": 0.0, "factory_args": {}}
    out.update(kw)
    return out


def load(store, s, tmp_path, name="mine"):
    return import_pretrained(store, s, tmp_path / f"{name}.pt", tmp_path / f"{name}.json",
                             torch.device("cpu"), name)


def test_factory_file_with_weights_and_its_own_normalization(store, factory_file, tmp_path):
    import importlib.util as u

    mod_spec = u.spec_from_file_location("mynet_ref", factory_file)
    mod = u.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    trained = mod.Net(6, 8)
    torch.nn.init.normal_(trained.head.weight)
    torch.save(trained.state_dict(), tmp_path / "w.pth")
    s = spec(factory=f"{factory_file}:build", weights=str(tmp_path / "w.pth"), mean=[0.5, 0.5, 0.5], std=[0.2, 0.3, 0.4])
    report = load(store, s, tmp_path)
    model, meta = load_checkpoint(tmp_path / "mine.pt", num_classes=6)
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():  # the checkpoint holds the weights file's values, not the factory's seed
        assert torch.allclose(model(x), trained.eval()(x))
    # the model's own constants are the ones every stage applies
    assert input_normalization(meta) == ([0.5] * 3, [0.2, 0.3, 0.4])
    assert torch.allclose(model_input(x, meta), normalize(x, (0.5,) * 3, (0.2, 0.3, 0.4)))
    assert report["facts"]["layer"] == "act" and report["facts"]["gap_fc"] == "head"
    assert "cam" not in report["facts"]["refused"] and report["arch"] == f"factory:{factory_file}:build"
    assert json.loads((tmp_path / "mine.json").read_text())["facts"] == report["facts"]
    # without mean / std: the dataset's
    load(store, spec(factory=f"{factory_file}:build"), tmp_path, "plain")
    _, meta = load_checkpoint(tmp_path / "plain.pt")
    assert meta["mean"] == pytest.approx(DatasetStore(store).mean.tolist())


def test_factory_errors_name_the_entry(store, factory_file, tmp_path):
    with pytest.raises(HeatcheckError, match=r"model 'mine' \(models.mine: .*not_a_module\).*returned a str, not a torch.nn.Module"):
        load(store, spec(factory=f"{factory_file}:not_a_module"), tmp_path)
    with pytest.raises(HeatcheckError, match=r"model 'mine'.*raised ValueError: no such layer"):
        load(store, spec(factory=f"{factory_file}:broken"), tmp_path)
    with pytest.raises(HeatcheckError, match=r"model 'mine'.*has no function 'nope'"):
        load(store, spec(factory=f"{factory_file}:nope"), tmp_path)
    with pytest.raises(HeatcheckError, match=r"model 'mine'.*factory module no_such_package.mod does not import"):
        load(store, spec(factory="no_such_package.mod:build"), tmp_path)
    with pytest.raises(HeatcheckError, match=r"model 'mine'.*output for 2 images is \(2, 10\); it must be .*\(2, 6\)"):
        load(store, spec(factory=f"{factory_file}:build", factory_args={"classes": 10}), tmp_path)
    torch.save({"conv.weight": torch.zeros(2, 2)}, tmp_path / "bad.pth")
    with pytest.raises(HeatcheckError, match=r"model 'mine'.*bad\.pth do not load into the declared architecture"):
        load(store, spec(factory=f"{factory_file}:build", weights=str(tmp_path / "bad.pth")), tmp_path)


def test_no_conv_model_refuses_gradcam_cam_and_takes_its_own_size(store, factory_file, tmp_path):
    report = load(store, spec(factory=f"{factory_file}:dense", size=64), tmp_path)
    refused = report["facts"]["refused"]
    assert "no convolutional feature map" in refused["gradcam"] and "cam" in refused
    assert "grad" not in refused and "rise" not in refused
    model, _ = load_checkpoint(tmp_path / "mine.pt")
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 6)  # resized to 64 in front of the model
    with pytest.raises(HeatcheckError, match=r"explainers.gradcam is not applicable to model 'mine'.*no convolutional"):
        check_applicable(tmp_path / "mine.json", "gradcam")
    check_applicable(tmp_path / "mine.json", "grad")
    check_applicable(tmp_path / "mine.json", "grad+halfmasked")


def test_torchvision_by_name_with_local_weights(store64, tmp_path):
    store = store64
    import torchvision

    ref = torchvision.models.resnet18(weights=None, num_classes=6)
    torch.save(ref.state_dict(), tmp_path / "r18.pth")
    report = load(store, spec(torchvision="resnet18", weights=str(tmp_path / "r18.pth")), tmp_path)
    assert report["facts"]["layer"] == "layer4" and report["facts"]["gap_fc"] == "fc"
    assert report["facts"]["refused"] == {}  # torchvision ResNets: every explainer applies
    model, _ = load_checkpoint(tmp_path / "mine.pt")
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), ref.eval()(x), atol=1e-6)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "imagenet.pth")
    with pytest.raises(HeatcheckError, match=r"models.mine: torchvision:resnet18.*imagenet\.pth do not load.*fc"):
        load(store, spec(torchvision="resnet18", weights=str(tmp_path / "imagenet.pth")), tmp_path)
    with pytest.raises(HeatcheckError, match=r"'resnet19' is not a torchvision classification architecture"):
        load(store, spec(torchvision="resnet19", weights=str(tmp_path / "r18.pth")), tmp_path)


def test_torchscript_file_refuses_the_hook_explainers(store, factory_file, tmp_path):
    import importlib.util as u

    mod_spec = u.spec_from_file_location("mynet_ts", factory_file)
    mod = u.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    net = mod.Net().eval()
    torch.jit.script(net).save(str(tmp_path / "net.ts"))
    report = load(store, spec(torchscript=str(tmp_path / "net.ts")), tmp_path)
    refused = report["facts"]["refused"]
    assert report["facts"]["torchscript"] is True
    assert {"gradcam", "cam", "guided_backprop", "lrp", "deepshap"} <= set(refused)
    assert "TorchScript" in refused["gradcam"] and "grad" not in refused
    model, _ = load_checkpoint(tmp_path / "mine.pt")
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), net(x), atol=1e-6)
    (tmp_path / "junk.ts").write_bytes(b"junk")
    with pytest.raises(HeatcheckError, match=r"model 'mine'.*TorchScript file .*junk\.ts does not load"):
        load(store, spec(torchscript=str(tmp_path / "junk.ts")), tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("timm") is None,
                    reason="timm is an optional extra (pip install 'heatcheck[timm]') and is not installed")
def test_timm_by_name_with_local_weights(store, tmp_path):
    import timm

    ref = timm.create_model("resnet18", pretrained=False, num_classes=6)
    torch.save(ref.state_dict(), tmp_path / "t.pth")
    report = load(store, spec(timm="resnet18", weights=str(tmp_path / "t.pth")), tmp_path)
    assert report["facts"]["layer"] == "layer4"
    model, _ = load_checkpoint(tmp_path / "mine.pt")
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), ref.eval()(x), atol=1e-6)


def test_named_layer_is_checked(store, factory_file, tmp_path):
    report = load(store, spec(factory=f"{factory_file}:build", layer="conv"), tmp_path)
    assert report["facts"]["layer"] == "conv" and report["facts"]["gap_fc"] is None  # GAP sees act, not conv
    with pytest.raises(HeatcheckError, match=r"layer 'body' \(key layer\) is not a module"):
        load(store, spec(factory=f"{factory_file}:build", layer="body"), tmp_path)


def test_efficientnet_lite0_example_facts():
    pytest.importorskip("efficientnet_lite_pytorch")
    from heatcheck.models.examples import efficientnet_lite0

    model = efficientnet_lite0().eval()
    facts = model_facts(model, 64, 1000, "model 'e'")
    assert facts["layer"] == "_bn1"  # the last map of a module run once (_swish runs in stem and head)
    assert "lrp" in facts["refused"] and "batch norm" in facts["refused"]["lrp"]
    assert "gradcam" not in facts["refused"] and "integrated_gradients" not in facts["refused"]


def test_model_facts_of_a_residual_and_a_plain_net():
    from heatcheck.models import build_model

    f = model_facts(build_model("resnet8", 6, 32).eval(), 32, 6, "x")
    assert f["layer"] == "layer3" and f["gap_fc"] == "fc" and f["refused"] == {}
    f = model_facts(build_model("lenet", 6, 32).eval(), 32, 6, "x")
    assert f["layer"] == "features.4" and f["gap_fc"] is None and set(f["refused"]) == {"cam"}
    with pytest.raises(HeatcheckError, match=r"x: the forward of a \(2, 3, 8, 8\) batch fails"):
        model_facts(build_model("lenet", 6, 32).eval(), 8, 6, "x")


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4, 6)

    def forward(self, x):
        return self.fc(self.act(self.act(self.conv(x))).mean((2, 3)))


def test_a_layer_run_twice_is_not_hooked():
    f = model_facts(_Shared().eval(), 16, 6, "m")
    assert f["layer"] == "conv"
    with pytest.raises(HeatcheckError, match="'act' \\(key layer\\) runs 2 times per forward"):
        model_facts(_Shared().eval(), 16, 6, "m", layer="act")
