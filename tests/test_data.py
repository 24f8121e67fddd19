"""Generated and bundled dataset kinds: shapes (the default) and digits."""

import numpy as np
import pytest

from heatcheck import HeatcheckError
from heatcheck.data import DATASETS, load_dataset
from heatcheck.data.base import boxes_from_masks, split_indices
from heatcheck.data.shapes import CLASSES, shape_mask


def shapes_spec(**kw):
    spec = {"kind": "shapes", "size": 32, "n_train": 60, "n_eval": 30, "seed": 0,
            "distractors": [1, 3], "clutter": 3}
    spec.update(kw)
    return spec


def test_registry_has_all_kinds():
    assert DATASETS.names() == ["arrays", "cifar10", "digits", "folder", "imagenet", "photos", "shapes", "voc"]


def test_shapes_deterministic_from_seed():
    a, b = load_dataset(shapes_spec()), load_dataset(shapes_spec())
    c = load_dataset(shapes_spec(seed=1))
    assert np.array_equal(a.splits["eval"].images, b.splits["eval"].images)
    assert not np.array_equal(a.splits["eval"].images, c.splits["eval"].images)
    # train and eval are different draws
    assert not np.array_equal(a.splits["train"].images[:30], a.splits["eval"].images)


def test_shapes_arrays_masks_and_boxes():
    ld = load_dataset(shapes_spec(size=48))
    ev = ld.splits["eval"]
    assert ev.images.shape == (30, 3, 48, 48) and ev.images.dtype == np.float32
    assert ev.images.min() >= 0 and ev.images.max() <= 1
    assert ld.class_names == CLASSES
    # balanced classes
    assert np.bincount(ld.splits["train"].labels, minlength=6).tolist() == [10] * 6
    assert ev.masks.shape == (30, 48, 48) and ev.boxes.shape == (30, 1, 4)
    for m, (x0, y0, x1, y1) in zip(ev.masks, ev.boxes[:, 0]):
        assert m.sum() > 20  # the target is visible
        ys, xs = np.nonzero(m)
        assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    # the target object is painted in one colour over its whole mask (it is on top)
    for img, m in zip(ev.images, ev.masks):
        pix = img[:, m]
        assert np.allclose(pix, pix[:, :1])
    assert len(set(ev.ids)) == 30


def test_shape_masks_differ_by_class():
    yy, xx = np.mgrid[0:41, 0:41].astype(np.float32)
    masks = {k: shape_mask(k, yy, xx, 20, 20, 15, 0.0) for k in CLASSES}
    assert not masks["ring"][20, 20] and masks["circle"][20, 20]  # the ring has a hole
    assert masks["cross"][20, 34] and not masks["cross"][33, 33]  # arm, not corner
    assert masks["square"][31, 31] and not masks["diamond"][31, 31]  # corners
    assert masks["triangle"][26, 20] and not masks["triangle"][7, 14]  # pointing up
    areas = {k: int(m.sum()) for k, m in masks.items()}
    assert len(set(areas.values())) == len(areas)


def test_boxes_from_masks_empty_mask():
    m = np.zeros((2, 5, 5), bool)
    m[1, 1:3, 2:5] = True
    assert boxes_from_masks(m)[:, 0].tolist() == [[-1, -1, -1, -1], [2, 1, 5, 3]]


def test_split_indices_partition():
    tr, ev = split_indices(50, 10, 3)
    assert len(ev) == 10 and len(tr) == 40 and set(tr) | set(ev) == set(range(50))
    with pytest.raises(HeatcheckError, match="n_eval"):
        split_indices(5, 5, 0)


def test_digits_bundled_scans():
    ld = load_dataset({"kind": "digits", "size": 24, "n_eval": 100, "seed": 0, "ink_threshold": 0.3})
    ev, tr = ld.splits["eval"], ld.splits["train"]
    assert len(ev) == 100 and len(tr) == 1697
    assert ev.images.shape == (100, 3, 24, 24)
    assert np.array_equal(ev.images[:, 0], ev.images[:, 2])  # grey replicated
    assert set(np.unique(tr.labels)) == set(range(10))
    for m, (x0, y0, x1, y1) in zip(ev.masks, ev.boxes[:, 0]):
        ys, xs = np.nonzero(m)
        assert x0 == xs.min() and x1 == xs.max() + 1 and y0 == ys.min() and y1 == ys.max() + 1
    assert not set(ev.ids) & set(tr.ids)


def assert_same_first_images(small, big, n: int) -> None:
    """The first ``n`` images of two loads' eval splits are the same images: ids, pixels, labels,
    boxes and masks."""
    a, b = small.splits["eval"], big.splits["eval"]
    assert len(a) == n < len(b)
    assert a.ids == b.ids[:n]
    assert np.array_equal(a.images, b.images[:n]) and np.array_equal(a.labels, b.labels[:n])
    for field in ("boxes", "masks"):
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None and y is None) or np.array_equal(x, y[:n, :x.shape[1]]), field


@pytest.mark.parametrize("spec", [shapes_spec(n_eval=8), {"kind": "digits", "size": 16, "n_eval": 8, "seed": 0,
                                                        "ink_threshold": 0.3}], ids=["shapes", "digits"])
def test_an_image_id_is_the_same_image_in_a_bigger_study(spec):
    small, big = load_dataset(spec), load_dataset({**spec, "n_eval": 16})
    assert_same_first_images(small, big, 8)
    # and the same id never names another image: ids shared by the two loads match by content
    a, b = small.splits["eval"], big.splits["eval"]
    for i, id_ in enumerate(a.ids):
        assert np.array_equal(a.images[i], b.images[b.ids.index(id_)])


def test_shapes_train_split_and_normalization_do_not_depend_on_n_eval():
    a, b = load_dataset(shapes_spec(n_eval=8)), load_dataset(shapes_spec(n_eval=16))
    assert np.array_equal(a.splits["train"].images, b.splits["train"].images)
    assert a.splits["train"].ids == b.splits["train"].ids and (a.mean, a.std) == (b.mean, b.std)


def test_shapes_labels_balanced_in_every_block_of_six():
    ev = load_dataset(shapes_spec(n_eval=27)).splits["eval"]
    for start in range(0, 24, 6):
        assert sorted(ev.labels[start:start + 6].tolist()) == list(range(6))
    assert len(set(ev.labels[24:].tolist())) == 3  # the last, partial block: no class twice
