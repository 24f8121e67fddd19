"""Your own explainer or metric: a config entry's ``class:`` or an installed entry point
(heatcheck.plugins), declared and validated like a built-in."""

import subprocess
import sys
import textwrap

import pytest
import torch

from heatcheck import HeatcheckError
from heatcheck.config import check_config
from heatcheck.costs import study_passes
from heatcheck.example_methods import GradPower, KeepTop

STUDY = {"shard_size": 4,
         "datasets": {"s": {"kind": "shapes", "size": 32, "n_eval": 4, "n_train": 12, "models": ["net"]}},
         "models": {"net": {"arch": "lenet", "epochs": 1}}}
EXPLAINER = "heatcheck.example_methods:GradPower"
METRIC = "heatcheck.example_methods:KeepTop"


def study(explainers=None, metrics=None):
    import copy

    return {**copy.deepcopy(STUDY), "explainers": explainers or {"grad": None}, "metrics": metrics or {}}


def _error(cfg) -> str:
    with pytest.raises(HeatcheckError) as e:
        check_config(cfg)
    return str(e.value)


def test_a_class_by_import_path_is_validated_from_its_declaration_and_counted():
    cfg = check_config(study({"mine": {"class": EXPLAINER}}, {"top": {"class": METRIC, "shares": [0.25]}}))
    assert cfg["explainers"]["mine"] == {"class": EXPLAINER, "power": 2.0}  # its declared default
    rows = {(r["stage"], r["item"]): r for r in study_passes(cfg)}
    assert (rows[("saliency", "mine")]["fwd"], rows[("saliency", "mine")]["bwd"]) == (1.0, 1.0)
    assert rows[("metrics", "top")]["fwd_total"] == 1 * 4  # 1 share x 4 images x 1 explainer
    from heatcheck.config import primary_choices

    assert primary_choices("top", cfg["metrics"]["top"]) == ["mean", "0.25"]


@pytest.mark.parametrize("entry, message", [
    ({"class": "nosuch_module:Thing"}, "config key explainers.mine.class: plugin module nosuch_module does not import "
                                       "(ModuleNotFoundError"),
    ({"class": "heatcheck.example_methods:Missing"}, "config key explainers.mine.class: heatcheck.example_methods "
                                                     "has no class 'Missing'"),
    ({"class": "no/such/file.py:Thing"}, "config key explainers.mine.class: plugin file no/such/file.py does not exist"),
    ({"class": "not a path"}, "config key explainers.mine.class = 'not a path' must be"),
    ({"class": METRIC}, "config key explainers.mine.class = 'heatcheck.example_methods:KeepTop' is <class "
                        "'heatcheck.example_methods.KeepTop'>, not a subclass of heatcheck.explainers.Explainer"),
    ({"class": EXPLAINER, "powr": 3}, "unknown config key explainers.mine.powr; valid keys here: class, power"),
    ({"class": EXPLAINER, "power": 0.5}, "config key explainers.mine.power = 0.5 must be >= 1"),
])
def test_bad_plugin_entries_are_refused_naming_the_entry(entry, message):
    assert message in _error(study({"mine": entry}))


def test_bad_plugin_metric_is_refused_naming_the_entry():
    assert "not a subclass of heatcheck.metrics.Metric" in _error(study(metrics={"m": {"class": EXPLAINER}}))
    assert "config key metrics.m.shares.0 = 2 must be <= 1" in _error(study(metrics={"m": {"class": METRIC,
                                                                                         "shares": [2]}}))


def test_a_file_plugin_is_found_from_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        from heatcheck.explainers import Explainer, Param

        class Flat(Explainer):
            \"\"\"A constant map.\"\"\"
            params = (Param("value", "number", 1.0, "the map's value"),)

            @classmethod
            def passes(cls, params, side):
                return 0.0, 0.0

            def attribute(self, x, targets, index=None):
                import torch
                return torch.full((len(x), *x.shape[-2:]), float(self.params["value"]))
    """))
    monkeypatch.chdir(tmp_path)
    cfg = check_config(study({"flat": {"class": "mine.py:Flat", "value": 3}}))
    from heatcheck.explainers import make_explainer
    from heatcheck.models import build_model

    e = make_explainer("flat", build_model("lenet", 6, 32), cfg["explainers"]["flat"])
    assert torch.equal(e.attribute(torch.zeros(2, 3, 32, 32), torch.tensor([0, 1])), torch.full((2, 32, 32), 3.0))


def _dist(where, name: str, group: str, value: str, code: str) -> None:
    """A real installed distribution (dist-info with entry points) on ``where``."""
    (where / f"{name}.py").write_text(code)
    info = where / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{value}\n")


def test_entry_points_register_methods_by_name(tmp_path, monkeypatch):
    _dist(tmp_path, "hc_demo", "heatcheck.explainers", "demo = hc_demo:Demo",
          "from heatcheck.example_methods import GradPower\n\nclass Demo(GradPower):\n    pass\n")
    _dist(tmp_path, "hc_broken", "heatcheck.metrics", "broken = hc_broken:Nothing", "raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = check_config(study({"demo": {"power": 3}}))
    assert cfg["explainers"]["demo"] == {"power": 3}
    assert {r["item"] for r in study_passes(cfg) if r["stage"] == "saliency"} == {"demo"}
    msg = _error(study(metrics={"broken": None}))
    assert "config key metrics.broken (entry point 'hc_broken:Nothing'" not in msg  # the load failed first
    assert "config key metrics.broken: entry point 'hc_broken:Nothing' (group heatcheck.metrics) does not load " \
           "(RuntimeError: boom)" in msg
    # a name that is nothing: the schema's message, listing the valid names
    msg = _error(study({"nothing": None}))
    assert "unknown config key explainers.nothing; valid keys here: cam, deepshap, edge" in msg
    assert "or the name of an installed entry point of group heatcheck.explainers (installed: demo)" in msg


def test_a_plugin_that_imports_no_torch_keeps_the_checks_torch_free(tmp_path):
    code = ("import sys\nfrom heatcheck.config import check_config\nfrom heatcheck.costs import study_passes\n"
            f"cfg = {study({'mine': {'class': EXPLAINER}}, {'top': {'class': METRIC}})!r}\n"
            "study_passes(check_config(cfg))\nassert 'torch' not in sys.modules\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_example_methods_compute_their_definitions():
    from heatcheck.batching import input_gradient
    from heatcheck.models import build_model

    torch.manual_seed(0)
    model = build_model("lenet", 6, 32).eval()
    x, t = torch.randn(3, 3, 32, 32), torch.tensor([0, 1, 2])
    maps = GradPower(model, power=3).attribute(x, t)
    assert torch.allclose(maps, input_gradient(model, x, t, 8).abs().pow(3).sum(1))
    # KeepTop: with share 1 every pixel is kept (the image's own probability)
    res = KeepTop(shares=[1.0, 0.5])(model, x, maps, t)
    p = model(x).softmax(1).gather(1, t[:, None]).squeeze(1)
    assert res.scores.shape == (3, 2) and torch.allclose(torch.from_numpy(res.scores[:, 0]), p.detach(), atol=1e-6)
    assert KeepTop.fill({}) == {"shares": [0.1, 0.5]} and GradPower.passes({}, 32) == (1.0, 1.0)


def test_a_plugin_whose_needs_the_model_lacks_stops_its_first_shard(tmp_path):
    """LeNet has no global average pooling + linear layer: a plugin declaring gap_fc is refused by
    its saliency job, naming the entry, before it writes a map."""
    from conftest import write_tiny_study
    from heatcheck.saliency import compute_shard
    from heatcheck.shards import init_saliency

    write_tiny_study(tmp_path, n_eval=4)
    (tmp_path / "cam_like.py").write_text(
        "from heatcheck.example_methods import GradPower\n\n"
        "class CamLike(GradPower):\n"
        "    needs = ('gradients', 'gap_fc')\n")
    params = {"class": f"{tmp_path / 'cam_like.py'}:CamLike", "power": 2.0}
    arr = tmp_path / "cam_like.zarr"
    init_saliency(tmp_path / "images.zarr", tmp_path / "m.pt", arr, "cam_like", params, 4, None)
    with pytest.raises(HeatcheckError, match="config key explainers.cam_like .*CamLike.* is not applicable to this "
                                             "model: it needs global average pooling"):
        compute_shard(tmp_path / "images.zarr", tmp_path / "m.pt", arr, "cam_like", params, 0, 4)
    report = compute_shard(tmp_path / "images.zarr", tmp_path / "m.pt", arr, "cam_like",
                           {**params, "class": EXPLAINER}, 0, 4, report_path=tmp_path / "r.json")
    assert report["signed"] is False and report["stop"] == 4  # GradPower itself needs no GAP


def test_a_plugin_metric_may_score_the_blurred_copies():
    cfg = check_config({**study({"grad": None}, {"top": {"class": METRIC}}),
                        "analysis": {"blur": {"explainers": ["grad"], "metrics": ["top"]}}})
    from heatcheck.config import metric_explainers

    assert metric_explainers(cfg, "top") == ["grad", "grad+blur"]
    msg = _error({**study({"grad": None}, {"masking_robustness": None}),
                  "analysis": {"blur": {"metrics": ["masking_robustness"]}}})
    assert "analysis.blur.metrics.0 = 'masking_robustness' is not a valid choice" in msg


def test_a_user_file_imported_by_concurrent_jobs_is_whole_in_each(tmp_path):
    """Jobs run as threads of Snakemake's process: a second job must not see the file's module
    half executed (this failed as "has no function 'build'" before the import was locked)."""
    import threading

    from heatcheck.plugins import import_object

    (tmp_path / "slow_factory.py").write_text("import time\ntime.sleep(0.5)\n\ndef build():\n    return 42\n")
    path = f"{tmp_path / 'slow_factory.py'}:build"
    got, errors = [], []

    def job():
        try:
            got.append(import_object(path, "models.m.factory")())
        except Exception as exc:  # the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got == [42] * 4, errors
