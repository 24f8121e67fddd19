"""Dataset stores: round trip through zarr, readable with plain zarr, incomplete stores refused."""

import numpy as np
import pytest
import zarr

from heatcheck import HeatcheckError
from heatcheck.data import load_dataset
from heatcheck.store import DatasetStore, SplitView, write_dataset
from test_data import shapes_spec


def test_roundtrip(tmp_path):
    ld = load_dataset(shapes_spec(n_train=12, n_eval=6))
    path = tmp_path / "images.zarr"
    write_dataset(path, ld, "shapes", chunk=4)
    st = DatasetStore(path)
    assert st.splits() == ["eval", "train"] and st.class_names == ld.class_names
    ev = st.split("eval")
    assert np.array_equal(ev.images[:], ld.splits["eval"].images)
    assert np.array_equal(ev.labels[:], ld.splits["eval"].labels)
    assert ev.ids == ld.splits["eval"].ids
    assert np.array_equal(ev.masks[:], ld.splits["eval"].masks)
    assert np.allclose(st.mean, ld.mean)
    # plain zarr, as in a notebook
    g = zarr.open_group(str(path), mode="r")
    assert g["eval/images"].shape == (6, 3, 32, 32) and g.attrs["kind"] == "shapes"
    assert not list(tmp_path.glob("*.tmp-*"))


def test_incomplete_store_is_refused(tmp_path):
    path = tmp_path / "images.zarr"
    write_dataset(path, load_dataset(shapes_spec(n_train=12, n_eval=6)), "shapes")
    g = zarr.open_group(str(path), mode="r+")
    g.attrs["complete"] = False
    with pytest.raises(HeatcheckError, match="incomplete"):
        DatasetStore(path)
    with pytest.raises(HeatcheckError, match="does not exist"):
        DatasetStore(tmp_path / "nope.zarr")
    with pytest.raises(HeatcheckError, match="no split 'test'"):
        write_dataset(path, load_dataset(shapes_spec(n_train=12, n_eval=6)), "shapes")
        DatasetStore(path).split("test")


def _finalized_saliency(d, n=10, chunk=4):
    """A finalized saliency array in the workflow's layout: {e}.zarr, {e}.shards/*.json, {e}.json."""
    from heatcheck.store import create_saliency, finalize_saliency, saliency_marker, saliency_shard_reports

    path = d / "saliency" / "m" / "grad.zarr"
    path.parent.mkdir(parents=True)
    ids = [f"img-{i}" for i in range(n)]
    create_saliency(path, n, 8, 8, chunk, {"ids": ids})
    arr = zarr.open_array(str(path), mode="r+")
    data = np.arange(n * 64, dtype=np.float32).reshape(n, 8, 8)
    arr[:] = data
    finalize_saliency(path, {})
    reports = saliency_shard_reports(path)
    reports.mkdir()
    for k in range(-(-n // chunk)):
        (reports / f"{k}.json").write_text("{}")
    saliency_marker(path).write_text("{}")
    return path, data, ids


def test_deleted_chunk_is_detected_and_invalidates_only_its_shard(tmp_path):
    from heatcheck.store import DamagedSaliencyError, open_saliency, read_saliency

    path, data, ids = _finalized_saliency(tmp_path)
    assert np.array_equal(read_saliency(open_saliency(path, n=10, shape=(8, 8), ids=ids)), data)
    (path / "c" / "1" / "0" / "0").unlink()
    with pytest.raises(DamagedSaliencyError, match=r"grad.zarr is damaged: the chunk files of shards \[1\] "
                                                   r"are missing; delete .*grad.json"):
        open_saliency(path)
    assert (tmp_path / "saliency/m/grad.json").exists()  # without repair nothing is removed
    with pytest.raises(DamagedSaliencyError, match=r"removed its completeness marker .*grad.json and the "
                                                   r"reports of shards \[1\]"):
        open_saliency(path, repair=True)
    assert not (tmp_path / "saliency/m/grad.json").exists()
    assert sorted(p.name for p in (tmp_path / "saliency/m/grad.shards").iterdir()) == ["0.json", "2.json"]
    assert path.exists()


def test_truncated_chunk_is_detected_on_read(tmp_path):
    from heatcheck.store import DamagedSaliencyError, open_saliency, read_saliency

    path, data, _ = _finalized_saliency(tmp_path)
    chunk = path / "c" / "2" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:10])
    arr = open_saliency(path)
    assert np.array_equal(read_saliency(arr, 0, 8), data[:8])  # the intact shards still read
    with pytest.raises(DamagedSaliencyError, match=r"grad.zarr is damaged: rows 8-9 are unreadable"):
        read_saliency(arr, 8, 10, repair=True)
    assert sorted(p.name for p in (tmp_path / "saliency/m/grad.shards").iterdir()) == ["0.json", "1.json"]


def test_stale_array_of_another_run_is_removed_for_recomputation(tmp_path):
    from heatcheck.store import DamagedSaliencyError, open_saliency

    path, _, ids = _finalized_saliency(tmp_path)
    with pytest.raises(DamagedSaliencyError, match="maps of other images"):
        open_saliency(path, ids=["other"] + ids[1:])
    with pytest.raises(DamagedSaliencyError, match=r"has maps of shape \(8, 8\), expected \(16, 16\) \(stale\); "
                                                   r"removed .* the array and all its shard reports"):
        open_saliency(path, shape=(16, 16), repair=True)
    assert not path.exists() and not (tmp_path / "saliency/m/grad.shards").exists()
    assert not (tmp_path / "saliency/m/grad.json").exists()


def test_resize_keeps_chunks_and_a_shard_reader_needs_only_finished_shards(tmp_path):
    """A study grown from 8 to 12 images: the array is resized in one metadata write (twice the
    same resize writes nothing), its chunks stay, and a score shard of the old rows reads them
    while the new shard is not written yet; a whole-array reader refuses the incomplete array."""
    from heatcheck.store import DamagedSaliencyError, open_saliency, read_saliency, resize_saliency

    path, data, ids = _finalized_saliency(tmp_path, n=8)
    grown = ids + ["img-8", "img-9", "img-10", "img-11"]
    resize_saliency(path, grown)
    meta = path / "zarr.json"
    stamp = (meta.stat().st_mtime_ns, meta.read_bytes())
    resize_saliency(path, grown)
    assert (meta.stat().st_mtime_ns, meta.read_bytes()) == stamp
    with pytest.raises(HeatcheckError, match="incomplete"):
        open_saliency(path)
    arr = open_saliency(path, shape=(8, 8), ids=grown, rows=(4, 8))
    assert arr.shape == (12, 8, 8) and np.array_equal(read_saliency(arr, 4, 8), data[4:8])
    # a finished shard whose chunk is gone is still detected (shard 1 has a report)
    (path / "c" / "1" / "0" / "0").unlink()
    with pytest.raises(DamagedSaliencyError, match=r"the chunk files of shards \[1\] are missing"):
        open_saliency(path, rows=(0, 4))


def test_reading_removes_a_damaged_file_only_for_errors_about_its_content(tmp_path):
    from heatcheck.store import DamagedFileError, reading

    path = tmp_path / "t.csv"
    path.write_text("a\n")
    for error in (MemoryError(), PermissionError("denied"), HeatcheckError("ours")):
        with pytest.raises(type(error)):
            with reading(path, "table", repair=True):
                raise error
        assert path.exists()
    with pytest.raises(DamagedFileError, match=r"table .*t.csv is damaged: unreadable \(ValueError: bad\); removed it"):
        with reading(path, "table", repair=True):
            raise ValueError("bad")
    assert not path.exists()


def test_shared_store_reads_a_shard_once_and_a_rewritten_store_afresh(tmp_path):
    """Jobs in one process share the opened store and the rows of a shard (read-only); a store
    written again is opened afresh, so no job sees the images of the store it replaced."""
    path = tmp_path / "images.zarr"
    first = load_dataset(shapes_spec(n_train=12, n_eval=6))
    write_dataset(path, first, "shapes", chunk=4)
    st = DatasetStore.shared(path)
    assert DatasetStore.shared(path) is st
    rows = st.split("eval").rows(2, 5)
    assert st.split("eval").rows(2, 5) is rows  # read once
    assert np.array_equal(rows.images, first.splits["eval"].images[2:5])
    assert np.array_equal(rows.masks, first.splits["eval"].masks[2:5])
    assert rows.ids == first.splits["eval"].ids[2:5]
    assert np.array_equal(rows.boxes, np.asarray(first.splits["eval"].boxes[2:5], dtype=np.int32))
    with pytest.raises(ValueError, match="read-only"):
        rows.images[0, 0, 0, 0] = 1.0
    for k in range(SplitView.KEEP_ROWS + 1):  # bounded: old ranges are dropped
        st.split("eval").rows(0, k + 1)
    assert st.split("eval").rows(2, 5) is not rows
    second = load_dataset(shapes_spec(n_train=12, n_eval=6, seed=1))
    assert not np.array_equal(second.splits["eval"].images, first.splits["eval"].images)
    write_dataset(path, second, "shapes", chunk=4)
    again = DatasetStore.shared(path)
    assert again is not st
    assert np.array_equal(again.split("eval").rows(2, 5).images, second.splits["eval"].images[2:5])


def test_shard_saliency_reads_a_shard_once_for_its_metrics_until_its_saliency_job_reruns(tmp_path):
    from heatcheck.store import DamagedSaliencyError, shard_saliency

    path, data, ids = _finalized_saliency(tmp_path)
    report = tmp_path / "saliency/m/grad.shards/1.json"
    maps = shard_saliency(report, path, 4, 8, (8, 8), ids)
    assert np.array_equal(maps, data[4:8]) and not maps.flags.writeable
    assert shard_saliency(report, path, 4, 8, (8, 8), ids) is maps  # the next metric of the shard
    # the saliency job reruns: new maps, then its report
    zarr.open_array(str(path), mode="r+")[4:8] = data[4:8] + 1
    report.write_text('{"rerun": true}')
    assert np.array_equal(shard_saliency(report, path, 4, 8, (8, 8), ids), data[4:8] + 1)
    # the checks of open_saliency hold for every new read
    with pytest.raises(DamagedSaliencyError, match="maps of other images"):
        shard_saliency(report, path, 4, 8, (8, 8), ["other"] + ids[1:])


def test_written_puts_a_file_in_place_whole_or_not_at_all(tmp_path):
    from heatcheck.store import written

    out = tmp_path / "0.npz"
    with written(out) as fh:
        np.savez(fh, a=np.arange(3))
    assert np.array_equal(np.load(out)["a"], np.arange(3))
    with pytest.raises(RuntimeError, match="killed"):
        with written(out) as fh:
            fh.write(b"PK half a zip")
            raise RuntimeError("killed while writing")
    assert np.array_equal(np.load(out)["a"], np.arange(3))  # the old file, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["0.npz"]  # no temporary left
