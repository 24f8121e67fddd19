"""The method classes' declarations (heatcheck.methods) are the one source of their facts."""

import dataclasses
import subprocess
import sys

import pytest

from heatcheck import HeatcheckError
from heatcheck.config import check_config, load_schema
from heatcheck.methods import Method, Param

STUDY = {"shard_size": 4,
         "datasets": {"s": {"kind": "shapes", "size": 32, "n_eval": 4, "n_train": 12, "models": ["net"]}},
         "models": {"net": {"arch": "lenet", "epochs": 1}}}


def test_param_schema_and_range_text():
    p = Param("steps", "integer", 50, "steps", minimum=1)
    assert p.schema() == {"type": "integer", "minimum": 1, "default": 50, "description": "steps"}
    assert p.range_text() == ">= 1"
    q = Param("p", "number", 0.1, exclusive_minimum=0, exclusive_maximum=1)
    assert q.range_text() == "(0, 1)"
    w = Param("window", "integer", None, minimum=1, nullable=True)
    assert w.schema()["type"] == ["integer", "null"] and w.range_text() == ">= 1, null"
    c = Param("rule", choices=("epsilon", "alpha_beta"), default="epsilon")
    assert c.schema()["enum"] == ["epsilon", "alpha_beta"] and "type" not in c.schema()
    with pytest.raises(TypeError, match="type 'float'"):
        Param("x", "float", 1.0)


def test_needs_are_checked_and_give_the_flags():
    class Mine(Method):
        needs = ("layer", "gradients")

    assert Mine.needs_layer and Mine.needs_gradients and not Mine.needs_gap_fc
    with pytest.raises(TypeError, match="needs names \\['gpu'\\]"):
        type("Bad", (Method,), {"needs": ("gpu",)})


def test_schema_sections_are_the_declarations():
    from heatcheck.explainers import EXPLAINERS
    from heatcheck.metrics import METRICS

    schema = load_schema()["properties"]
    for section, registry in (("explainers", EXPLAINERS), ("metrics", METRICS)):
        props = schema[section]["properties"]
        assert sorted(props) == registry.names()
        for name in registry.names():
            cls = registry.get(name)
            assert props[name] == cls.schema()
            assert {k: v["default"] for k, v in props[name]["properties"].items()} == cls.defaults()
    # the static file carries no method parameters of its own (no copy to drift)
    from heatcheck.config import SCHEMA_PATH, load_yaml

    static = load_yaml(SCHEMA_PATH)["properties"]
    assert all("properties" not in static[section] for section in ("explainers", "metrics"))


def test_a_default_changed_in_the_class_changes_validation_costs_and_computation(monkeypatch):
    """RISE's number of masks is declared once: change it there and the filled config, the cost
    report's pass count and the explainer's own forward passes all follow."""
    import torch

    from heatcheck.costs import study_passes
    from heatcheck.explainers import make_explainer
    from heatcheck.explainers.perturbation import RISE
    from heatcheck.models import build_model

    params = tuple(dataclasses.replace(p, default=7) if p.name == "masks" else p for p in RISE.params)
    monkeypatch.setattr(RISE, "params", params)
    cfg = check_config({**STUDY, "explainers": {"rise": None}})
    assert cfg["explainers"]["rise"]["masks"] == 7  # validation fills the declared default
    rows = {(r["stage"], r["item"]): r for r in study_passes(cfg)}
    assert rows[("saliency", "rise")]["fwd"] == 7 and rows[("saliency", "rise")]["fwd_total"] == 28

    model = build_model("lenet", 6, 32).eval()
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append(len(i[0])))
    x = torch.randn(2, 3, 32, 32)
    for given in (cfg["explainers"]["rise"], {}):  # the job's filled params, and none (by hand)
        seen.clear()
        explainer = make_explainer("rise", model, given, batch_size=1000)
        assert explainer.n_masks == 7
        explainer.attribute(x, torch.tensor([0, 1]))
        assert sum(seen) == 2 * 7  # what the cost report counted: 7 forward passes per image


def test_declarations_stay_torch_free_through_a_dry_run(root, tmp_path):
    """Importing the registries, checking a config of every method, the cost report and a
    Snakemake dry run of the tiny study never import torch (they run on login nodes)."""
    code = f"""
import sys
import heatcheck.explainers, heatcheck.metrics
from heatcheck.explainers import EXPLAINERS
from heatcheck.metrics import METRICS
from heatcheck.config import check_config
from heatcheck.costs import study_passes
from heatcheck.cost_report import main as cost_report
cfg = {{"datasets": {{"s": {{"kind": "shapes"}}}}, "models": {{"m": {{"arch": "resnet8"}}}},
       "explainers": {{e: None for e in EXPLAINERS.names()}}, "metrics": {{m: None for m in METRICS.names()}}}}
study_passes(check_config(cfg))
cost_report([{str(root / 'tests/workflow/tiny.yaml')!r}])
assert "torch" not in sys.modules, "torch imported by the checks"
from snakemake.cli import main
sys.argv = ["snakemake", "-s", {str(root / 'Snakefile')!r}, "--directory", {str(tmp_path)!r}, "--configfile",
            {str(root / 'tests/workflow/tiny.yaml')!r}, "-n", "--quiet", "--cores", "1"]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
assert "torch" not in sys.modules, "torch imported by the dry run"
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


def test_a_plugin_declaration_that_fails_is_refused_naming_the_entry(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.py").write_text(
        "from heatcheck.explainers import Explainer\n"
        "class NoPasses(Explainer):\n"
        "    pass\n")
    with pytest.raises(HeatcheckError, match="explainers.mine: .*NoPasses's declaration fails .*passes"):
        check_config({**STUDY, "explainers": {"mine": {"class": "broken.py:NoPasses"}}})
