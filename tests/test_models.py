"""Model registry, checkpoints, pretrained weights from local files, training."""

import json

import numpy as np
import pytest
import torch

from heatcheck import HeatcheckError
from heatcheck.archs import ARCHS, reference_side
from heatcheck.data import load_dataset
from heatcheck.models import (MODELS, build_model, gap_fc, last_conv, load_checkpoint,
                              normalize, save_checkpoint, zoo)
from heatcheck.models.train import check_learned, import_pretrained, train_model
from heatcheck.store import write_dataset
from test_data import shapes_spec


@pytest.mark.parametrize("arch", MODELS.names())
def test_every_arch_builds_and_matches_the_torch_free_table(arch):
    size = 64 if ARCHS[arch]["torchvision"] else 32
    model = build_model(arch, 7, size).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, 7)
    assert (gap_fc(model) is not None) == ARCHS[arch]["gap_fc"]
    assert (arch in zoo.WEIGHTS) == ARCHS[arch]["torchvision"]
    assert not any(getattr(m, "inplace", False) for m in model.modules() if isinstance(m, torch.nn.ReLU))
    feats = []
    h = last_conv(model).register_forward_hook(lambda m, i, o: feats.append(o))
    with torch.no_grad():
        model(torch.randn(1, 3, size, size))
    h.remove()
    assert feats[0].ndim == 4
    # the probe load_model runs on every model finds the same layer and GAP + linear layer
    from heatcheck.models.facts import model_facts

    layer = last_conv(model)
    facts = model_facts(model, size, 7, arch, explainers=False)
    assert dict(model.named_modules())[facts["layer"]] is layer
    assert (facts["gap_fc"] is not None) == ARCHS[arch]["gap_fc"] == (gap_fc(model) is not None)
    # the FLOPs the GPU and CPU time estimates scale from, at the table's reference side (the
    # CIFAR nets are built for it; torchvision's take any side)
    from torch.utils.flop_counter import FlopCounterMode

    ref = reference_side(arch)
    with FlopCounterMode(display=False) as flops, torch.no_grad():
        model(torch.zeros(1, 3, ref, ref))
    assert flops.get_total_flops() / 1e9 == pytest.approx(ARCHS[arch]["gflops"], rel=0.01)


def test_cifar_resnet_depths():
    def n_convs(d):
        return sum(1 for m in build_model(f"resnet{d}", 10, 32).modules()
                   if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
    assert [n_convs(d) for d in (8, 20, 56)] == [7, 19, 55]  # 6n 3x3 convs in blocks + the stem


def test_checkpoint_roundtrip_and_mismatch_errors(tmp_path):
    model = build_model("lenet", 6, 32).eval()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, "lenet", 6, 32, (0.5,) * 3, (0.25,) * 3)
    again, meta = load_checkpoint(path, arch="lenet", num_classes=6)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    assert meta["mean"] == [0.5] * 3
    with pytest.raises(HeatcheckError, match=r"m\.pt holds a 'lenet', expected 'resnet8'"):
        load_checkpoint(path, arch="resnet8")
    with pytest.raises(HeatcheckError, match="6 classes, the dataset has 10"):
        load_checkpoint(path, num_classes=10)
    with pytest.raises(HeatcheckError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    # each load builds its own model from the process's one read of the file ...
    other, _ = load_checkpoint(path)
    with torch.no_grad():
        next(other.parameters()).add_(1.0)
        assert torch.equal(model(x), load_checkpoint(path)[0](x))
    # ... and a checkpoint written again is read again (same size, written at once after)
    with torch.no_grad():
        next(model.parameters()).mul_(-1.0)
    save_checkpoint(path, model, "lenet", 6, 32, (0.5,) * 3, (0.25,) * 3)
    with torch.no_grad():
        assert torch.equal(model(x), load_checkpoint(path)[0](x))
    assert not list(tmp_path.glob(".m.pt.tmp-*"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(HeatcheckError, match="bad.pt is unreadable"):
        load_checkpoint(bad)


def test_missing_pretrained_weights_say_which_file_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(HeatcheckError) as exc:
        zoo.load_pretrained("resnet50", None)
    msg = str(exc.value)
    assert "resnet50-" in msg and str(tmp_path / "torch" / "hub" / "checkpoints") in msg
    with pytest.raises(HeatcheckError, match="nowhere.pth"):
        zoo.load_pretrained("vgg16", str(tmp_path / "nowhere.pth"))


def test_pretrained_weights_from_local_file_and_hub_cache(tmp_path, monkeypatch):
    ref = zoo.build("alexnet", 1000)
    f = tmp_path / "alex.pth"
    torch.save(ref.state_dict(), f)
    model = zoo.load_pretrained("alexnet", str(f))
    assert torch.equal(model.features[0].weight, ref.features[0].weight)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    hub = zoo.hub_weights_path("alexnet")
    hub.parent.mkdir(parents=True)
    torch.save(ref.state_dict(), hub)
    assert torch.equal(zoo.load_pretrained("alexnet", None).features[0].weight, ref.features[0].weight)
    # weights of another architecture are refused with the file named
    torch.save(zoo.build("vgg16", 1000).state_dict(), f)
    with pytest.raises(HeatcheckError, match="alex.pth does not fit a torchvision alexnet"):
        zoo.load_pretrained("alexnet", str(f))


def test_import_pretrained_refuses_non_imagenet_store(tmp_path):
    store = tmp_path / "images.zarr"
    write_dataset(store, load_dataset(shapes_spec(n_train=12, n_eval=6)), "shapes")
    spec = {"arch": "alexnet", "weights": None, "min_gain": 0.2}
    with pytest.raises(HeatcheckError, match="1000 classes.*has 6 classes"):
        import_pretrained(store, spec, tmp_path / "m.pt", tmp_path / "m.json", torch.device("cpu"))


def test_normalize():
    x = torch.ones(1, 3, 2, 2)
    assert torch.allclose(normalize(x, (1.0, 0.5, 0.0), (1.0, 0.5, 2.0))[0, :, 0, 0], torch.tensor([0.0, 1.0, 0.5]))


def _spec(**kw):
    spec = {"arch": "lenet", "source": "train", "epochs": 6, "lr": 0.05, "weight_decay": 5e-4,
            "train_batch_size": 64, "augment": True, "seed": 0, "min_gain": 0.2, "weights": None}
    spec.update(kw)
    return spec


def test_training_learns_needs_the_object_and_is_deterministic(tmp_path):
    store = tmp_path / "images.zarr"
    data = load_dataset(shapes_spec(n_train=3000, n_eval=180))
    write_dataset(store, data, "shapes")
    r1 = train_model(store, _spec(epochs=16, lr=0.02), tmp_path / "a.pt", tmp_path / "a.json",
                     torch.device("cpu"), "a")
    assert r1["accuracy"] > 0.6  # chance is 1/6
    # the shapes scenes are built so that the target object is needed: with its box painted
    # over in the dataset mean, the trained model is near chance
    ev = data.splits["eval"]
    hidden = ev.images.copy()
    for img, (x0, y0, x1, y1) in zip(hidden, ev.boxes[:, 0]):
        img[:, y0:y1, x0:x1] = np.asarray(data.mean, np.float32)[:, None, None]
    model, _ = load_checkpoint(tmp_path / "a.pt")
    with torch.no_grad():
        pred = model(normalize(torch.from_numpy(hidden), data.mean, data.std)).argmax(1).numpy()
    assert (pred == ev.labels).mean() < 0.35
    assert json.loads((tmp_path / "a.json").read_text())["accuracy"] == r1["accuracy"]
    r2 = train_model(store, _spec(epochs=16, lr=0.02), tmp_path / "b.pt", tmp_path / "b.json", torch.device("cpu"), "b")
    a, _ = load_checkpoint(tmp_path / "a.pt")
    b, _ = load_checkpoint(tmp_path / "b.pt")
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert r1["accuracy"] == r2["accuracy"]


def test_a_model_that_did_not_learn_fails(tmp_path):
    store = tmp_path / "images.zarr"
    write_dataset(store, load_dataset(shapes_spec(n_train=60, n_eval=60)), "shapes")
    with pytest.raises(HeatcheckError, match="did not learn"):
        train_model(store, _spec(epochs=1, lr=1e-6, min_gain=0.5), tmp_path / "m.pt",
                    tmp_path / "m.json", torch.device("cpu"), "m")
    check_learned(0.9, 6, 0.2, "ok")
    with pytest.raises(HeatcheckError, match="0.100.*chance 0.100"):
        check_learned(0.1, 10, 0.2, "model 'x'")
