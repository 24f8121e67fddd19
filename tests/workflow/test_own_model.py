"""Your own model and data end to end through Snakemake: the real pretrained EfficientNet-Lite0 on
scikit-image's photos (configs/photos.yaml, reduced), and a study mixing a factory model from a
file, a torchvision architecture by name, a folder with masks and one with VOC boxes, and your own
explainer and metric from a file in the study's folder (the README's plugin example)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
import zarr

from conftest import ROOT, run_snakemake
from test_data_folder import mask_png, png
from test_data_real import voc_xml

pytestmark = pytest.mark.workflow

NET = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, classes)

    def forward(self, x):
        return self.head(self.pool(self.act(self.conv(x))).flatten(1))


class Flat(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3, padding=1)
        self.fc = nn.Linear(2 * 32 * 32, classes)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


def build(classes=2):
    return Net(classes)


def flat(classes=2):
    return Flat(classes)
'''


def test_photos_study_reduced(tmp_path):
    pytest.importorskip("efficientnet_lite_pytorch")
    cfg = yaml.safe_load((ROOT / "configs" / "photos.yaml").read_text())
    cfg["datasets"]["photos"]["photos"] = ["chelsea", "coffee"]
    cfg["target"] = "predicted"  # the saliency arrays then record the model's top class
    cfg["explainers"] = {"gradcam": None, "integrated_gradients": {"steps": 4}}
    cfg["metrics"] = {"deletion": {"baselines": ["mean"], "granularities": ["pixel"], "steps": 4},
                      "pointing_game": None}
    path = tmp_path / "photos.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_snakemake(tmp_path, path, "results/photos/scores.parquet")
    res = tmp_path / "results" / "photos"
    report = json.loads((res / "models" / "efficientnet_lite0.json").read_text())
    assert report["facts"]["layer"] == "_bn1" and "lrp" in report["facts"]["refused"]
    assert report["mean"] == [0.485, 0.456, 0.406]
    gc = zarr.open_array(str(res / "saliency" / "efficientnet_lite0" / "gradcam.zarr"), mode="r")
    assert gc.attrs["ids"] == ["n02123045/chelsea", "n07920052/coffee"]
    # the targets explained: in the shard reports (the score jobs read them; nothing here
    # finalizes the array)
    shards = [json.loads(f.read_text()) for f in (res / "saliency" / "efficientnet_lite0" / "gradcam.shards").glob("*.json")]
    assert [t for r in sorted(shards, key=lambda r: r["start"]) for t in r["targets"]] == [285, 967]  # Egyptian cat, espresso
    scores = pd.read_parquet(res / "scores.parquet")
    assert set(scores.metric) == {"deletion", "pointing_game"}
    assert set(scores.explainer) == {"gradcam", "integrated_gradients"}
    assert len(scores) == 2 * 2 * 2 and np.isfinite(scores.score).all()
    assert scores.loc[scores.metric == "deletion", "score"].between(0, 1).all()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    import torch
    import torchvision

    work = tmp_path_factory.mktemp("mixed")
    (work / "mynet.py").write_text(NET)
    # the README's plugin example, as a user's file next to the study (named relative to the
    # working directory, where Snakemake runs)
    (work / "my_methods.py").write_text((ROOT / "workflow" / "heatcheck" / "example_methods.py").read_text())
    namespace = {}
    exec(NET, namespace)  # the same module source, to write weights the factory must load
    torch.manual_seed(0)
    torch.save(namespace["Net"](2).state_dict(), work / "net.pth")
    torch.save(torchvision.models.resnet18(weights=None, num_classes=2).state_dict(), work / "r18.pth")
    # a folder with masks (cat / dog, 48x40 images) and one with VOC boxes
    for k, (cls, colour) in enumerate([("cat", (200, 30, 30)), ("cat", (150, 60, 30)),
                                       ("dog", (30, 200, 30)), ("dog", (30, 150, 60))]):
        png(work / "masked" / cls / f"m{k}.png", 48, 40, colour)
        mask_png(work / "masks" / f"m{k}.png", 48, 40, (8 + k, 6, 30 + k, 30))
        png(work / "boxed" / cls / f"b{k}.jpg", 40, 40, colour)
        voc_xml(work / "xml" / f"b{k}.xml", 40, 40, [(cls, (5, 5, 20 + 4 * k, 30), 0)])
    cfg = {
        "shard_size": 4, "batch_size": 32,
        "datasets": {
            "masked": {"kind": "folder", "root": str(work / "masked"), "masks": str(work / "masks"),
                       "size": 32, "models": ["mine", "r18"]},
            "boxed": {"kind": "folder", "root": str(work / "boxed"), "boxes": str(work / "xml"),
                      "size": 32, "models": ["mine"]},
        },
        "models": {
            "mine": {"factory": f"{work / 'mynet.py'}:build", "weights": str(work / "net.pth"), "min_gain": 0.0},
            "r18": {"torchvision": "resnet18", "weights": str(work / "r18.pth"), "min_gain": 0.0,
                    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
            "flat": {"factory": f"{work / 'mynet.py'}:flat", "min_gain": 0.0},
        },
        # a built-in and a plugin explainer, two built-in metrics and a plugin metric
        "explainers": {"gradcam": None, "grad_power": {"class": "my_methods.py:GradPower", "power": 3}},
        "metrics": {"deletion": {"baselines": ["mean"], "granularities": ["pixel"], "steps": 4},
                    "pointing_game": None, "keep_top": {"class": "my_methods.py:KeepTop", "shares": [0.25]}},
        "analysis": {"bootstrap": 0, "blur": {"explainers": []}},
    }
    path = work / "mixed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_snakemake(work, path, "results/masked/scores.parquet", "results/boxed/scores.parquet",
                  "results/masked/tables/rankings.csv", "results/masked/figures/rankings.png",
                  "results/masked/tables/inter_method.csv")
    return work, cfg


def test_mixed_models_and_folders(mixed):
    work, cfg = mixed
    res = work / "results"
    g = zarr.open_group(str(res / "masked" / "images.zarr"), mode="r")
    assert g["eval/masks"].shape == (4, 32, 32) and g["eval/boxes"].shape == (4, 1, 4)
    assert list(g["eval/ids"][:]) == ["cat/m0", "cat/m1", "dog/m2", "dog/m3"]
    b = zarr.open_group(str(res / "boxed" / "images.zarr"), mode="r")
    assert "masks" not in b["eval"] and b["eval/boxes"][0, 0].tolist() == [3, 3, 16, 24]  # [4, 20) x [4, 30) at 40 px -> 32 px
    mine = json.loads((res / "masked" / "models" / "mine.json").read_text())
    r18 = json.loads((res / "masked" / "models" / "r18.json").read_text())
    assert mine["facts"]["gap_fc"] == "head" and r18["facts"]["layer"] == "layer4"
    assert r18["mean"] == [0.485, 0.456, 0.406]
    assert mine["mean"] == pytest.approx(list(g.attrs["mean"]))  # none given: the dataset's
    for d, models in (("masked", ["mine", "r18"]), ("boxed", ["mine"])):
        scores = pd.read_parquet(res / d / "scores.parquet")
        assert sorted(scores.model.unique()) == models
        assert set(scores.metric) == {"deletion", "pointing_game", "keep_top"}
        assert set(scores.explainer) == {"gradcam", "grad_power"}
        assert len(scores) == 4 * len(models) * 2 * 3 and np.isfinite(scores.score).all()
        assert set(scores.image_id) == set(zarr.open_group(str(res / d / "images.zarr"), mode="r")["eval/ids"][:])


def test_an_explainer_the_model_cannot_take_stops_before_any_shard(mixed):
    work, cfg = mixed
    cfg = {**cfg, "explainers": {"cam": None}}
    cfg["datasets"] = {"masked": {**cfg["datasets"]["masked"], "models": ["flat"]}}
    path = work / "refused.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(work, path, "results/masked/saliency/flat/cam.json", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "explainers.cam is not applicable to model 'flat'" in out and "global average pooling" in out
    assert (work / "results/masked/models/flat.json").exists()  # the model's facts were written first
    assert not (work / "results/masked/logs/compute_saliency/flat").exists()  # no shard job started


def test_your_own_explainer_and_metric_run_like_built_ins(mixed):
    """The plugin explainer's maps are in the saliency arrays (its definition: |gradient|^3 >= 0),
    the plugin metric's scores in the tables with its configuration and direction, both in the
    rankings, the inter-method table, the figure and the cost report."""
    work, cfg = mixed
    res = work / "results" / "masked"
    maps = zarr.open_array(str(res / "saliency" / "mine" / "grad_power.zarr"), mode="r")
    assert maps.shape == (4, 32, 32) and maps.attrs["params"]["power"] == 3
    assert np.isfinite(maps[:]).all() and (maps[:] >= 0).all() and maps[:].max() > 0
    scores = pd.read_parquet(res / "scores.parquet")
    top = scores[scores.metric == "keep_top"]
    assert set(top.config) == {"0.25"} and top.higher_is_better.all() and top.score.between(0, 1).all()
    assert len(top) == 4 * 2 * 2  # images x models x explainers
    assert set(scores.loc[scores.explainer == "grad_power", "metric"]) == {"deletion", "pointing_game", "keep_top"}
    ranks = pd.read_csv(res / "tables" / "rankings.csv")
    assert {"keep_top", "deletion"} <= set(ranks.metric) and set(ranks.explainer) == {"gradcam", "grad_power"}
    inter = pd.read_csv(res / "tables" / "inter_method.csv")
    assert "keep_top" in set(inter.astype(str).stack())
    assert (res / "figures" / "rankings.png").stat().st_size > 0
    proc = subprocess.run([sys.executable, "-m", "heatcheck.cost_report", str(work / "mixed.yaml"), "--images", "4"],
                          cwd=work,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # GradPower declares one forward and one backward per image, KeepTop one forward per share and map
    assert "| masked | mine | saliency | grad_power | 1 | 1 | 4 | 4 | 4 | 1 | ? |" in proc.stdout
    assert "| masked | mine | metrics | keep_top | 1 | 0 | 8 | 8 | 0 | 2 | ? |" in proc.stdout
