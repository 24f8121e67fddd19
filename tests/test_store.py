"""Dataset stores: round trip through zarr, readable with plain zarr, incomplete stores refused."""

import numpy as np
import pytest
import zarr

from heatcheck import HeatcheckError
from heatcheck.data import load_dataset
from heatcheck.store import DatasetStore, write_dataset
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
