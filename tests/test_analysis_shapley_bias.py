"""The second paper's Shapley-bias table: the Shapley-bias table marks the explainers whose maps
are not signed, and the bias figure draws them apart."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatcheck.analysis.tables import shapley_bias_table
from heatcheck.plots import objectiveness
from conftest import write_tiny_study

EXPLAINERS = {"grad": {}, "edge": {}, "rise": {"masks": 64}, "gradient_x_input": {}}


@pytest.fixture(scope="module")
def bias_scores(tmp_path_factory):
    """shapley_bias scores of four explainers on a 10-image study, through the real stages:
    saliency shards, the Shapley store, score shards, merged tables."""
    from heatcheck.saliency import compute_shard
    from heatcheck.scoring import score_shard, shapley_shard
    from heatcheck.shards import finalize, init_saliency
    from heatcheck.tables import merge_scores

    d = write_tiny_study(tmp_path_factory.mktemp("bias"), n_train=12)
    params = {"samples": 2, "cell": 8, "ks": [10, 50]}
    shapley = [d / f"sh{s}.npz" for s in range(3)]
    for s, p in enumerate(shapley):
        shapley_shard(d / "images.zarr", d / "m.pt", params, s, 4, p)
    tables = []
    for name, explainer_params in EXPLAINERS.items():
        arr = d / f"{name}.zarr"
        init_saliency(d / "images.zarr", d / "m.pt", arr, name, explainer_params, 4, None)
        reports = [d / f"{name}.{s}.json" for s in range(3)]
        for s, r in enumerate(reports):
            compute_shard(d / "images.zarr", d / "m.pt", arr, name, explainer_params, s, 4, report_path=r)
        finalize(arr, reports, d / f"{name}.json")
        shards = [d / f"{name}.b{s}.npz" for s in range(3)]
        for s, p in enumerate(shards):
            score_shard(d / "images.zarr", d / "m.pt", reports[s], "shapley_bias", params, p,
                        extras={"shapley": shapley[s]})
        tables.append(merge_scores(shards, d / "images.zarr", "shapes", "lenet", name, d / f"{name}.parquet"))
    return pd.concat(tables, ignore_index=True)


def test_shapley_bias_table_marks_unsigned_maps(bias_scores):
    t = shapley_bias_table(bias_scores, n_boot=50)
    assert len(t) == 4 * 2 * 2 and (t.n == 10).all()
    per = t.drop_duplicates("explainer").set_index("explainer")
    assert per.signed.to_dict() == {"grad": False, "edge": False, "rise": False, "gradient_x_input": True}
    # the declarations agree with what the maps contain
    assert per.declared_signed.to_dict() == per.signed.to_dict()
    assert (per.negative_share[["grad", "edge", "rise"]] == 0).all() and per.negative_share["gradient_x_input"] > 0
    top10 = t[(t.explainer == "grad") & (t.side == "top") & (t.k == 10)].iloc[0]
    scores = bias_scores[(bias_scores.explainer == "grad") & (bias_scores.config == "top+10")].score
    assert np.isclose(top10["mean"], scores.mean()) and top10.ci_low <= top10["mean"] <= top10.ci_high


def test_undeclared_explainers_are_judged_by_their_maps(bias_scores):
    s = bias_scores.copy()
    s["declared_signed"] = np.nan  # e.g. a plugin that declares nothing
    per = shapley_bias_table(s, n_boot=0).drop_duplicates("explainer").set_index("explainer")
    assert per.signed.to_dict() == {"grad": False, "edge": False, "rise": False, "gradient_x_input": True}
    assert per.declared_signed.isna().all()


def test_bias_figure_draws_unsigned_explainers_dashed(bias_scores, tmp_path, monkeypatch):
    t = shapley_bias_table(bias_scores, n_boot=0)
    t.to_csv(tmp_path / "shapley_bias.csv", index=False)
    drawn = {}

    def capture(fig, out):
        drawn["lines"] = [(ln.get_label(), ln.get_linestyle()) for ax in fig.axes for ln in ax.get_lines()]
        drawn["title"] = fig._suptitle.get_text()

    monkeypatch.setattr(objectiveness, "save", capture)
    objectiveness.plot_bias_curves(tmp_path / "shapley_bias.csv", tmp_path / "bias.png")
    styles = dict(drawn["lines"])
    assert len(drawn["lines"]) == 2 * 4  # top and bottom rows, one model
    assert styles == {"grad (unsigned)": "--", "edge (unsigned)": "--", "rise (unsigned)": "--",
                      "gradient_x_input": "-"}
    assert "dashed: maps without negative values" in drawn["title"]
