"""Sparsity study: Gini index, KDE and the blurred copies, on maps of known sparsity."""

import json

import numpy as np
import pytest
import zarr

from heatcheck.analysis.sparsity import gini, relevance_kde, sparsity_tables
from heatcheck.derived import blur_maps, blur_params, blur_shard
from heatcheck.store import create_saliency, finalize_saliency, open_saliency


def _store(tmp_path, name, maps):
    path = tmp_path / f"{name}.zarr"
    create_saliency(path, len(maps), *maps.shape[1:], chunk=4,
                    attrs={"explainer": name, "targets": [0] * len(maps), "ids": [f"i{i}" for i in range(len(maps))]})
    zarr.open_array(str(path), mode="r+")[:] = maps
    finalize_saliency(path, {})
    marker = tmp_path / f"{name}.json"
    marker.write_text(json.dumps({"path": str(path)}))
    return marker


def _sparse(n=8, side=32, share=0.05, seed=0):
    rng = np.random.default_rng(seed)
    maps = np.zeros((n, side, side), np.float32)
    k = int(share * side * side)
    for m in maps:
        m.reshape(-1)[rng.choice(side * side, k, replace=False)] = 1.0
    return maps


def test_gini_by_hand():
    one_hot = np.zeros((1, 10, 10))
    one_hot[0, 3, 3] = 1
    assert gini(one_hot)[0] == pytest.approx(1 - 1 / 100)
    assert gini(np.ones((1, 10, 10)))[0] == pytest.approx(0.0)
    assert gini(_sparse(share=0.05))[0] == pytest.approx(0.95, abs=0.01)  # 5% of pixels hold it all
    assert np.isnan(gini(np.zeros((1, 4, 4)))[0])


def test_blur_spreads_relevance_and_keeps_the_scale():
    delta = np.zeros((1, 21, 21), np.float32)
    delta[0, 10, 10] = 5.0
    b = blur_maps(delta, kernel=11, sigma=2.0)
    assert b.max() == pytest.approx(1.0) and b.min() == pytest.approx(0.0)
    assert b[0, 10, 10] == b.max() and 0 < b[0, 10, 12] < 1 and b[0, 0, 0] == 0  # radius 5: corners untouched
    assert np.allclose(b[0], b[0].T) and np.allclose(b[0], b[0, ::-1])  # isotropic
    assert gini(b)[0] < gini(delta)[0]
    # defaults: 11 px / sigma 5 at 224 px, scaled with the image
    assert blur_params({}, 224) == (11, 5.0) and blur_params({"kernel": 7, "sigma": 1.5}, 32) == (7, 1.5)


def test_kde_of_sparse_maps_peaks_at_zero():
    grid = np.linspace(0, 1, 11)
    dens, why = relevance_kde(_sparse().reshape(-1), grid)
    assert why == "" and dens[0] > 10 * dens[5] and dens[-1] > dens[5]
    dens, why = relevance_kde(np.full(100, 0.3), grid)
    assert np.isnan(dens).all() and "constant" in why


def _shard_reports(path, n: int, chunk: int = 4) -> list:
    """The shard jobs' reports of a saliency array, in the workflow's layout."""
    from heatcheck.store import saliency_shard_reports

    folder = saliency_shard_reports(path)
    folder.mkdir(exist_ok=True)
    reports = []
    for k, start in enumerate(range(0, n, chunk)):
        stop = min(n, start + chunk)
        reports.append(folder / f"{k}.json")
        reports[-1].write_text(json.dumps({"shard": k, "start": start, "stop": stop, "targets": [0] * (stop - start),
                                           "ids": [f"i{i}" for i in range(start, stop)], "array": str(path),
                                           "seconds": 0.0}))
    return reports


def test_blur_saliency_store_and_sparsity_tables(tmp_path):
    from heatcheck.shards import finalize

    maps = _sparse(n=8)
    src = _store(tmp_path, "grad", maps)
    out_path = tmp_path / "grad+blur.zarr"
    create_saliency(out_path, 8, 32, 32, 4, {"variant": "blur"})
    # one blur job per shard of the source: each reads its source shard and writes its own rows
    blurred = [tmp_path / f"blur{k}.json" for k in range(2)]
    for source, report in zip(_shard_reports(tmp_path / "grad.zarr", 8), blurred):
        blur_shard(source, out_path, report, {"kernel": 5, "sigma": 1.0})
    finalize(out_path, blurred, tmp_path / "grad+blur.json")
    out = open_saliency(out_path, n=8, shape=(32, 32))
    assert out.attrs["variant"] == "blur" and out.attrs["targets"] == [0] * 8
    assert np.allclose(out[:], blur_maps(maps, 5, 1.0))
    kde, st = sparsity_tables({("m", "grad"): src, ("m", "grad+blur"): tmp_path / "grad+blur.json"}, points=21)
    st = st.set_index("explainer")
    assert st.loc["grad", "gini"] == pytest.approx(0.95, abs=0.01)
    assert st.loc["grad+blur", "gini"] < st.loc["grad", "gini"] - 0.2
    assert st.loc["grad", "zero"] == pytest.approx(1 - 51 / 1024, abs=1e-6)
    assert len(kde) == 42 and set(kde["explainer"]) == {"grad", "grad+blur"}
