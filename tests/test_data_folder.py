"""Your own data: the folder, arrays and photos kinds on fixtures written in the real formats."""

import numpy as np
import pytest
import zarr
from PIL import Image

from heatcheck import HeatcheckError
from heatcheck.data import kind_facts, load_dataset
from heatcheck.data.folder import PHOTOS, export_photos
from test_data_real import truncate, voc_xml


def png(path, w, h, colour=(200, 30, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h), colour).save(path)
    return path


def mask_png(path, w, h, box):
    """A greyscale PNG mask, object = ``box`` (x0, y0, x1, y1) set to 255, the rest 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros((h, w), np.uint8)
    x0, y0, x1, y1 = box
    arr[y0:y1, x0:x1] = 255
    Image.fromarray(arr).save(path)
    return path


def folder_spec(root, **kw):
    spec = {"kind": "folder", "root": str(root), "classes": None, "masks": None, "boxes": None,
            "resize": None, "size": 32, "images_per_class": None, "mean": None, "std": None,
            "skip_corrupt": False}
    spec.update(kw)
    return spec


@pytest.fixture
def tree(tmp_path):
    """dog/{a,b}.png (64x48), cat/c.jpg (40x40): an ImageFolder layout."""
    root = tmp_path / "imgs"
    png(root / "dog" / "a.png", 64, 48)
    png(root / "dog" / "b.png", 64, 48, colour=(10, 200, 10))
    root.joinpath("cat").mkdir()
    Image.new("RGB", (40, 40), (0, 0, 220)).save(root / "cat" / "c.jpg", quality=95)
    return root


def test_folder_classes_ids_resize_and_own_constants(tree):
    ld = load_dataset(folder_spec(tree))
    ev = ld.splits["eval"]
    assert ld.class_names == ["cat", "dog"]  # sorted subfolders, as ImageFolder
    assert ev.labels.tolist() == [0, 1, 1] and ev.ids == ["cat/c", "dog/a", "dog/b"]
    assert ev.images.shape == (3, 3, 32, 32) and ev.boxes is None and ev.masks is None
    assert ev.images[0, 2].mean() > 0.8 and ev.images[2, 1].mean() > 0.7  # blue cat, green second dog
    assert np.allclose(ld.mean, ev.images.mean(axis=(0, 2, 3)), atol=1e-6)
    # configured constants win; the ids do not depend on other files in the folder
    png(tree / "dog" / "0.png", 64, 48)
    ld2 = load_dataset(folder_spec(tree, mean=[0.5] * 3, std=[0.25] * 3))
    assert ld2.mean == (0.5,) * 3 and ld2.splits["eval"].ids == ["cat/c", "dog/0", "dog/a", "dog/b"]


def test_folder_masks_give_masks_and_boxes(tree, tmp_path):
    masks = tmp_path / "masks"
    # 64x48 -> short side 32: 42x32 (int(32 * 64 / 48) = 42), centre crop 32: left 5
    mask_png(masks / "dog" / "a.png", 64, 48, (20, 8, 44, 40))
    mask_png(masks / "b.png", 64, 48, (0, 0, 64, 48))  # flat layout works too
    mask_png(masks / "c.png", 40, 40, (0, 0, 20, 20))
    ev = load_dataset(folder_spec(tree, masks=str(masks))).splits["eval"]
    assert ev.masks.shape == (3, 32, 32) and ev.masks[2].all()
    ys, xs = np.nonzero(ev.masks[1])
    # x 20..44 * 42/64 = 13.1..28.9 - 5; y 8..40 * 32/48 = 5.3..26.7 (nearest neighbour)
    assert 7 <= xs.min() <= 9 and 22 <= xs.max() <= 24 and 5 <= ys.min() <= 6 and 26 <= ys.max() <= 27
    assert ev.boxes[1, 0].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert ev.masks[0, :16, :16].all() and not ev.masks[0, 16:, 16:].any()


def test_folder_voc_boxes_and_csv_boxes(tree, tmp_path):
    xml = tmp_path / "xml"
    voc_xml(xml / "a.xml", 64, 48, [("dog", (1, 1, 64, 48), 0), ("person", (1, 1, 5, 5), 0)])
    voc_xml(xml / "b.xml", 64, 48, [("thing", (33, 9, 48, 40), 0)])  # no name matches: all kept
    voc_xml(xml / "cat" / "c.xml", 40, 40, [("cat", (1, 1, 20, 20), 0)])
    ev = load_dataset(folder_spec(tree, boxes=str(xml))).splits["eval"]
    assert ev.boxes.shape == (3, 1, 4)
    assert ev.boxes[0, 0].tolist() == [0, 0, 16, 16]   # 40 -> 32: [0, 20) * 0.8
    assert ev.boxes[1, 0].tolist() == [0, 0, 32, 32]   # the whole dog, the person dropped
    # b: [32, 48) x [8, 40) -> x * 42/64 - 5 = [16, 26.5), y * 2/3 = [5.33, 26.7) -> covering pixels
    assert ev.boxes[2, 0].tolist() == [16, 5, 27, 27]
    csv = tmp_path / "boxes.csv"
    csv.write_text("image,x0,y0,x1,y1\ncat/c.jpg,0,0,20,20\na.png,0,0,64,48\ndog/b,32,8,48,40\ndog/b,0,0,8,8\n")
    ev2 = load_dataset(folder_spec(tree, boxes=str(csv))).splits["eval"]
    assert ev2.boxes.shape == (3, 2, 4) and ev2.boxes[2, 0].tolist() == [16, 5, 27, 27]
    assert ev2.boxes[0, 1].tolist() == [-1, -1, -1, -1]
    assert kind_facts(folder_spec(tree, boxes=str(csv))).has_boxes
    facts = kind_facts(folder_spec(tree))
    assert facts.no_boxes and facts.num_classes == 2 and facts.side == 32


def test_folder_errors_name_the_file(tree, tmp_path):
    with pytest.raises(HeatcheckError, match="nowhere.*key 'root'"):
        load_dataset(folder_spec(tmp_path / "nowhere"))
    masks = tmp_path / "masks"
    mask_png(masks / "a.png", 64, 48, (0, 0, 4, 4))
    mask_png(masks / "b.png", 64, 48, (0, 0, 4, 4))
    with pytest.raises(HeatcheckError, match=r"mask of image .*c\.jpg is missing"):
        load_dataset(folder_spec(tree, masks=str(masks)))
    mask_png(masks / "c.png", 30, 40, (0, 0, 4, 4))
    with pytest.raises(HeatcheckError, match=r"mask .*c\.png is 30x40, its image .*c\.jpg is 40x40"):
        load_dataset(folder_spec(tree, masks=str(masks)))
    csv = tmp_path / "b.csv"
    csv.write_text("cat/c.jpg,0,0,20,20\na.png,0,0,65,48\ndog/b,1,1,2,2\n")
    with pytest.raises(HeatcheckError, match=r"b\.csv: box \(0, 0, 65, 48\) of image .*a\.png lies outside the 64x48"):
        load_dataset(folder_spec(tree, boxes=str(csv)))
    csv.write_text("cat/c.jpg,0,0,20,20\nzebra.png,0,0,5,5\n")
    with pytest.raises(HeatcheckError, match=r"b\.csv line 2: image 'zebra.png' is not in"):
        load_dataset(folder_spec(tree, boxes=str(csv)))
    csv.write_text("cat/c.jpg,0,0,20,20\n")
    with pytest.raises(HeatcheckError, match=r"b\.csv: no box for image .*a\.png"):
        load_dataset(folder_spec(tree, boxes=str(csv)))
    classes = tmp_path / "classes.txt"
    classes.write_text("dog\nbird\n")
    with pytest.raises(HeatcheckError, match=r"class 'cat' is not in the class list"):
        load_dataset(folder_spec(tree, classes=str(classes)))
    truncate(tree / "dog" / "b.png")
    with pytest.raises(HeatcheckError, match=r"b\.png: cannot decode image"):
        load_dataset(folder_spec(tree))
    assert load_dataset(folder_spec(tree, skip_corrupt=True)).splits["eval"].ids == ["cat/c", "dog/a"]


def test_folder_class_file_and_imagenet_index(tmp_path):
    root = tmp_path / "imgs"
    png(root / "n02123045" / "x.png", 40, 40)  # tabby, ImageNet output 281
    ld = load_dataset(folder_spec(root, classes="imagenet"))
    assert len(ld.class_names) == 1000 and ld.splits["eval"].labels.tolist() == [281]
    classes = tmp_path / "c.txt"
    classes.write_text("# my classes\nzebra striped horse\nn02123045 tabby\n")
    assert load_dataset(folder_spec(root, classes=str(classes))).splits["eval"].labels.tolist() == [1]


def test_photos_export_is_the_folder_layout_with_hand_labels(tmp_path):
    images, boxes = export_photos(tmp_path, ["chelsea", "coffee"])
    assert sorted(p.relative_to(images).as_posix() for p in images.rglob("*.png")) == [
        "n02123045/chelsea.png", "n07920052/coffee.png"]
    ld = load_dataset({"kind": "photos", "photos": ["coffee", "chelsea"], "resize": 256, "size": 224})
    ev = ld.splits["eval"]
    assert ev.ids == ["n02123045/chelsea", "n07920052/coffee"] and ev.labels.tolist() == [281, 967]
    assert ev.images.shape == (2, 3, 224, 224) and ld.mean == (0.485, 0.456, 0.406)
    # coffee 600x400 -> 384x256, crop left 80, top 16: the cup (170, 15, 412, 305) -> scaled by 0.64
    assert ev.boxes[1, 0].tolist() == [28, 0, 184, 180]
    assert set(PHOTOS) == {"chelsea", "coffee", "camera", "rocket"}


def arrays_data(n=5, h=12, w=10):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    masks = np.zeros((n, h, w), np.uint8)
    masks[:, 2:6, 3:7] = 1
    return images, np.arange(n) % 3, masks


def test_arrays_npz_and_zarr(tmp_path):
    images, labels, masks = arrays_data()
    npz = tmp_path / "d.npz"
    np.savez(npz, images=images, labels=labels, masks=masks)
    ld = load_dataset({"kind": "arrays", "path": str(npz), "images": "images", "labels": "labels",
                       "masks": "masks", "boxes": "boxes", "classes": None, "num_classes": None,
                       "mean": None, "std": None})
    ev = ld.splits["eval"]
    assert ev.images.shape == (5, 3, 12, 10) and np.allclose(ev.images[1, :, 0, 0], images[1, 0, 0] / 255)
    assert ev.ids == ["000000", "000001", "000002", "000003", "000004"] and ld.class_names == ["0", "1", "2"]
    assert ev.masks.sum() == 5 * 16 and ev.boxes[0, 0].tolist() == [3, 2, 7, 6]
    spec = {"kind": "arrays", "path": str(npz), "images": "images"}
    assert kind_facts(spec).side == 10 and kind_facts(spec).n_eval == 5
    # a zarr store, channels first, float, one channel, explicit boxes
    store = tmp_path / "d.zarr"
    g = zarr.open_group(str(store), mode="w")
    g.create_array("x", data=(images[:, None, :, :, 0] / 255.0).astype(np.float32))
    g.create_array("y", data=labels)
    g.create_array("b", data=np.array([[0, 0, 5, 5]] * 5, np.int32))
    ld = load_dataset({"kind": "arrays", "path": str(store), "images": "x", "labels": "y", "masks": "masks",
                       "boxes": "b", "classes": None, "num_classes": 4})
    ev = ld.splits["eval"]
    assert ev.images.shape == (5, 3, 12, 10) and np.array_equal(ev.images[:, 0], ev.images[:, 2])
    assert ev.masks is None and ev.boxes.shape == (5, 1, 4) and len(ld.class_names) == 4
    assert kind_facts({"kind": "arrays", "path": str(store), "images": "x"}).side == 10


def test_arrays_errors_name_the_file_and_key(tmp_path):
    images, labels, masks = arrays_data()
    npz = tmp_path / "d.npz"
    base = {"kind": "arrays", "path": str(npz), "images": "images", "labels": "labels", "masks": "masks",
            "boxes": "boxes", "classes": None, "num_classes": None}
    with pytest.raises(HeatcheckError, match=r"d\.npz \(key 'path'\) does not exist"):
        load_dataset(base)
    np.savez(npz, images=images, labels=labels, masks=masks[:, :, :5])
    with pytest.raises(HeatcheckError, match=r"d\.npz: masks 'masks' have shape \(5, 12, 5\), the images need \(5, 12, 10\)"):
        load_dataset(base)
    np.savez(npz, images=images, labels=labels, boxes=np.array([[0, 0, 11, 5]] * 5))
    with pytest.raises(HeatcheckError, match=r"box \(0, 0, 11, 5\) of image 0 lies outside the 10x12 image"):
        load_dataset(base)
    np.savez(npz, images=images * 1.0, labels=labels)
    with pytest.raises(HeatcheckError, match=r"float images 'images' must be finite and in \[0, 1\]"):
        load_dataset(base)
    with pytest.raises(HeatcheckError, match=r"has no array 'pics' \(key 'images'\)"):
        load_dataset({**base, "images": "pics"})
    npz.write_bytes(b"garbage")
    with pytest.raises(HeatcheckError, match=r"d\.npz \(key 'path'\) is unreadable"):
        load_dataset(base)
