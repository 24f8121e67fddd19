"""Config validation: defaults, and errors that name the key and list the valid choices."""

import copy

import pytest
import yaml

from heatcheck import HeatcheckError
from heatcheck.archs import ARCHS
from heatcheck.config import check_config, load_schema, study


@pytest.fixture
def cfg(root):
    with open(root / "config.yaml") as fh:
        return yaml.safe_load(fh)


def test_shipped_config_is_valid_and_gets_defaults(cfg):
    check_config(cfg)
    assert cfg["target"] == "label"
    assert cfg["models"]["lenet"]["source"] == "train"
    assert cfg["datasets"]["shapes"]["distractors"] == [1, 3]
    assert study(cfg) == [("shapes", "lenet"), ("shapes", "resnet8")]


def test_explainer_defaults_are_the_papers(cfg):
    cfg["explainers"] = {"integrated_gradients": None, "rise": {}, "lrp": {}}
    check_config(cfg)
    assert cfg["explainers"]["integrated_gradients"] == {"steps": 50, "baseline": "zero"}
    assert cfg["explainers"]["rise"] == {"masks": 5000, "grid": 7, "p": 0.1}
    assert cfg["explainers"]["lrp"]["epsilon"] == 1.0


def _error(cfg, mutate) -> str:
    c = copy.deepcopy(cfg)
    mutate(c)
    with pytest.raises(HeatcheckError) as exc:
        check_config(c)
    return str(exc.value)


def test_typo_in_key_names_key_and_lists_valid_keys(cfg):
    msg = _error(cfg, lambda c: c["models"]["lenet"].update(epocs=3))
    assert "models.lenet.epocs" in msg and "epochs" in msg and "weight_decay" in msg


def test_typo_in_dataset_param_lists_that_kinds_keys(cfg):
    msg = _error(cfg, lambda c: c["datasets"]["shapes"].update(sise=64))
    assert "datasets.shapes.sise" in msg and "n_train" in msg and "root" not in msg


def test_top_level_typo(cfg):
    msg = _error(cfg, lambda c: c.update(shard_sise=4))
    assert "shard_sise" in msg and "shard_size" in msg


@pytest.mark.parametrize("mutate, key, choice", [
    (lambda c: c["datasets"]["shapes"].update(kind="shape"), "datasets.shapes.kind", "cifar10"),
    (lambda c: c["models"]["lenet"].update(arch="lenet5"), "models.lenet.arch", "resnet20"),
    (lambda c: c.update(explainers={"gradcan": {}}), "explainers.gradcan", "gradcam"),
    (lambda c: c.update(metrics={"insertion_auc": {}}), "metrics.insertion_auc", "deletion"),
    (lambda c: c.update(target="argmax"), "target", "predicted"),
])
def test_unknown_names_list_valid_choices(cfg, mutate, key, choice):
    msg = _error(cfg, mutate)
    assert key in msg and choice in msg


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["models"]["lenet"].update(epochs="ten"), "models.lenet.epochs"),
    (lambda c: c.update(explainers={"rise": {"masks": 1.5}}), "explainers.rise.masks"),
    (lambda c: c["datasets"]["shapes"].update(n_eval=[3]), "datasets.shapes.n_eval"),
    (lambda c: c.update(shard_size="8"), "shard_size"),
])
def test_wrong_types_name_the_key(cfg, mutate, key):
    msg = _error(cfg, mutate)
    assert key in msg and "type" in msg


def test_missing_required_root_for_real_data(cfg):
    msg = _error(cfg, lambda c: c["datasets"].update(inet={"kind": "imagenet"}))
    assert "datasets.inet" in msg and "root" in msg


def test_dataset_naming_an_undefined_model(cfg):
    msg = _error(cfg, lambda c: c["datasets"]["shapes"].update(models=["lenet", "vgg"]))
    assert "datasets.shapes.models" in msg and "'vgg'" in msg and "resnet8" in msg


def test_cam_not_applicable_to_lenet(cfg):
    msg = _error(cfg, lambda c: c.update(explainers={"cam": None}))
    assert "explainers.cam" in msg and "lenet" in msg and "not applicable" in msg


def test_cam_accepted_on_gap_models_only(cfg):
    cfg["datasets"]["shapes"]["models"] = ["resnet8"]
    cfg["explainers"] = {"cam": None}
    check_config(cfg)


def test_pretrained_needs_a_torchvision_arch(cfg):
    msg = _error(cfg, lambda c: c["models"]["lenet"].update(source="pretrained"))
    assert "models.lenet.source" in msg and "resnet50" in msg


def test_schema_names_match_registries():
    from heatcheck.data import DATASETS
    from heatcheck.models import MODELS

    schema = load_schema()
    assert sorted(schema["$defs"]["dataset"]["properties"]["kind"]["enum"]) == DATASETS.names()
    assert sorted(schema["$defs"]["model"]["properties"]["arch"]["enum"]) == MODELS.names()
    assert sorted(ARCHS) == MODELS.names()


def test_box_metric_on_a_kind_that_never_has_boxes(cfg):
    def cifar(c):
        c["datasets"]["cifar"] = {"kind": "cifar10", "root": "/data/cifar-10-batches-py", "models": ["lenet"]}
        c["metrics"] = {"pointing_game": None, "deletion": None}

    msg = _error(cfg, cifar)
    assert "metrics.pointing_game" in msg and "'cifar'" in msg and "cifar10" in msg
    assert "remove pointing_game" in msg and "shapes" in msg and "voc" in msg
    ok = copy.deepcopy(cfg)  # without the box metric, or with a kind that may have boxes: accepted
    cifar(ok)
    del ok["metrics"]["pointing_game"]
    check_config(ok)
    cfg["models"]["r50"] = {"arch": "resnet50", "source": "pretrained"}
    # XMLs may sit next to the images
    cfg["datasets"]["inet"] = {"kind": "imagenet", "root": "/data/val", "models": ["r50"]}
    cfg["metrics"] = {"pointing_game": None}
    check_config(cfg)
    # a folder without boxes or masks can never have boxes: refused with the keys to set
    cfg["datasets"]["mine"] = {"kind": "folder", "root": "/data/mine", "models": ["r50"]}
    msg = _error(cfg, lambda c: None)
    assert "'mine'" in msg and "neither its 'boxes' nor its 'masks' key is set" in msg
    cfg["datasets"]["mine"]["masks"] = "/data/mine_masks"
    check_config(cfg)


def test_a_model_trained_on_a_dataset_without_train_split_is_refused(cfg):
    def inet(c):
        c["datasets"]["inet"] = {"kind": "imagenet", "root": "/data/val", "models": ["lenet"]}

    msg = _error(cfg, inet)
    assert "models.lenet.source = 'train'" in msg and "'inet'" in msg and "no train split" in msg


def test_box_tables_match_the_registries():
    from heatcheck.config import BOX_METRICS
    from heatcheck.metrics import METRICS

    assert sorted(BOX_METRICS) == sorted(n for n in METRICS.names() if METRICS.get(n).needs_boxes)


def test_canonical_params_sort_keys_but_keep_the_order_of_names():
    from heatcheck.config import canonical_params

    cfg = {"datasets": {"b": {"size": 32, "kind": "shapes"}, "a": {"kind": "digits"}},
           "explainers": {"rise": {"p": 0.1, "masks": 10}, "grad": {}},
           "metrics": {"insertion": {"steps": 5, "baselines": ["mean"]}}, "models": {},
           "analysis": {"primary": {"z": "x", "a": "y"}, "bootstrap": 10}}
    canonical_params(cfg)
    assert list(cfg["datasets"]) == ["b", "a"] and list(cfg["explainers"]) == ["rise", "grad"]
    assert list(cfg["datasets"]["b"]) == ["kind", "size"] and list(cfg["explainers"]["rise"]) == ["masks", "p"]
    assert list(cfg["analysis"]) == ["bootstrap", "primary"] and list(cfg["analysis"]["primary"]) == ["a", "z"]


def test_config_checks_and_kind_facts_stay_torch_free(root):
    """The Snakefile validates on login nodes: checking a config of every kind and model origin,
    and reading the kinds' facts, must not import torch."""
    import subprocess
    import sys

    code = (
        "import sys, yaml\n"
        "from heatcheck.config import check_config\n"
        "from heatcheck.costs import study_passes\n"
        f"cfg = yaml.safe_load(open({str(root / 'configs' / 'photos.yaml')!r}))\n"
        "cfg['datasets']['mine'] = {'kind': 'folder', 'root': '/nowhere', 'models': ['efficientnet_lite0']}\n"
        "cfg['datasets']['arr'] = {'kind': 'arrays', 'path': '/nowhere.npz', 'models': ['efficientnet_lite0']}\n"
        "cfg['metrics'].pop('pointing_game')\n"
        "study_passes(check_config(cfg))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_model_entries_are_checked_before_any_job(cfg, tmp_path):
    def entry(**kw):
        return lambda c: c["models"].update(mine=kw)

    assert "exactly one of arch, torchvision, timm, factory, torchscript" in _error(cfg, entry(factory="a.py:f", arch="lenet"))
    assert "has none" in _error(cfg, entry(weights="w.pth"))
    msg = _error(cfg, entry(factory=str(tmp_path / "net.py:build")))
    assert "models.mine.factory: file" in msg and "net.py does not exist" in msg
    assert "must be 'path/to/file.py:function'" in _error(cfg, entry(factory="mynet"))
    assert "models.mine.weights: a torchvision architecture needs a local weights file" in _error(
        cfg, entry(torchvision="resnet18"))
    assert "a factory model is loaded, not trained" in _error(cfg, entry(factory="pkg.mod:f", source="train"))
    assert "give both mean and std" in _error(cfg, entry(factory="pkg.mod:f", mean=[0.5, 0.5, 0.5]))
    ok = copy.deepcopy(cfg)
    ok["models"]["mine"] = {"factory": "pkg.mod:f"}
    check_config(ok)
    assert ok["models"]["mine"]["source"] == "pretrained" and ok["models"]["lenet"]["source"] == "train"
