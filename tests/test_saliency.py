"""The saliency stage: shards fill one zarr array exactly as a single run would; bad maps and
stale or incomplete arrays are refused with the culprit named."""

import json

import numpy as np
import pytest
import torch
import zarr

from heatcheck import HeatcheckError
from heatcheck.data import load_dataset
from heatcheck.explainers import make_explainer
from heatcheck.models import build_model, load_checkpoint, normalize, save_checkpoint
from heatcheck.saliency import background_images, compute_shard
from heatcheck.shards import finalize, init_saliency
from heatcheck.store import DatasetStore, open_saliency, write_dataset, write_saliency_shard
from conftest import write_tiny_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return write_tiny_study(tmp_path_factory.mktemp("sal"))


def _run(d, name, params, shard_size, tag, max_eval=None):
    arr = d / f"{tag}.zarr"
    init_saliency(d / "images.zarr", d / "m.pt", arr, name, params, shard_size, max_eval)
    n = zarr.open_array(str(arr)).shape[0]
    reports = []
    for s in range(-(-n // shard_size)):
        f = d / f"{tag}-{s}.json"
        compute_shard(d / "images.zarr", d / "m.pt", arr, name, params, s, shard_size, seed=5, report_path=f)
        reports.append(f)
    finalize(arr, reports, d / f"{tag}.json")
    return arr


@pytest.mark.parametrize("name, params", [("smoothgrad", {"samples": 3, "noise": 0.2}), ("gradcam", {"layer": None})])
def test_shards_equal_one_direct_call(study, name, params):
    arr = _run(study, name, params, 4, f"{name}-4")
    whole = _run(study, name, params, 10, f"{name}-10")
    a = open_saliency(arr, n=10, shape=(32, 32))
    assert a.chunks == (4, 32, 32) and a.attrs["explainer"] == name and a.attrs["params"] == params
    assert len(a.attrs["model_checksum"]) == 64 and a.attrs["seconds"] > 0
    assert np.allclose(a[:], open_saliency(whole)[:], atol=1e-6)
    # and equal to calling the explainer directly on the normalized images
    store = DatasetStore(study / "images.zarr")
    model, _ = load_checkpoint(study / "m.pt")
    x = normalize(torch.from_numpy(store.split("eval").images[:]), store.mean, store.std)
    direct = make_explainer(name, model, params, seed=5).attribute(x, torch.from_numpy(store.split("eval").labels[:]))
    assert np.allclose(a[:], direct.detach().numpy(), atol=1e-5)
    assert json.loads((study / f"{name}-4.json").read_text())["shards"] == 3


def test_max_eval_and_predicted_targets(study):
    arr = study / "pred.zarr"
    init_saliency(study / "images.zarr", study / "m.pt", arr, "grad", {}, 4, 6)
    r = compute_shard(study / "images.zarr", study / "m.pt", arr, "grad", {}, 1, 4, max_eval=6, target="predicted")
    model, _ = load_checkpoint(study / "m.pt")
    store = DatasetStore(study / "images.zarr")
    x = normalize(torch.from_numpy(store.split("eval").images[4:6]), store.mean, store.std)
    assert r["targets"] == model(x).argmax(1).tolist() and (r["start"], r["stop"]) == (4, 6)
    with pytest.raises(HeatcheckError, match="shard 2 starts at image 8, beyond the 6"):
        compute_shard(study / "images.zarr", study / "m.pt", arr, "grad", {}, 2, 4, max_eval=6)


def test_incomplete_array_is_refused_and_missing_rows_named(study):
    arr = study / "part.zarr"
    init_saliency(study / "images.zarr", study / "m.pt", arr, "grad", {}, 4, None)
    f = [study / f"part-{k}.json" for k in range(3)]
    for k in (0, 2):
        compute_shard(study / "images.zarr", study / "m.pt", arr, "grad", {}, k, 4, report_path=f[k])
    with pytest.raises(HeatcheckError, match="incomplete"):
        open_saliency(arr)
    with pytest.raises(HeatcheckError, match=r"do not cover the images from 0 without gaps \(starts \[0, 8\]\)"):
        finalize(arr, [f[0], f[2]], study / "part.json")
    # a report whose maps are not in the array (an interrupted write, a deleted chunk)
    f[1].write_text(json.dumps({**json.loads(f[0].read_text()), "start": 4, "stop": 8,
                                "ids": [f"shapes-eval-00000{i}" for i in range(4, 8)]}))
    with pytest.raises(HeatcheckError, match=r"rows \[4, 5, 6, 7\] are missing"):
        finalize(arr, f, study / "part.json")


def test_stale_array_of_wrong_shape_is_detected(study):
    arr = _run(study, "edge", {}, 5, "edge")
    with pytest.raises(HeatcheckError, match="has 10 maps, expected 12"):
        open_saliency(arr, n=12)
    with pytest.raises(HeatcheckError, match="expected \\(64, 64\\)"):
        open_saliency(arr, shape=(64, 64))
    with pytest.raises(HeatcheckError, match="cannot write maps of shape"):
        write_saliency_shard(arr, 5, np.zeros((5, 16, 16), np.float32), 5)
    with pytest.raises(ValueError, match="not aligned"):
        write_saliency_shard(arr, 3, np.zeros((2, 32, 32), np.float32), 5)


def test_nan_map_fails_its_shard_naming_image_and_explainer(study, monkeypatch):
    from heatcheck.explainers import gradient

    arr = study / "nan.zarr"
    init_saliency(study / "images.zarr", study / "m.pt", arr, "edge", {}, 5, None)
    orig = gradient.EdgeControl.attribute

    def poisoned(self, x, targets, index=None):
        out = orig(self, x, targets, index)
        out[1, 0, 0] = float("nan")
        return out

    monkeypatch.setattr(gradient.EdgeControl, "attribute", poisoned)
    with pytest.raises(HeatcheckError, match=r"'edge'.*NaN or infinity for image 'shapes-eval-000006'"):
        compute_shard(study / "images.zarr", study / "m.pt", arr, "edge", {}, 1, 5)
    assert np.isnan(zarr.open_array(str(arr))[5:]).all()  # nothing written


def test_background_is_seeded_train_sample(study):
    a, b = background_images(DatasetStore(study / "images.zarr"), 8, 1), background_images(DatasetStore(study / "images.zarr"), 8, 1)
    assert a.shape == (8, 3, 32, 32) and torch.equal(a, b)


def test_a_grown_study_adds_rows_and_keeps_the_finished_chunks(study):
    """More eval images (here max_eval raised from 4 to all 10): the new shards resize the array
    and write their rows, the finished chunk is not rewritten, and the result equals the array of
    a study of all images from the start."""
    arr = study / "grow.zarr"
    init_saliency(study / "images.zarr", study / "m.pt", arr, "grad", {}, 4, 4)
    f = [study / f"grow-{k}.json" for k in range(3)]
    compute_shard(study / "images.zarr", study / "m.pt", arr, "grad", {}, 0, 4, max_eval=4, seed=5, report_path=f[0])
    finalize(arr, f[:1], study / "grow.json")
    chunk = arr / "c" / "0" / "0" / "0"
    before = (chunk.stat().st_mtime_ns, chunk.read_bytes())
    for k in (1, 2):
        compute_shard(study / "images.zarr", study / "m.pt", arr, "grad", {}, k, 4, seed=5, report_path=f[k])
    grown = zarr.open_array(str(arr), mode="r")
    ids = DatasetStore(study / "images.zarr").split("eval").ids
    assert grown.shape == (10, 32, 32) and grown.attrs["ids"] == ids and not grown.attrs["complete"]
    finalize(arr, f, study / "grow.json")
    assert (chunk.stat().st_mtime_ns, chunk.read_bytes()) == before
    whole = _run(study, "grad", {}, 4, "grad-whole")
    assert open_saliency(arr, n=10)[:].tobytes() == open_saliency(whole)[:].tobytes()


def test_out_of_memory_names_batch_size_and_the_job(study, monkeypatch):
    from heatcheck.models.cifar import LeNet

    arr = study / "oom.zarr"
    init_saliency(study / "images.zarr", study / "m.pt", arr, "grad", {}, 4, None)
    for error in (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), MemoryError(),
                  RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 bytes")):
        def forward(self, x, error=error):
            raise error

        monkeypatch.setattr(LeNet, "forward", forward)
        with pytest.raises(HeatcheckError, match=r"compute_saliency grad shard 1 ran out of memory with batch_size 96 "
                                                 r".*lower batch_size in the config \(now 96") as e:
            compute_shard(study / "images.zarr", study / "m.pt", arr, "grad", {}, 1, 4, batch_size=96)
        assert e.value.__cause__ is error
    # any other error passes unchanged
    monkeypatch.setattr(LeNet, "forward", lambda self, x: (_ for _ in ()).throw(RuntimeError("shape mismatch")))
    with pytest.raises(RuntimeError, match="^shape mismatch$"):
        compute_shard(study / "images.zarr", study / "m.pt", arr, "grad", {}, 1, 4)
