"""The scoring stage: shard results -> long tables, curves, summary with bootstrap CI."""

import numpy as np
import pandas as pd
import pytest
import torch
import zarr

from heatcheck import HeatcheckError
from heatcheck.data import load_dataset
from heatcheck.metrics import make_metric
from heatcheck.models import build_model, load_checkpoint, normalize, save_checkpoint
from heatcheck.saliency import compute_shard
from heatcheck.scoring import score_shard
from heatcheck.shards import finalize, init_saliency
from heatcheck.store import DatasetStore, write_dataset
from heatcheck.tables import bootstrap_ci, collect, merge_curves, merge_scores
from test_data import shapes_spec


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    d = tmp_path_factory.mktemp("score")
    data = load_dataset(shapes_spec(n_train=12, n_eval=10))
    write_dataset(d / "images.zarr", data, "shapes")
    torch.manual_seed(0)
    save_checkpoint(d / "m.pt", build_model("lenet", 6, 32).eval(), "lenet", 6, 32, data.mean, data.std)
    arr = d / "sal.zarr"
    init_saliency(d / "images.zarr", d / "m.pt", arr, "edge", {}, 4, None)
    reports = []
    for s in range(3):
        compute_shard(d / "images.zarr", d / "m.pt", arr, "edge", {}, s, 4, report_path=d / f"r{s}.json")
        reports.append(d / f"r{s}.json")
    finalize(arr, reports, d / "sal.json")
    params = {"steps": 5, "uniform_seeds": 2, "baselines": ["mean", "uniform"], "granularities": ["pixel"]}
    shards = []
    for s in range(3):
        shards.append(d / f"del{s}.npz")
        score_shard(d / "images.zarr", d / "m.pt", arr, "deletion", params, s, 4, shards[-1], seed=1)
    return d, arr, params, shards


def test_tables_equal_the_metric_called_directly(scored):
    d, arr, params, shards = scored
    table = merge_scores(shards, d / "images.zarr", "shapes", "lenet", "edge", d / "del.parquet")
    assert len(table) == 10 * 3 and list(table.config.unique()) == ["mean+pixel", "uniform+pixel+s0", "uniform+pixel+s1"]
    assert set(table.baseline) == {"mean", "uniform"} and not table.higher_is_better.any()
    st = DatasetStore(d / "images.zarr")
    model, _ = load_checkpoint(d / "m.pt")
    x = normalize(torch.from_numpy(st.split("eval").images[:]), st.mean, st.std)
    maps = torch.from_numpy(zarr.open_array(str(arr))[:])
    direct = make_metric("deletion", params, seed=1)(model, x, maps, torch.from_numpy(st.split("eval").labels[:]),
                                                     index=torch.arange(10))
    got = table.pivot(index="image_index", columns="config", values="score")[["mean+pixel", "uniform+pixel+s0", "uniform+pixel+s1"]]
    assert np.allclose(got.to_numpy(), direct.scores, atol=1e-6)
    assert table.image_id.iloc[0] == "shapes-eval-000000" and (table.label == table.target).all()
    pd.testing.assert_frame_equal(pd.read_parquet(d / "del.parquet"), table)


def test_curves_array(scored):
    d, _, _, shards = scored
    merge_curves(shards, d / "curves.zarr")
    c = zarr.open_array(str(d / "curves.zarr"), mode="r")
    assert c.shape == (10, 3, 6) and c.attrs["dims"] == ["image", "configuration", "point"]
    table = pd.read_parquet(d / "del.parquet") if (d / "del.parquet").exists() else None
    if table is not None:
        first = table[table.config == "mean+pixel"].sort_values("image_index").score.to_numpy()
        area = ((c[:, 0, 1:] + c[:, 0, :-1]) / 2).sum(1) / 5
        assert np.allclose(first, area, atol=1e-6)


def test_collect_summary_with_bootstrap_ci(scored, tmp_path):
    d, _, _, shards = scored
    merge_scores(shards, d / "images.zarr", "shapes", "lenet", "edge", tmp_path / "a.parquet")
    s = collect([tmp_path / "a.parquet"], tmp_path / "all.parquet", tmp_path / "summary.csv")
    assert len(s) == 3 and (s.n == 10).all()
    assert ((s.ci_low <= s["mean"]) & (s["mean"] <= s.ci_high)).all()
    assert pd.read_csv(tmp_path / "summary.csv").shape == (3, 9)


def test_bootstrap_ci_covers_and_shrinks():
    rng = np.random.default_rng(0)
    small, big = rng.normal(1, 1, 30), rng.normal(1, 1, 3000)
    lo, hi = bootstrap_ci(small)
    lo2, hi2 = bootstrap_ci(big)
    assert lo < 1 < hi and lo2 < 1 < hi2 and (hi2 - lo2) < (hi - lo) / 5
    assert np.isnan(bootstrap_ci([1.0])[0])


def test_box_metric_refused_on_store_without_boxes(scored, tmp_path):
    d, arr, _, _ = scored
    data = load_dataset(shapes_spec(n_train=12, n_eval=10))
    for s in data.splits.values():
        s.boxes = None
    write_dataset(tmp_path / "images.zarr", data, "shapes")
    with pytest.raises(HeatcheckError, match="'pointing_game' needs object boxes"):
        score_shard(tmp_path / "images.zarr", d / "m.pt", arr, "pointing_game", {}, 0, 4, tmp_path / "x.npz")
