"""The scoring stage: shard results -> long tables, curves, summary with bootstrap CI."""

from pathlib import Path

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
from conftest import write_tiny_study
from test_data import shapes_spec


def finished_saliency(d, arr, name: str, reports: str, marker) -> None:
    """Init, the 3 shards of 4 images (reports ``{reports}{shard}.json``), finalize (``marker``):
    a complete array of the 10-image study ``d``."""
    init_saliency(d / "images.zarr", d / "m.pt", arr, name, {}, 4, None)
    paths = [Path(f"{reports}{s}.json") for s in range(3)]
    for s, report in enumerate(paths):
        compute_shard(d / "images.zarr", d / "m.pt", arr, name, {}, s, 4, report_path=report)
    finalize(arr, paths, marker)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    d = write_tiny_study(tmp_path_factory.mktemp("score"), n_train=12)
    arr = d / "sal.zarr"
    finished_saliency(d, arr, "edge", d / "r", d / "sal.json")
    params = {"steps": 5, "uniform_seeds": 2, "baselines": ["mean", "uniform"], "granularities": ["pixel"]}
    shards = []
    for s in range(3):
        shards.append(d / f"del{s}.npz")
        score_shard(d / "images.zarr", d / "m.pt", report(d / "r", s), "deletion", params, shards[-1], seed=1)
    return d, arr, params, shards


def report(prefix, shard: int) -> Path:
    """The report of a shard of a :func:`finished_saliency` array."""
    return Path(f"{prefix}{shard}.json")


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


def test_curves_of_mixed_granularities_keep_their_own_points(scored, tmp_path, monkeypatch):
    """33 steps on 32-px images: 32 pixel steps of 32 pixels against 33 region points. The
    stored pixel curves end in NaN (not 0), the curve table and figure use each one's points."""
    from heatcheck.analysis.curves import mean_curves
    from heatcheck.plots import reliability

    d, arr, _, _ = scored
    params = {"steps": 33, "baselines": ["mean"], "granularities": ["pixel", "region"]}
    shards = [tmp_path / f"mix{s}.npz" for s in range(3)]
    for s, p in enumerate(shards):
        score_shard(d / "images.zarr", d / "m.pt", report(d / "r", s), "deletion", params, p)
    path = tmp_path / "deletion" / "lenet" / "edge.zarr"
    merge_curves(shards, path)
    c = zarr.open_array(str(path), mode="r")
    assert c.shape == (10, 2, 34) and c.attrs["points"] == [33, 34]
    assert np.isnan(c[:, 0, 33]).all() and np.isfinite(c[:, 0, :33]).all() and np.isfinite(c[:, 1]).all()
    table = merge_scores(shards, d / "images.zarr", "shapes", "lenet", "edge", tmp_path / "mix.parquet")
    pixel = table[table.config == "mean+pixel"].sort_values("image_index").score.to_numpy()
    assert np.allclose(pixel, np.trapezoid(c[:, 0, :33], dx=1 / 32, axis=1), atol=1e-6)
    t = mean_curves([path])
    assert t["mean"].notna().all() and t.groupby("config").size().to_dict() == {"mean+pixel": 33, "mean+region": 34}
    px = t[t.config == "mean+pixel"]
    assert np.allclose(px["fraction"], np.linspace(0, 1, 33)) and np.allclose(px["mean"], c[:, 0, :33].mean(0))
    # the figure draws each configuration's line over its own points, ending at fraction 1
    t.to_csv(tmp_path / "mean_curves.csv", index=False)
    drawn = {}
    monkeypatch.setattr(reliability, "save", lambda fig, out: drawn.update(
        {ax.get_title(): ax.get_lines()[0].get_xydata() for ax in fig.axes if ax.get_lines()}))
    reliability.plot_curves(tmp_path / "mean_curves.csv", tmp_path / "curves.png")
    lines = {title.split(": ")[-1]: xy for title, xy in drawn.items()}
    assert len(lines["mean+pixel"]) == 33 and len(lines["mean+region"]) == 34
    assert all(np.isfinite(xy).all() and xy[-1, 0] == 1.0 for xy in lines.values())


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
        score_shard(tmp_path / "images.zarr", d / "m.pt", report(d / "r", 0), "pointing_game", {}, tmp_path / "x.npz")


def test_second_paper_stages_end_to_end_in_python(scored, tmp_path):
    """Shapley store -> shapley_bias; feature scale -> unexplainable_features; half-masked
    saliency variant -> masking_robustness; mutual verification tables."""
    import json

    from heatcheck.metrics.objectiveness import feature_alpha, half_masks, shapley_bias_scores
    from heatcheck.scoring import feature_scale, mutual_verification_tables, shapley_shard
    from heatcheck.shapley import shapley_sampling, to_cells
    from heatcheck.tables import merge_shapley

    d, arr, _, _ = scored
    params = {"samples": 6, "cell": 8, "antithetic": False, "output": "prob", "ks": [10, 50]}
    shards = [tmp_path / f"sh{s}.npz" for s in range(3)]
    for s, p in enumerate(shards):
        shapley_shard(d / "images.zarr", d / "m.pt", params, s, 4, p, seed=2)
    merge_shapley(shards, tmp_path / "shapley.zarr", params)
    g = zarr.open_group(str(tmp_path / "shapley.zarr"), mode="r")
    assert g["estimate"].shape == (10, 4, 4) and g.attrs["cell"] == 8
    # the store equals the sampler called directly on all images at once
    st = DatasetStore(d / "images.zarr")
    model, _ = load_checkpoint(d / "m.pt")
    x = normalize(torch.from_numpy(st.split("eval").images[:]), st.mean, st.std)
    y = torch.from_numpy(st.split("eval").labels[:])
    est = shapley_sampling(model, x, y, cell=8, samples=6, seed=2, index=torch.arange(10))
    assert np.allclose(g["estimate"][:].reshape(10, -1), np.asarray(est[0]), atol=1e-5)

    score_shard(d / "images.zarr", d / "m.pt", report(d / "r", 1), "shapley_bias", params, tmp_path / "b.npz",
                extras={"shapley": shards[1]})
    with np.load(tmp_path / "b.npz") as z:
        got = z["scores"]
    maps = to_cells(zarr.open_array(str(arr))[4:8], 8).reshape(4, -1)
    assert np.allclose(got, shapley_bias_scores(g["estimate"][4:8].reshape(4, -1), maps, ks=(10, 50)), atol=1e-5)

    alpha = feature_scale(d / "images.zarr", d / "m.pt", tmp_path / "f.json")
    assert np.isclose(alpha, feature_alpha(model, x, 64)) and json.loads((tmp_path / "f.json").read_text())["n"] == 10
    score_shard(d / "images.zarr", d / "m.pt", report(d / "r", 0), "unexplainable_features", {"taus": [0.05]},
                tmp_path / "u.npz", extras={"features": tmp_path / "f.json"})
    with np.load(tmp_path / "u.npz") as z:
        assert np.allclose(z["scores"][:, 0], alpha * z["extra_distance"][:, 0])
        assert ((z["extra_masked_fraction"] > 0) & (z["extra_masked_fraction"] < 1)).all()


def test_halfmasked_variant_and_masking_robustness(scored, tmp_path):
    import json

    from heatcheck.explainers import make_explainer
    from heatcheck.metrics.objectiveness import apply_half_masks

    d, arr, _, _ = scored
    masked = tmp_path / "edge+halfmasked.zarr"
    finished_saliency(d, masked, "edge+halfmasked", tmp_path / "m", tmp_path / "masked.json")
    a = zarr.open_array(str(masked), mode="r")
    assert a.shape == (10, 4, 32, 32) and a.attrs["variant"] == "halfmasked"
    st = DatasetStore(d / "images.zarr")
    x = normalize(torch.from_numpy(st.split("eval").images[:2]), st.mean, st.std)
    direct = make_explainer("edge", build_model("lenet", 6, 32), {}).attribute(apply_half_masks(x), torch.zeros(8, dtype=torch.long))
    assert np.allclose(a[:2].reshape(8, 32, 32), direct.numpy(), atol=1e-5)
    score_shard(d / "images.zarr", d / "m.pt", report(d / "r", 0), "masking_robustness", {}, tmp_path / "r.npz",
                extras={"masked": report(tmp_path / "m", 0)})
    with np.load(tmp_path / "r.npz") as z:
        assert z["scores"].shape == (4, 4) and (z["scores"] >= 0).all()
        assert json.loads(str(z["meta"]))["config_keys"] == ["left", "right", "top", "bottom"]


def test_random_control_is_not_robust_by_construction(scored, tmp_path):
    """The half-masked reruns of the random control draw per copy: its non-robustness is that of
    two independent noise maps (about 1), not 0 (the original's draw repeated on every copy)."""
    import json

    from heatcheck.explainers import make_explainer
    from heatcheck.metrics.objectiveness import half_masks, non_robustness

    d, _, _, _ = scored
    original, masked = tmp_path / "random.zarr", tmp_path / "random+halfmasked.zarr"
    finished_saliency(d, original, "random", tmp_path / "o", tmp_path / "random.json")
    finished_saliency(d, masked, "random+halfmasked", tmp_path / "m", tmp_path / "masked.json")
    a, am = zarr.open_array(str(original))[:], zarr.open_array(str(masked))[:]
    copies = np.concatenate([a[:, None], am], 1).reshape(10, 5, -1)
    assert all(not np.allclose(copies[:, i], copies[:, j]) for i in range(5) for j in range(i))
    # the originals are the per-image draws of before: (seed, image index)
    control = make_explainer("random", build_model("lenet", 6, 32), {})
    assert np.array_equal(a, control.attribute(torch.zeros(10, 3, 32, 32), None, index=torch.arange(10)).numpy())
    score_shard(d / "images.zarr", d / "m.pt", report(tmp_path / "o", 0), "masking_robustness", {}, tmp_path / "r.npz",
                extras={"masked": report(tmp_path / "m", 0)})
    with np.load(tmp_path / "r.npz") as z:
        got = z["scores"]
    other = make_explainer("random", build_model("lenet", 6, 32), {}, seed=7)
    independent = other.attribute(torch.zeros(16, 3, 32, 32), None, index=torch.arange(16)).view(4, 4, 32, 32)
    reference = non_robustness(a[:4], independent, half_masks(32, 32))
    assert got.min() > 0.5 and abs(got.mean() - reference.mean()) < 0.1


def test_mutual_verification_tables(scored, tmp_path):
    from heatcheck.scoring import mutual_verification_tables

    d, arr, _, _ = scored
    mutual_verification_tables({"edge": d / "sal.json", "edge2": d / "sal.json"}, "shapes", "lenet",
                               tmp_path / "mv.csv", tmp_path / "mv.parquet")
    m = pd.read_csv(tmp_path / "mv.csv", index_col=0)
    assert m.shape == (2, 2) and np.allclose(m.values, 0, atol=1e-6)  # identical maps agree exactly
    t = pd.read_parquet(tmp_path / "mv.parquet")
    assert len(t) == 2 * 10 and set(t.explainer) == {"edge", "edge2"}


def test_out_of_memory_in_a_metric_or_shapley_job_names_batch_size(scored, tmp_path, monkeypatch):
    from heatcheck.models.cifar import LeNet
    from heatcheck.scoring import shapley_shard

    d, _, params, _ = scored

    def forward(self, x):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")

    monkeypatch.setattr(LeNet, "forward", forward)
    with pytest.raises(HeatcheckError, match=r"score_metric deletion of .*r0.json ran out of memory with batch_size "
                                             r"32 .*lower batch_size in the config \(now 32, e.g. 8\)"):
        score_shard(d / "images.zarr", d / "m.pt", report(d / "r", 0), "deletion", params, tmp_path / "x.npz",
                    batch_size=32)
    with pytest.raises(HeatcheckError, match=r"compute_shapley shard 0 ran out of memory with batch_size 16"):
        shapley_shard(d / "images.zarr", d / "m.pt", {"samples": 2, "cell": 8}, 0, 4, tmp_path / "s.npz", batch_size=16)
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "s.npz").exists()


# --- damaged results: named, removed (so that the next run recomputes them), nothing else lost ----


def _copies(paths, d: Path) -> list[Path]:
    """Copies of ``paths`` in ``d`` (the module's shards stay intact for the other tests)."""
    out = []
    for p in paths:
        out.append(d / p.name)
        out[-1].write_bytes(p.read_bytes())
    return out


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_truncated_score_shard_is_named_and_removed_alone(scored, tmp_path):
    from heatcheck.store import DamagedFileError

    d, _, _, shards = scored
    copies = _copies(shards, tmp_path)
    _truncate(copies[1])
    with pytest.raises(DamagedFileError, match=rf"score shard {copies[1]} is damaged: unreadable \(BadZipFile"
                                               r".*removed it: rerun snakemake"):
        merge_scores(copies, d / "images.zarr", "shapes", "lenet", "edge", tmp_path / "t.parquet")
    assert [p.exists() for p in copies] == [True, False, True] and not (tmp_path / "t.parquet").exists()
    # a shard that lacks what its writer writes, or holds another number of images, is damaged too
    with np.load(shards[0]) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(tmp_path / "nocurves.npz", **{k: v for k, v in arrays.items() if k != "curves"})
    np.savez(tmp_path / "rows.npz", **{**arrays, "stop": np.array(7)})
    with pytest.raises(HeatcheckError) as exc:
        merge_curves([tmp_path / "nocurves.npz", tmp_path / "rows.npz"], tmp_path / "c.zarr")
    assert "nocurves.npz is damaged: it lacks the arrays ['curves']" in str(exc.value)
    assert "rows.npz is damaged: it holds 4 images, its range 0-7 has 7" in str(exc.value)  # both named at once
    assert not (tmp_path / "nocurves.npz").exists() and not (tmp_path / "rows.npz").exists()
    with pytest.raises(HeatcheckError, match=r"score shard .*1.npz does not exist; rerun snakemake"):
        merge_scores(copies, d / "images.zarr", "shapes", "lenet", "edge", tmp_path / "t.parquet")


def test_truncated_shapley_shard_and_store_are_named_and_removed(scored, tmp_path):
    from heatcheck.scoring import shapley_shard
    from heatcheck.store import DamagedFileError
    from heatcheck.tables import merge_shapley, read_shapley

    d, _, _, _ = scored
    params = {"samples": 2, "cell": 8, "antithetic": False, "output": "prob"}
    shards = [tmp_path / f"sh{s}.npz" for s in range(3)]
    for s, p in enumerate(shards):
        shapley_shard(d / "images.zarr", d / "m.pt", params, s, 4, p, seed=2)
    store = tmp_path / "shapley.zarr"
    merge_shapley(shards, store, params)
    est, cell = read_shapley(store, 4, 8)
    assert cell == 8 and np.array_equal(est, zarr.open_group(str(store), mode="r")["estimate"][4:8])
    (store / "estimate" / "c" / "0" / "0" / "0").unlink()
    with pytest.raises(DamagedFileError, match=r"Shapley store .*shapley.zarr is damaged: the chunk files \[0\] "
                                               r"of its estimate are missing; removed it"):
        read_shapley(store, 0, 4, repair=True)
    assert not store.exists() and all(p.exists() for p in shards)  # merged again from the shards next run
    _truncate(shards[2])
    with pytest.raises(DamagedFileError, match=r"Shapley shard .*sh2.npz is damaged: unreadable"):
        merge_shapley(shards, store, params)
    assert [p.exists() for p in shards] == [True, True, False]


def test_damaged_curve_store_is_named_and_removed(scored, tmp_path):
    from heatcheck.analysis.curves import mean_curves
    from heatcheck.store import DamagedFileError
    from heatcheck.tables import read_curves

    d, _, _, shards = scored
    stores = [tmp_path / "deletion" / "lenet" / f"{e}.zarr" for e in ("edge", "grad", "rise")]
    for s in stores:
        merge_curves(shards, s)
    data, configs = read_curves(stores[0])
    assert data.shape == (10, 3, 6) and configs[0] == "mean+pixel"
    (stores[1] / "c" / "0" / "0" / "0").unlink()  # zarr alone would read it as zeros
    chunk = stores[2] / "c" / "0" / "0" / "0"
    _truncate(chunk, 0.2)
    with pytest.raises(HeatcheckError) as exc:
        mean_curves(stores)
    msg = str(exc.value)
    assert f"curve store {stores[1]} is damaged: the chunk files [0] (along images) are missing; removed it" in msg
    assert f"curve store {stores[2]} is damaged: unreadable" in msg
    assert [s.exists() for s in stores] == [True, False, False]


def test_truncated_score_table_fails_collect_naming_it(scored, tmp_path):
    from heatcheck.store import DamagedFileError

    d, _, _, shards = scored
    tables = [tmp_path / f"{e}.parquet" for e in ("a", "b")]
    for t in tables:
        merge_scores(shards, d / "images.zarr", "shapes", "lenet", "edge", t)
    _truncate(tables[1])
    with pytest.raises(DamagedFileError, match=rf"score table {tables[1]} is damaged: unreadable .*removed it"):
        collect(tables, tmp_path / "all.parquet", tmp_path / "summary.csv")
    assert tables[0].exists() and not tables[1].exists() and not (tmp_path / "all.parquet").exists()


def test_damaged_feature_scale_is_named_and_removed(scored, tmp_path):
    from heatcheck.store import DamagedFileError

    d, arr, _, _ = scored
    scale = tmp_path / "f.json"
    scale.write_text('{"alpha": 0.')  # cut off
    with pytest.raises(DamagedFileError, match=r"feature scale .*f.json is damaged: unreadable \(JSONDecodeError"):
        score_shard(d / "images.zarr", d / "m.pt", report(d / "r", 0), "unexplainable_features", {"taus": [0.05]},
                    tmp_path / "u.npz", extras={"features": scale})
    assert not scale.exists() and not (tmp_path / "u.npz").exists()


# --- the report card's reruns: +randomized{k} and +noisy{k} arrays ------------------------------------


def test_randomized_and_noisy_reruns_and_their_scores(scored, tmp_path):
    """``grad+randomized2`` holds grad's maps of the model with its top 2 layers re-initialised
    (the trained model's targets); ``grad+noisy0`` grad's maps of the noisy images of
    ``noisy_shard``, which the metric scores too (not the clean ones)."""
    from heatcheck.explainers import make_explainer
    from heatcheck.sanity import minor_input_noise, noisy_shard, randomized_model, read_noisy_shard

    d, _, _, _ = scored
    st = DatasetStore(d / "images.zarr")
    model, meta = load_checkpoint(d / "m.pt")
    x = normalize(torch.from_numpy(st.split("eval").images[:4]), st.mean, st.std)
    labels = torch.from_numpy(st.split("eval").labels[:4])
    # randomized: the map of the step-2 model, with the seed of the run
    arr = tmp_path / "grad+randomized2.zarr"
    init_saliency(d / "images.zarr", d / "m.pt", arr, "grad+randomized2", {}, 4, None)
    rep = compute_shard(d / "images.zarr", d / "m.pt", arr, "grad+randomized2", {}, 0, 4, seed=3,
                        report_path=tmp_path / "r0.json")
    step = randomized_model(model, 2, seed=3)
    want = make_explainer("grad", step.model, {}).attribute(x, labels).detach().numpy()
    got = zarr.open_array(str(arr))[:4]
    assert np.allclose(got, want, atol=1e-6) and rep["layer"] == step.layer == "classifier.3"
    plain = make_explainer("grad", model, {}).attribute(x, labels).detach().numpy()
    assert not np.allclose(got, plain, atol=1e-3)
    # noisy: one file of noisy images, read by the rerun and by its scores
    noisy_shard(d / "images.zarr", d / "m.pt", 0, 0.3, 0, 4, tmp_path / "n0.npz", seed=3)
    direct = minor_input_noise(model, x, 0.3, seed=3, copy_index=0, index=torch.arange(4))
    xn = read_noisy_shard(tmp_path / "n0.npz", 0, 4)
    assert torch.allclose(xn, direct.x, atol=1e-6) and not torch.allclose(xn, x, atol=1e-2)
    arr = tmp_path / "grad+noisy0.zarr"
    init_saliency(d / "images.zarr", d / "m.pt", arr, "grad+noisy0", {}, 4, None)
    compute_shard(d / "images.zarr", d / "m.pt", arr, "grad+noisy0", {}, 0, 4, report_path=tmp_path / "q0.json",
                  noisy=tmp_path / "n0.npz")
    maps = zarr.open_array(str(arr))[:4]
    assert np.allclose(maps, make_explainer("grad", model, {}).attribute(xn, labels).detach().numpy(), atol=1e-6)
    params = {"percentiles": [], "real": True}
    score_shard(d / "images.zarr", d / "m.pt", tmp_path / "q0.json", "average_drop", params, tmp_path / "s.npz",
                extras={"noisy": tmp_path / "n0.npz"})
    m = make_metric("average_drop", params)
    on_noisy = m(model, xn, torch.from_numpy(maps), labels).scores
    assert np.allclose(np.load(tmp_path / "s.npz")["scores"], on_noisy, atol=1e-6)
    assert not np.allclose(on_noisy, m(model, x, torch.from_numpy(maps), labels).scores, atol=1e-6)
    # a noisy shard of other images is named and removed (the next run recomputes it)
    with pytest.raises(HeatcheckError, match="noisy-input shard .* holds images 0-3, not 4-7"):
        read_noisy_shard(tmp_path / "n0.npz", 4, 8)
    assert not (tmp_path / "n0.npz").exists()


def test_randomization_table_is_the_similarity_of_each_step(scored, tmp_path):
    """Per (explainer, step, measure) the mean over images of spearman_abs / ssim between the
    original maps and the rerun's, and the layer re-initialised at that step."""
    from heatcheck.analysis.similarity import randomization_table, spearman_abs, ssim

    d, _, _, _ = scored
    base = tmp_path / "lenet"
    base.mkdir()
    finished_saliency(d, base / "grad.zarr", "grad", base / "g", base / "grad.json")
    for k in (1, 2):
        name = f"grad+randomized{k}"
        init_saliency(d / "images.zarr", d / "m.pt", base / f"{name}.zarr", name, {}, 4, None)
        (base / f"{name}.shards").mkdir()
        reports = [base / f"{name}.shards" / f"{s}.json" for s in range(3)]
        for s, r in enumerate(reports):
            compute_shard(d / "images.zarr", d / "m.pt", base / f"{name}.zarr", name, {}, s, 4, report_path=r)
        finalize(base / f"{name}.zarr", reports, base / f"{name}.json")
    markers = [base / "grad.json", base / "grad+randomized1.json", base / "grad+randomized2.json"]
    t = randomization_table(markers, n_boot=50)
    assert list(t.step) == [1, 2, 1, 2] and list(t.measure) == ["spearman_abs"] * 2 + ["ssim"] * 2
    assert list(t.layer[:2]) == ["classifier.5", "classifier.3"] and set(t.model) == {"lenet"}
    orig = zarr.open_array(str(base / "grad.zarr"))[:]
    rand = zarr.open_array(str(base / "grad+randomized2.zarr"))[:]
    row = t[(t.step == 2) & (t.measure == "ssim")].iloc[0]
    assert np.isclose(row.value, ssim(orig, rand).mean()) and row.ci_low <= row.value <= row.ci_high
    assert np.isclose(t[(t.step == 2) & (t.measure == "spearman_abs")].value.iloc[0], spearman_abs(orig, rand).mean())
