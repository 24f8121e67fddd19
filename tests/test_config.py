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
    del cfg["metrics"]["masking_robustness"], cfg["trust"]  # their lists name explainers no longer in the study
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
    def plain_lenet(c):
        c["models"]["lenet"]["arch"] = "lenet"  # LeNet-5's head: three linear layers, no GAP
        c.update(explainers={"cam": None})

    msg = _error(cfg, plain_lenet)
    assert "explainers.cam" in msg and "lenet" in msg and "not applicable" in msg


def test_cam_accepted_on_gap_models_only(cfg):
    cfg["datasets"]["shapes"]["models"] = ["resnet8"]
    cfg["explainers"] = {"cam": None}
    cfg.pop("trust")  # it names config.yaml's explainers
    cfg["metrics"] = {"average_drop": None}
    check_config(cfg)


def test_every_default_explainer_applies_to_every_default_model(cfg):
    from heatcheck.explainers import EXPLAINERS

    check_config(cfg)
    assert set(cfg["explainers"]) == set(EXPLAINERS.names())
    assert all(ARCHS[cfg["models"][m]["arch"]]["gap_fc"] for m in cfg["datasets"]["shapes"]["models"])


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


def test_box_metrics_are_those_whose_classes_need_boxes(cfg):
    from heatcheck.config import box_metrics

    cfg["metrics"] = {"pointing_game": None, "deletion": None, "relevance_rank": None}
    assert box_metrics(check_config(cfg)) == ["pointing_game", "relevance_rank"]


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


# --- the study's files: read strictly ----------------------------------------------------------

def _write(tmp_path, text, name="study.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _load_error(path) -> str:
    from heatcheck.config import load_study

    with pytest.raises(HeatcheckError) as exc:
        load_study([path])
    return str(exc.value)


def test_duplicate_explainer_key_names_file_key_and_lines(tmp_path):
    path = _write(tmp_path, "datasets:\n  s: {kind: shapes}\nmodels:\n  m: {arch: lenet}\n"
                            "explainers:\n  grad:\n  rise: {masks: 10}\n  grad:\n")
    msg = _load_error(path)
    assert str(path) in msg and "explainers.grad" in msg and "line 8" in msg and "first at line 6" in msg


def test_duplicate_keys_refused_at_any_depth_and_in_lists(tmp_path):
    msg = _load_error(_write(tmp_path, "datasets:\n  s:\n    kind: shapes\n    size: 16\n    size: 32\n"))
    assert "datasets.s.size" in msg and "line 5" in msg
    msg = _load_error(_write(tmp_path, "a:\n  - {x: 1, x: 2}\n"))
    assert "a.0.x" in msg and "line 2" in msg


def test_merge_keys_may_be_overridden(tmp_path):
    from heatcheck.config import load_study

    path = _write(tmp_path, "base: &b {steps: 8, uniform_seeds: 2}\nmetrics:\n  insertion:\n    <<: *b\n"
                            "    steps: 4\n  deletion: *b\n")
    cfg = load_study([path])
    assert cfg["metrics"]["insertion"] == {"steps": 4, "uniform_seeds": 2}
    assert cfg["metrics"]["deletion"] == {"steps": 8, "uniform_seeds": 2}


@pytest.mark.parametrize("text, line", [
    ("datasets:\n  shapes:\n    kind: shapes\n   size: [16\nmodels: {}\n", "line 4"),
    ("datasets: {shapes: {kind: shapes}\nmodels: {}\n", "line 2"),
    ("seed: 0\n\tshard_size: 4\n", "line 2"),
])
def test_yaml_syntax_error_names_file_and_line(tmp_path, text, line):
    path = _write(tmp_path, text)
    msg = _load_error(path)
    assert str(path) in msg and line in msg and "invalid YAML" in msg


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_refused_by_name(tmp_path, text):
    path = _write(tmp_path, text)
    msg = _load_error(path)
    assert str(path) in msg and "empty" in msg and "line 1" in msg


def test_top_level_must_be_a_mapping(tmp_path):
    path = _write(tmp_path, "- datasets\n- models\n")
    msg = _load_error(path)
    assert str(path) in msg and "mapping" in msg and "list" in msg


def test_study_is_its_files_then_the_overrides(tmp_path):
    from heatcheck.config import load_study

    a = _write(tmp_path, "seed: 1\nexplainers: {grad: , rise: {masks: 10}}\n", "a.yaml")
    b = _write(tmp_path, "explainers: {rise: {grid: 3}}\n", "b.yaml")
    cfg = load_study([a, b], {"seed": 5, "explainers": {"edge": None}})
    assert cfg == {"seed": 5, "explainers": {"grad": None, "rise": {"masks": 10, "grid": 3}, "edge": None}}
    assert load_study([b]) == {"explainers": {"rise": {"grid": 3}}}  # nothing but what the file says


def test_schema_is_read_strictly(tmp_path, monkeypatch):
    import heatcheck.config as hc

    monkeypatch.setattr(hc, "SCHEMA_PATH", _write(tmp_path, "type: object\ntype: array\n", "schema.yaml"))
    with pytest.raises(HeatcheckError, match="key type appears twice"):
        hc.load_schema()


def test_cost_report_reads_the_study_as_the_workflow_does(tmp_path, capsys):
    from heatcheck.cost_report import main

    dup = _write(tmp_path, "explainers:\n  grad:\n  grad:\n", "dup.yaml")
    with pytest.raises(SystemExit) as exc:
        main([str(dup)])
    assert str(dup) in str(exc.value) and "explainers.grad" in str(exc.value) and "line 3" in str(exc.value)
    study = _write(tmp_path, "datasets: {d: {kind: shapes, n_eval: 8, models: [lenet]}}\n"
                             "models: {lenet: {arch: lenet}, resnet8: {arch: resnet8}}\n"
                             "explainers: {grad: }\nmetrics: {average_drop: }\n", "s.yaml")
    more = _write(tmp_path, "explainers: {edge: }\n", "more.yaml")
    main([str(study), str(more), "--config", "max_eval=4", "--throughput", "lenet=100"])
    out = capsys.readouterr().out
    assert "| d | lenet | saliency | grad |" in out and "| d | lenet | saliency | edge |" in out
    assert "| 4 |" in out  # --config max_eval=4 on top of the files: 4 eval images


# --- refusals at config check --------------------------------------------------------------------

@pytest.mark.parametrize("mutate, key, value", [
    (lambda c: c["metrics"].update(average_drop={"percentiles": [50, 70, 50]}), "metrics.average_drop.percentiles", "50"),
    (lambda c: c["metrics"].update(shapley_bias={"ks": [10, 30, 10.0]}), "metrics.shapley_bias.ks", "10.0"),
    (lambda c: c["metrics"].update(unexplainable_features={"taus": [0.05, 0.1, 0.05]}),
     "metrics.unexplainable_features.taus", "0.05"),
    (lambda c: c["metrics"].update(insertion={"baselines": ["mean", "mean"]}), "metrics.insertion.baselines", "'mean'"),
    (lambda c: c["metrics"].update(deletion={"granularities": ["pixel", "pixel"]}), "metrics.deletion.granularities",
     "'pixel'"),
    (lambda c: c["metrics"]["masking_robustness"].update(explainers=["grad", "grad"]),
     "metrics.masking_robustness.explainers", "'grad'"),
    (lambda c: c.update(analysis={"blur": {"explainers": ["grad", "grad"]}}), "analysis.blur.explainers", "'grad'"),
    (lambda c: c.update(analysis={"blur": {"metrics": ["insertion", "insertion"]}}), "analysis.blur.metrics",
     "'insertion'"),
    (lambda c: c["datasets"]["shapes"].update(models=["lenet", "lenet"]), "datasets.shapes.models", "'lenet'"),
])
def test_duplicate_values_name_the_key_and_the_value(cfg, mutate, key, value):
    msg = _error(cfg, mutate)
    assert key in msg and f"lists {value} more than once" in msg


def test_rise_keep_probability_must_be_below_one(cfg):
    msg = _error(cfg, lambda c: c["explainers"].update(rise={"p": 1}))
    assert "explainers.rise.p = 1 must be < 1" in msg and "constant" in msg
    cfg["explainers"]["rise"] = {"p": 0.99}
    check_config(cfg)


def test_shapley_ks_must_leave_top_and_bottom_different(cfg):
    msg = _error(cfg, lambda c: c["metrics"]["shapley_bias"].update(ks=[50, 100]))
    assert "metrics.shapley_bias.ks.1 = 100 must be < 100" in msg and "same set" in msg
    # 32 px in 16-px cells: 4 players; 90% of 4 rounds to all 4, the top and bottom sets coincide
    msg = _error(cfg, lambda c: c["metrics"]["shapley_bias"].update(cell=16, ks=[10, 90]))
    assert "metrics.shapley_bias.ks" in msg and "k = 90" in msg and "4 players" in msg and "'shapes'" in msg
    cfg["metrics"]["shapley_bias"].update(ks=[10, 50, 70, 90, 99])  # 4x4-px cells: 64 players
    check_config(cfg)


def test_antithetic_walks_come_in_pairs(cfg):
    msg = _error(cfg, lambda c: c["metrics"]["shapley_bias"].update(samples=25))
    assert "metrics.shapley_bias.samples = 25" in msg and "even" in msg


def test_masking_robustness_explainers_must_be_study_explainers(cfg):
    def not_in_study(c):
        del c["explainers"]["lime"]
        c["metrics"]["masking_robustness"]["explainers"] = ["grad", "lime"]

    msg = _error(cfg, not_in_study)
    assert "metrics.masking_robustness.explainers" in msg and "'lime'" in msg and "occlusion" in msg
    msg = _error(cfg, lambda c: c["metrics"]["masking_robustness"].update(explainers=[]))
    assert "metrics.masking_robustness.explainers is empty" in msg


def test_mutual_verification_needs_two_explainers(cfg):
    def one(c):
        c["explainers"] = {"grad": None}
        c["metrics"] = {"mutual_verification": None}

    msg = _error(cfg, one)
    assert "metrics.mutual_verification" in msg and "has 1 (grad)" in msg


def test_a_metric_must_score_something(cfg):
    msg = _error(cfg, lambda c: c["metrics"].update(average_drop={"real": False, "percentiles": []}))
    assert "metrics.average_drop scores no configuration" in msg


@pytest.mark.parametrize("primary, key, choices", [
    ({"insertoin": "mean"}, "analysis.primary.insertoin", "insertion"),
    ({"insertion": "mean+pxel"}, "analysis.primary.insertion = 'mean+pxel'", "uniform+region"),
    ({"insertion": "uniform+pixel+s0"}, "analysis.primary.insertion", "blur+pixel"),
    ({"average_drop": "p60"}, "analysis.primary.average_drop = 'p60'", "p50, p70"),
    ({"unexplainable_features": 0.2}, "analysis.primary.unexplainable_features = 0.2", "0.05, 0.1"),
    ({"shapley_bias": "top+20"}, "analysis.primary.shapley_bias", "bottom+90"),
    ({"masking_robustness": "middle"}, "analysis.primary.masking_robustness", "left, right, top, bottom"),
    ({"mutual_verification": "grad_cam"}, "analysis.primary.mutual_verification", "gradcam"),
])
def test_primary_must_be_a_metric_and_a_configuration_it_has(cfg, primary, key, choices):
    msg = _error(cfg, lambda c: c.update(analysis={"primary": primary}))
    assert key in msg and choices in msg
    assert ("does not score" if "insertoin" in key else "valid choices: mean, ") in msg


def test_primary_configurations_accepted(cfg):
    cfg["analysis"] = {"primary": {"insertion": "uniform+region", "deletion": "mean", "average_drop": "p90",
                                   "unexplainable_features": 0.1, "shapley_bias": "top+10",
                                   "mutual_verification": "edge", "pointing_game": "default"}}
    check_config(cfg)
    assert cfg["analysis"]["primary"]["unexplainable_features"] == "0.1"  # the configuration's name
    cfg["metrics"]["insertion"]["granularities"] = ["region"]  # mean+pixel is no longer scored
    cfg["analysis"]["primary"] = {"insertion": "mean+pixel"}
    with pytest.raises(HeatcheckError, match="mean, mean\\+region, blur\\+region, uniform\\+region$"):
        check_config(cfg)


def test_primary_choices_are_the_metrics_own_configurations():
    """The config check's list comes from the metric classes' declaration (one source)."""
    from heatcheck.metric_configs import SEED_SUFFIX, config_keys
    from heatcheck.metrics import METRICS, make_metric

    schema = load_schema()["properties"]["metrics"]["properties"]
    for name in (n for n in METRICS.names() if METRICS.get(n).per_explainer):
        params = {}
        check_config({"datasets": {"d": {"kind": "shapes"}}, "models": {"m": {"arch": "resnet8"}},
                      "explainers": {"grad": None, "edge": None}, "metrics": {name: params}})
        m = make_metric(name, params)
        assert [m.config_key(c) for c in m.configurations()] == config_keys(name, params), name
        assert name in schema
    assert SEED_SUFFIX.sub("", "uniform+region+s12") == "uniform+region"


@pytest.mark.parametrize("mutate, says", [
    (lambda c: c["explainers"].update(occlusion={"window": 40}), "explainers.occlusion.window = 40 is larger than the image side (32)"),
    (lambda c: c["explainers"].update(occlusion={"window": 4, "stride": 6}), "explainers.occlusion.stride = 6 is larger than the window (4)"),
    (lambda c: c["explainers"].update(rise={"grid": 33}), "explainers.rise.grid = 33 is larger than the image side (32)"),
    (lambda c: c["explainers"].update(lime={"segments": 1025}), "explainers.lime.segments = 1025 is larger than the pixels (1024)"),
    (lambda c: c["metrics"]["insertion"].update(region=33), "metrics.insertion.region = 33 is larger than the image side (32)"),
    (lambda c: c["metrics"]["deletion"].update(blur_kernel=64), "metrics.deletion.blur_kernel = 64 is larger than the image side (32)"),
    (lambda c: c["metrics"]["insertion"].update(step_pixels=1024), "metrics.insertion.step_pixels = 1024 is larger than the pixels minus 1 (1023)"),
    (lambda c: c["metrics"]["shapley_bias"].update(cell=32), "metrics.shapley_bias.cell = 32 is larger than the image side minus 1 (31)"),
    (lambda c: c.update(analysis={"blur": {"kernel": 40}}), "analysis.blur.kernel = 40 is larger than the image side (32)"),
])
def test_size_parameters_larger_than_the_image_are_refused(cfg, mutate, says):
    msg = _error(cfg, mutate)
    assert says in msg and "dataset 'shapes' (32x32 px)" in msg


def test_size_defaults_are_checked_at_their_scaled_value(cfg):
    """A stride left at null is 8 px at 224 px: larger than a 4-px window there, not at 32 px."""
    cfg["explainers"]["occlusion"] = {"window": 4}
    check_config(copy.deepcopy(cfg))
    msg = _error(cfg, lambda c: c["datasets"]["shapes"].update(size=224))
    assert "explainers.occlusion.stride = 8 is larger than the window (4)" in msg and "224x224" in msg


def test_sizes_are_checked_against_each_datasets_side(cfg):
    """CIFAR-10 has no size key: its 32 px are known without the data."""
    cfg["explainers"] = {"occlusion": {"window": 48}}
    cfg.pop("trust")  # it names config.yaml's explainers
    cfg["metrics"] = {}
    cfg["datasets"]["shapes"]["size"] = 64
    check_config(copy.deepcopy(cfg))
    cfg["datasets"]["cifar"] = {"kind": "cifar10", "root": "/data/cifar", "models": ["lenet"]}
    msg = _error(cfg, lambda c: None)
    assert "explainers.occlusion.window = 48" in msg and "'cifar'" in msg and "32x32" in msg


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["explainers"].update(meaningful_perturbation={"blur_sigma": 0}),
     "explainers.meaningful_perturbation.blur_sigma = 0 must be > 0"),
    (lambda c: c["datasets"]["shapes"].update(distractors=[3, 1]), "datasets.shapes.distractors"),
    # a model loaded, not trained: an imagenet folder has no train split
    (lambda c: (c["models"].update(r50={"arch": "resnet50", "source": "pretrained"}),
                c["datasets"].update(inet={"kind": "imagenet", "root": "/data", "resize": 200, "models": ["r50"]})),
     "datasets.inet.size = 224 is larger than datasets.inet.resize = 200"),
])
def test_other_nonsense_is_refused(cfg, mutate, key):
    msg = _error(cfg, mutate)
    assert key in msg


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


def _trust_study(trust, models=None):
    return {"datasets": {"s": {"kind": "shapes", "size": 32, "n_eval": 8, "n_train": 12, "models": ["net"]}},
            "models": models or {"net": {"arch": "resnet8"}},
            "explainers": {"grad": None, "gradcam": None, "random": None},
            "metrics": {"deletion": None, "masking_robustness": None, "shapley_bias": None}, "trust": trust,
            "analysis": {"blur": {"explainers": []}}}


def test_trust_arrays_from_the_config():
    from heatcheck.config import metric_explainers, trust_arrays

    cfg = check_config(_trust_study({"randomization": {"explainers": None}, "noise": {"explainers": None, "draws": 2}}))
    arrays = trust_arrays(cfg, "net")
    # every explainer but the control, at each of ResNet-8's 19 layers with parameters / 2 copies
    assert arrays["randomized"][:2] == ["grad+randomized1", "grad+randomized2"] and len(arrays["randomized"]) == 38
    assert arrays["noisy"] == ["grad+noisy0", "grad+noisy1", "gradcam+noisy0", "gradcam+noisy1"]
    assert metric_explainers(cfg, "deletion") == ["grad", "gradcam", "random"]
    assert metric_explainers(cfg, "deletion", "net") == ["grad", "gradcam", "random", *arrays["randomized"], *arrays["noisy"]]
    assert metric_explainers(cfg, "masking_robustness", "net") == ["grad", "gradcam", "random"]
    assert metric_explainers(cfg, "shapley_bias", "net") == ["grad", "gradcam", "random", *arrays["randomized"]]
    # off by default: no explainer named
    cfg = check_config(_trust_study({}))
    assert cfg["trust"]["noise"] == {"explainers": [], "draws": 5, "sigma": 0.001}
    assert trust_arrays(cfg, "net") == {"randomized": [], "noisy": []}


def test_trust_settings_that_cannot_work_are_refused():
    def error(trust, models=None):
        with pytest.raises(HeatcheckError) as exc:
            check_config(_trust_study(trust, models))
        return str(exc.value)

    assert "trust.randomization.layers = 20" in error({"randomization": {"explainers": ["grad"], "layers": 20}})
    assert "trust.noise.explainers names 'lime'" in error({"noise": {"explainers": ["grad", "lime"]}})
    assert "at least 2" in error({"noise": {"explainers": ["grad"], "draws": 1}})
    loaded = {"net": {"torchscript": __file__}}  # any existing file: the check runs before it is read
    assert "trust.randomization.layers must be given" in error({"randomization": {"explainers": ["grad"]}}, loaded)


def test_layer_counts_match_the_models():
    from heatcheck.archs import ARCHS
    from heatcheck.models import MODELS, build_model
    from heatcheck.sanity import parametrized_layers

    for arch in MODELS.names():
        size = 64 if ARCHS[arch]["torchvision"] else 32
        assert len(parametrized_layers(build_model(arch, 7, size))) == ARCHS[arch]["layers"], arch


def test_primary_params_score_the_primary_configuration_alone():
    """The report card's reruns are scored with primary_params: exactly the primary configuration
    of each metric, under the same name (what the card reads), at a fraction of the passes."""
    from heatcheck.costs import metric_passes
    from heatcheck.metric_configs import config_keys, primary_config, primary_params
    from heatcheck.metrics import METRICS, make_metric

    full = {"insertion": {"steps": 10, "uniform_seeds": 2}, "average_drop": {}, "unexplainable_features": {}}
    for metric, params in full.items():
        reduced = primary_params(metric, params)
        m = make_metric(metric, reduced)
        declared = METRICS.get(metric).primary  # the class's declaration, read by every stage
        assert [m.config_key(c) for c in m.configurations()] == config_keys(metric, reduced) == [declared]
        assert primary_config(metric) == declared != "mean"
        assert metric_passes(metric, reduced, 32) < metric_passes(metric, params, 32)
    assert config_keys("average_drop", primary_params("average_drop", {}, {"average_drop": "p90"})) == ["p90"]
    uniform = primary_params("deletion", {"uniform_seeds": 3}, {"deletion": "uniform+region"})
    assert config_keys("deletion", uniform) == ["uniform+region+s0", "uniform+region+s1", "uniform+region+s2"]
    # a primary that is the mean of the configurations, or a metric of one, keeps the parameters
    assert primary_params("insertion", {"steps": 5}, {"insertion": "mean"}) == {"steps": 5}
    assert primary_params("road_morf", {"noise": 0.1}) == {"noise": 0.1}


def test_a_metrics_declared_primary_configuration_is_what_the_stages_read(monkeypatch):
    """One declaration: the class's ``primary`` picks the reruns' parameters and the analyses'
    column alike."""
    import pandas as pd

    from heatcheck.analysis.reliability import primary_configs
    from heatcheck.metric_configs import config_keys, primary_params
    from heatcheck.metrics import METRICS

    scores = pd.DataFrame({"metric": ["average_drop"] * 3, "config": ["real", "p50", "p90"]})
    assert primary_configs(scores) == {"average_drop": "real"}
    monkeypatch.setattr(METRICS.get("average_drop"), "primary", "p90")
    assert primary_configs(scores) == {"average_drop": "p90"}
    assert config_keys("average_drop", primary_params("average_drop", {"percentiles": [50, 90]})) == ["p90"]
    assert primary_configs(scores, {"average_drop": "p50"}) == {"average_drop": "p50"}  # the config's override
