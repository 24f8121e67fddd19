"""Real-data kinds (imagenet, voc, cifar10) on tiny fixtures written in the exact on-disk formats."""

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from heatcheck import HeatcheckError
from heatcheck.data import load_dataset
from heatcheck.data.images import resize_centre_crop

TENCH, GOLDFISH, WHITE_SHARK = "n01440764", "n01443537", "n01484850"  # indexes 0, 1, 2


# ---------------------------------------------------------------- fixture writers

def jpeg(path: Path, w: int, h: int, colour=(200, 30, 30), mode="RGB", noise=False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if noise:
        arr = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        im = Image.fromarray(arr)
    else:
        im = Image.new("RGB", (w, h), colour)
    if mode != "RGB":
        im = im.convert(mode)
    im.save(path, "JPEG", quality=95)
    return path


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def voc_xml(path: Path, w: int, h: int, objects, folder="VOC2012") -> Path:
    """Pascal VOC / ILSVRC annotation; ``objects`` = (name, (xmin, ymin, xmax, ymax), difficult)."""
    objs = "".join(
        f"<object><name>{n}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>{int(d)}</difficult><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for n, b, d in objects)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<annotation><folder>{folder}</folder><filename>{path.stem}</filename>"
                    f"<source><database>ILSVRC_2012</database></source><size><width>{w}</width>"
                    f"<height>{h}</height><depth>3</depth></size><segmented>0</segmented>{objs}"
                    "</annotation>")
    return path


def class_file(path: Path, *wnids: str) -> str:
    path.write_text("".join(f"{w} some name, other name\n" for w in wnids) + "\n")
    return str(path)


def imagenet_spec(root, **kw):
    spec = {"kind": "imagenet", "root": str(root), "boxes": None, "classes": None,
            "images_per_class": 2, "resize": 40, "size": 32, "skip_corrupt": False}
    spec.update(kw)
    return spec


@pytest.fixture
def valprep(tmp_path):
    """Class-subfolder layout: 3 images of tench and white shark, 1 of goldfish (not listed)."""
    root = tmp_path / "val"
    for k, (w, h) in enumerate([(80, 50), (45, 60), (40, 40)]):
        jpeg(root / TENCH / f"ILSVRC2012_val_0000010{k}.JPEG", w, h)
        jpeg(root / WHITE_SHARK / f"ILSVRC2012_val_0000020{k}.JPEG", h, w, colour=(20, 200, 20))
    jpeg(root / GOLDFISH / "ILSVRC2012_val_00000300.JPEG", 50, 50)
    return root, class_file(tmp_path / "classes.txt", TENCH, WHITE_SHARK)


# ---------------------------------------------------------------- imagenet

def test_imagenet_class_folders(valprep):
    root, classes = valprep
    ld = load_dataset(imagenet_spec(root, classes=classes))
    assert set(ld.splits) == {"eval"}
    ev = ld.splits["eval"]
    assert ev.images.shape == (4, 3, 32, 32) and ev.images.dtype == np.float32
    assert 0 <= ev.images.min() and ev.images.max() <= 1
    # round robin over the classes: each one's first image, then each one's second
    assert ev.labels.dtype == np.int64 and ev.labels.tolist() == [0, 2, 0, 2]
    assert ld.class_names[2] == WHITE_SHARK and len(ld.class_names) == 1000
    assert ev.ids == ["ILSVRC2012_val_00000100", "ILSVRC2012_val_00000200",
                      "ILSVRC2012_val_00000101", "ILSVRC2012_val_00000201"]
    # no XML anywhere: no boxes for this load
    assert ev.boxes is None and ev.masks is None and ld.attrs["has_boxes"] is False
    assert ld.mean == (0.485, 0.456, 0.406) and ld.attrs["layout"] == "class folders"
    # colours survive (red tench, green shark)
    assert ev.images[0, 0].mean() > 0.7 and ev.images[1, 1].mean() > 0.7


def test_imagenet_all_images_and_box_transform(valprep, tmp_path):
    root, classes = valprep
    boxes = tmp_path / "bbox"
    # 80x50 -> resize 40: 64x40 (scale 0.8), centre crop 32: left 16, top 4.
    # (33, 6, 50, 45) 1-based inclusive = [32, 50) x [5, 45) -> scaled [25.6, 40) x [4, 36)
    # -> in the crop [9.6, 24) x [0, 32) -> (9, 0, 24, 32) covering every touched pixel
    voc_xml(boxes / "ILSVRC2012_val_00000100.xml", 80, 50,
            [(TENCH, (33, 6, 50, 45), 0), (GOLDFISH, (1, 1, 10, 10), 0), (TENCH, (1, 1, 80, 50), 0)])
    for stem in ["ILSVRC2012_val_00000101", "ILSVRC2012_val_00000102"]:
        voc_xml(boxes / f"{stem}.xml", 45, 60, [(TENCH, (1, 1, 45, 60), 0)])
    for k in range(3):
        voc_xml(boxes / f"ILSVRC2012_val_0000020{k}.xml", 60, 45, [(WHITE_SHARK, (1, 1, 5, 5), 0)])
    ld = load_dataset(imagenet_spec(root, classes=classes, boxes=str(boxes), images_per_class=None))
    ev = ld.splits["eval"]
    assert len(ev) == 6 and ld.attrs["has_boxes"] is True
    assert ev.boxes.dtype == np.int32 and ev.boxes.shape == (6, 2, 4)
    assert ev.boxes[0].tolist() == [[9, 0, 24, 32], [0, 0, 32, 32]]  # goldfish box dropped
    assert ev.ids[2] == "ILSVRC2012_val_00000101" and ev.boxes[2].tolist() == [[0, 0, 32, 32], [-1, -1, -1, -1]]
    # shark 60x45 -> 53x40, left 10: box [0, 5) x [0, 5) -> [0, 4.4) x [0, 4.4) -> off the crop
    # on the left, clipped away entirely
    assert ev.ids[1] == "ILSVRC2012_val_00000200" and (ev.boxes[1] == -1).all()


def test_resize_centre_crop_matches_torchvision():
    import torch
    from torchvision import transforms as T

    arr = np.random.default_rng(1).integers(0, 256, (37, 83, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    ours, _ = resize_centre_crop(im, 40, 32)
    theirs = T.Compose([T.Resize(40), T.CenterCrop(32), T.ToTensor()])(im)
    assert torch.allclose(torch.from_numpy(ours), theirs, atol=1e-6)


def test_imagenet_flat_layout(tmp_path):
    root, boxes = tmp_path / "val", tmp_path / "bbox"
    names = [GOLDFISH, TENCH, GOLDFISH, WHITE_SHARK, GOLDFISH]
    for k, wnid in enumerate(names, start=1):
        jpeg(root / f"ILSVRC2012_val_{k:08d}.JPEG", 48, 40)
        voc_xml(boxes / f"ILSVRC2012_val_{k:08d}.xml", 48, 40, [(wnid, (5, 5, 20, 20), 0)])
    classes = class_file(tmp_path / "c.txt", GOLDFISH, TENCH)
    ld = load_dataset(imagenet_spec(root, classes=classes, boxes=str(boxes)))
    ev = ld.splits["eval"]
    assert ld.attrs["layout"] == "flat" and ld.attrs["has_boxes"]
    assert ev.ids == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002", "ILSVRC2012_val_00000003"]
    assert ev.labels.tolist() == [1, 0, 1]
    # XMLs next to the images (boxes: None) work the same
    for x in boxes.iterdir():
        x.rename(root / x.name)
    ld2 = load_dataset(imagenet_spec(root, classes=classes))
    assert ld2.splits["eval"].ids == ev.ids and np.array_equal(ld2.splits["eval"].boxes, ev.boxes)


def test_imagenet_flat_layout_needs_xml(tmp_path):
    jpeg(tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG", 20, 20)
    with pytest.raises(HeatcheckError, match="ILSVRC2012_val_00000001.xml"):
        load_dataset(imagenet_spec(tmp_path / "val"))


def test_imagenet_shipped_class_list(tmp_path):
    root = tmp_path / "val"
    jpeg(root / WHITE_SHARK / "a.JPEG", 30, 30)
    # the coherency list starts with the white shark; its second class has no folder
    with pytest.raises(HeatcheckError) as e:
        load_dataset(imagenet_spec(root))
    assert "n01530575" in str(e.value) and str(root) in str(e.value)


def test_imagenet_errors(valprep, tmp_path):
    root, classes = valprep
    with pytest.raises(HeatcheckError, match="'root'"):
        load_dataset(imagenet_spec(tmp_path / "nowhere", classes=classes))
    bad = class_file(tmp_path / "bad.txt", TENCH, "n99999999")
    with pytest.raises(HeatcheckError, match="n99999999") as e:
        load_dataset(imagenet_spec(root, classes=bad))
    assert "bad.txt" in str(e.value)
    empty = class_file(tmp_path / "empty.txt", TENCH, "n01491361")  # a real wnid, no folder
    with pytest.raises(HeatcheckError, match="n01491361") as e:
        load_dataset(imagenet_spec(root, classes=empty))
    assert str(root / "n01491361") in str(e.value)
    with pytest.raises(HeatcheckError, match="'boxes'"):
        load_dataset(imagenet_spec(root, classes=classes, boxes=str(tmp_path / "nobox")))


def test_imagenet_truncated_jpeg(valprep, caplog, monkeypatch):
    from PIL import ImageFile

    root, classes = valprep
    bad = truncate(jpeg(root / TENCH / "ILSVRC2012_val_00000099.JPEG", 64, 64, noise=True))
    # detected even when another library told PIL to accept truncated files
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(HeatcheckError, match="ILSVRC2012_val_00000099.JPEG"):
        load_dataset(imagenet_spec(root, classes=classes))
    with caplog.at_level(logging.WARNING):
        ld = load_dataset(imagenet_spec(root, classes=classes, skip_corrupt=True))
    ev = ld.splits["eval"]
    assert "ILSVRC2012_val_00000099" not in ev.ids and len(ev) == 3
    assert ld.attrs["skipped"] == [str(bad)] and "ILSVRC2012_val_00000099.JPEG" in caplog.text


def test_imagenet_validates_before_decoding(valprep, tmp_path):
    root, _ = valprep
    truncate(jpeg(root / TENCH / "ILSVRC2012_val_00000099.JPEG", 64, 64, noise=True))
    classes = class_file(tmp_path / "c.txt", TENCH, "n01491361")
    with pytest.raises(HeatcheckError, match="n01491361"):  # not the truncated file
        load_dataset(imagenet_spec(root, classes=classes))


def test_imagenet_grey_and_cmyk_converted(tmp_path, caplog):
    root = tmp_path / "val"
    jpeg(root / TENCH / "grey.JPEG", 30, 30, colour=(128, 128, 128), mode="L")
    jpeg(root / TENCH / "cmyk.JPEG", 30, 30, colour=(200, 30, 30), mode="CMYK")
    with caplog.at_level(logging.WARNING):
        ld = load_dataset(imagenet_spec(root, classes=class_file(tmp_path / "c.txt", TENCH)))
    ev = ld.splits["eval"]
    assert ev.images.shape == (2, 3, 32, 32) and ev.ids == ["cmyk", "grey"]
    assert "grey.JPEG: L image" in caplog.text and "cmyk.JPEG: CMYK image" in caplog.text
    assert np.allclose(ev.images[1].mean(axis=(1, 2)), 128 / 255, atol=0.02)
    r, g, b = ev.images[0].mean(axis=(1, 2))
    assert r > 0.6 and g < 0.3 and b < 0.3


# ---------------------------------------------------------------- voc

def voc_spec(root, **kw):
    spec = {"kind": "voc", "root": str(root), "train_set": "train", "eval_set": "val", "size": 32,
            "margin": 0.0, "min_size": 16, "skip_difficult": True, "max_train": None,
            "max_eval": None, "skip_corrupt": False}
    spec.update(kw)
    return spec


@pytest.fixture
def voc(tmp_path):
    root = tmp_path / "VOCdevkit" / "VOC2012"
    # image 1 (100x80): a red dog on black, a difficult person, a bottle too small to keep
    im = np.zeros((80, 100, 3), dtype=np.uint8)
    im[20:50, 20:60] = (255, 0, 0)
    (root / "JPEGImages").mkdir(parents=True)
    Image.fromarray(im).save(root / "JPEGImages" / "2008_000001.jpg", quality=95)
    voc_xml(root / "Annotations" / "2008_000001.xml", 100, 80,
            [("dog", (21, 21, 60, 50), 0), ("person", (1, 1, 40, 80), 1), ("bottle", (70, 10, 79, 60), 0)])
    jpeg(root / "JPEGImages" / "2008_000002.jpg", 64, 48)
    voc_xml(root / "Annotations" / "2008_000002.xml", 64, 48, [("cat", (5, 5, 60, 40), 0)])
    jpeg(root / "JPEGImages" / "2008_000003.jpg", 50, 50)
    voc_xml(root / "Annotations" / "2008_000003.xml", 50, 50,
            [("tvmonitor", (1, 1, 50, 50), 0), ("aeroplane", (10, 10, 40, 30), 0)])
    sets = root / "ImageSets" / "Main"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text("2008_000001\n2008_000002\n")
    (sets / "val.txt").write_text("2008_000003\n")
    return root


def test_voc_crops(voc):
    ld = load_dataset(voc_spec(voc))
    tr, ev = ld.splits["train"], ld.splits["eval"]
    assert tr.ids == ["2008_000001-0", "2008_000002-0"] and tr.labels.tolist() == [11, 7]
    assert ev.ids == ["2008_000003-0", "2008_000003-1"] and ev.labels.tolist() == [19, 0]
    assert tr.images.shape == (2, 3, 32, 32) and tr.images.dtype == np.float32
    assert tr.boxes.shape == (2, 1, 4) and tr.boxes.dtype == np.int32 and tr.masks is None
    assert (tr.boxes[:, 0] == [0, 0, 32, 32]).all() and (ev.boxes[:, 0] == [0, 0, 32, 32]).all()
    # the crop of the dog is the red rectangle only (JPEG chroma blurs its rim)
    assert tr.images[0, 0, 4:-4, 4:-4].min() > 0.9 and tr.images[0, 1:, 4:-4, 4:-4].max() < 0.1
    assert ld.class_names[11] == "dog" and len(ld.class_names) == 20
    assert ld.std == (0.229, 0.224, 0.225)


def test_voc_margin_difficult_and_limits(voc):
    ld = load_dataset(voc_spec(voc, margin=0.5, skip_difficult=False, max_train=2, max_eval=1))
    tr = ld.splits["train"]
    assert tr.ids == ["2008_000001-0", "2008_000001-1"] and tr.labels.tolist() == [11, 14]
    # dog [20, 60) x [20, 50), margin 0.5 -> crop [0, 80) x [5, 65) -> box (8, 8, 24, 24) in 32 px
    assert tr.boxes[0, 0].tolist() == [8, 8, 24, 24]
    assert len(ld.splits["eval"]) == 1
    assert "train" not in load_dataset(voc_spec(voc, train_set=None)).splits


def test_voc_errors(voc, tmp_path):
    with pytest.raises(HeatcheckError, match="JPEGImages"):
        load_dataset(voc_spec(tmp_path / "nowhere"))
    with pytest.raises(HeatcheckError, match="trainval.txt"):
        load_dataset(voc_spec(voc, train_set="trainval"))
    voc_xml(voc / "Annotations" / "2008_000002.xml", 64, 48, [("kitten", (5, 5, 60, 40), 0)])
    with pytest.raises(HeatcheckError, match="2008_000002.xml"):
        load_dataset(voc_spec(voc))
    (voc / "Annotations" / "2008_000002.xml").unlink()
    with pytest.raises(HeatcheckError, match="2008_000002.xml"):
        load_dataset(voc_spec(voc))


def test_voc_corrupt_image(voc):
    truncate(jpeg(voc / "JPEGImages" / "2008_000003.jpg", 64, 64, noise=True))
    with pytest.raises(HeatcheckError, match="2008_000003.jpg"):
        load_dataset(voc_spec(voc))
    ld = load_dataset(voc_spec(voc, skip_corrupt=True))
    assert len(ld.splits["eval"]) == 0 and len(ld.splits["train"]) == 2
    assert ld.attrs["skipped"] == [str(voc / "JPEGImages" / "2008_000003.jpg")]


# ---------------------------------------------------------------- cifar10

def write_cifar(folder: Path, n_per_batch=4, n_test=3):
    """Batches as the real files: protocol-2 pickles with bytes keys, (N, 3072) uint8 rows."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"num_cases_per_batch": n_per_batch, b"label_names": names, b"num_vis": 3072}, f, 2)
    for name, n in [(f"data_batch_{i}", n_per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        batch = {b"batch_label": f"{name} of 5".encode(),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"filenames": [f"{name}_img_s_{k:06d}.png".encode() for k in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, 2)


def cifar_spec(root, **kw):
    spec = {"kind": "cifar10", "root": str(root), "max_train": None, "max_eval": None}
    spec.update(kw)
    return spec


def test_cifar10(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    for root in (folder, tmp_path):  # the batch folder or the folder holding it
        ld = load_dataset(cifar_spec(root))
        tr, ev = ld.splits["train"], ld.splits["eval"]
        assert tr.images.shape == (20, 3, 32, 32) and ev.images.shape == (3, 3, 32, 32)
        assert tr.images.dtype == np.float32 and 0 <= tr.images.min() and tr.images.max() <= 1
        assert ev.ids == ["test_batch_img_s_000000", "test_batch_img_s_000001", "test_batch_img_s_000002"]
        assert tr.boxes is None and tr.masks is None and ld.class_names[9] == "truck"
    with open(folder / "data_batch_2", "rb") as f:
        b2 = pickle.load(f, encoding="bytes")
    # row layout: 1024 red, 1024 green, 1024 blue values, each row-major
    assert np.allclose(tr.images[5] * 255, b2[b"data"][1].reshape(3, 32, 32), atol=1e-3)
    assert tr.labels[5] == b2[b"labels"][1] and tr.ids[5] == "data_batch_2_img_s_000001"
    assert np.allclose(ld.mean, tr.images.mean(axis=(0, 2, 3)), atol=1e-6)
    assert np.allclose(ld.std, tr.images.std(axis=(0, 2, 3)), atol=1e-6)
    small = load_dataset(cifar_spec(folder, max_train=6, max_eval=2))
    assert len(small.splits["train"]) == 6 and len(small.splits["eval"]) == 2
    assert small.splits["train"].ids[5] == "data_batch_2_img_s_000001"


def test_cifar10_errors(tmp_path):
    with pytest.raises(HeatcheckError, match="'root'"):
        load_dataset(cifar_spec(tmp_path / "nowhere"))
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / "data_batch_4").unlink()
    with pytest.raises(HeatcheckError, match="data_batch_4"):
        load_dataset(cifar_spec(tmp_path))


# ---------------------------------------------------------------- a bigger study keeps the images

def test_imagenet_more_images_per_class_keeps_the_first_ones(valprep):
    from test_data import assert_same_first_images

    root, classes = valprep
    small, big = (load_dataset(imagenet_spec(root, classes=classes, images_per_class=k)) for k in (1, 3))
    assert_same_first_images(small, big, 2)


def test_voc_bigger_max_eval_keeps_the_first_objects(voc):
    from test_data import assert_same_first_images

    (voc / "ImageSets" / "Main" / "all.txt").write_text("2008_000001\n2008_000002\n2008_000003\n")
    small, big = (load_dataset(voc_spec(voc, eval_set="all", max_eval=k)) for k in (2, None))
    assert_same_first_images(small, big, 2)


def test_cifar10_bigger_max_eval_keeps_the_first_images(tmp_path):
    from test_data import assert_same_first_images

    write_cifar(tmp_path / "cifar-10-batches-py", n_test=16)
    small, big = (load_dataset(cifar_spec(tmp_path, max_eval=k)) for k in (8, 16))
    assert_same_first_images(small, big, 8)
