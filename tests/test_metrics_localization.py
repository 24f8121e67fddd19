"""CLEVR-XAI's relevance mass and rank accuracy on tiny maps and masks computed by hand."""

import numpy as np
import pytest
import torch

from heatcheck import HeatcheckError
from heatcheck.costs import metric_passes
from heatcheck.metrics import METRICS, make_metric
from heatcheck.metrics.localization import boxes_to_masks, relevance_mass_accuracy, relevance_rank_accuracy

MAP = np.array([[[4.0, -2.0, 0.0],
                 [1.0, 3.0, -1.0],
                 [0.0, 2.0, 0.0]]])
MASK = np.array([[[True, True, False],
                  [False, True, False],
                  [False, False, False]]])


def test_mass_by_hand():
    # positive relevance 4 + 1 + 3 + 2 = 10; inside the mask 4 + 0 (the -2 does not count) + 3 = 7
    assert np.isclose(relevance_mass_accuracy(MAP, MASK)[0], 0.7)
    # scale-free, and a map without positive relevance gets no credit
    assert np.isclose(relevance_mass_accuracy(5 * MAP, MASK)[0], 0.7)
    assert relevance_mass_accuracy(-np.abs(MAP), MASK)[0] == 0.0


def test_rank_by_hand():
    # |GT| = 3; the top 3 values are 4 (in), 3 (in), 2 (out): 2 of 3
    assert np.isclose(relevance_rank_accuracy(MAP, MASK)[0], 2 / 3)
    # ranking uses the signed value: -2 is the least relevant, even though |-2| is large
    flipped = MAP.copy()
    flipped[0, 2, 1] = -5.0  # the 2 outside becomes very negative: top 3 = 4, 3, 1 (1 is outside)
    assert np.isclose(relevance_rank_accuracy(flipped, MASK)[0], 2 / 3)


def test_rank_ties_count_by_expectation():
    # top 3 of [5, 1, 1, 1, 1, 0, ...]: 5 (in) and two of the four 1s, of which 1 lies in the mask:
    # expected overlap 1 + 2 * 1/4 = 1.5, over |GT| = 3
    m = np.array([[[5.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])
    g = np.array([[[True, True, False], [False, False, False], [True, False, False]]])
    assert np.isclose(relevance_rank_accuracy(m, g)[0], 1.5 / 3)
    # a constant map scores chance, |GT| / (H W), whatever the order of the pixels
    assert np.isclose(relevance_rank_accuracy(np.zeros((1, 3, 3)), g)[0], 3 / 9)
    assert np.isclose(relevance_rank_accuracy(np.zeros((1, 3, 3)), g[:, ::-1])[0], 3 / 9)


def test_empty_mask_is_nan_and_a_batch_is_scored_row_by_row():
    maps = np.concatenate([MAP, MAP])
    masks = np.concatenate([MASK, np.zeros_like(MASK)])
    for f in (relevance_mass_accuracy, relevance_rank_accuracy):
        out = f(maps, masks)
        assert np.isfinite(out[0]) and np.isnan(out[1])


def test_boxes_become_masks():
    boxes = np.array([[[0, 0, 2, 1], [1, 1, 2, 3]], [[-1, -1, -1, -1], [2, 0, 9, 1]]])  # half-open, padded, clipped
    m = boxes_to_masks(boxes, 3, 3)
    assert m[0].tolist() == [[True, True, False], [False, True, False], [False, True, False]]
    assert m[1].tolist() == [[False, False, True], [False, False, False], [False, False, False]]


def test_metric_prefers_masks_falls_back_to_boxes_and_says_which():
    boxes = np.array([[[0, 0, 2, 2]]])  # the top-left 2x2: contains 4, -2, 1, 3
    sal = torch.from_numpy(MAP)
    # box as the mask: mass (4 + 1 + 3) / 10; rank: |GT| = 4, top 4 = 4, 3, 2, 1 -> 3 inside
    for name, on_mask, on_box in (("relevance_mass", 0.7, 0.8), ("relevance_rank", 2 / 3, 3 / 4)):
        m = make_metric(name, {})
        r = m(None, None, sal, None, boxes=boxes, masks=MASK)
        assert np.isclose(r.scores[0, 0], on_mask) and r.extra["mask_source"][0, 0] == "mask"
        assert np.isclose(r.extra["mask_fraction"][0, 0], 3 / 9)
        r = m(None, None, sal, None, boxes=boxes, masks=None)
        assert np.isclose(r.scores[0, 0], on_box) and r.extra["mask_source"][0, 0] == "box"
        r = make_metric(name, {"ground_truth": "box"})(None, None, sal, None, boxes=boxes, masks=MASK)
        assert r.extra["mask_source"][0, 0] == "box"
        with pytest.raises(HeatcheckError, match="needs object masks"):
            make_metric(name, {"ground_truth": "mask"})(None, None, sal, None, boxes=boxes, masks=None)


def test_registry_and_declarations():
    for name in ("relevance_mass", "relevance_rank"):
        cls = METRICS.get(name)
        assert cls.higher_is_better and cls.needs_boxes and not cls.binary
        assert cls.needs == ("boxes",) and metric_passes(name, {}, 32) == 0 == make_metric(name, {}).passes_per_image(32)


def test_schema_sections_and_box_check():
    import yaml

    from heatcheck.config import check_config

    with open("config.yaml") as fh:
        cfg = yaml.safe_load(fh)
    cfg["metrics"] = {"relevance_mass": None, "relevance_rank": {"ground_truth": "box"}}
    check_config(cfg)
    assert cfg["metrics"] == {"relevance_mass": {"ground_truth": "auto"}, "relevance_rank": {"ground_truth": "box"}}
    cfg["datasets"]["cifar"] = {"kind": "cifar10", "root": "/data/cifar-10-batches-py"}
    with pytest.raises(HeatcheckError, match="metrics.relevance_mass needs object boxes"):
        check_config(cfg)


def test_scored_through_the_scoring_stage_with_the_source_column(tmp_path):
    """Real store (shapes masks), real checkpoint, the scoring stage and the table merge: the
    long table carries ``mask_source`` and equals the functions on the stored maps and masks."""
    import zarr

    from conftest import write_tiny_study
    from heatcheck.scoring import score_shard
    from heatcheck.store import DatasetStore
    from heatcheck.tables import merge_scores
    from test_scoring import finished_saliency, report

    d = write_tiny_study(tmp_path, n_train=12)
    finished_saliency(d, d / "sal.zarr", "edge", d / "r", d / "sal.json")
    shards = [d / f"rr{s}.npz" for s in range(3)]
    for s, out in enumerate(shards):
        score_shard(d / "images.zarr", d / "m.pt", report(d / "r", s), "relevance_rank", {"ground_truth": "auto"}, out)
    table = merge_scores(shards, d / "images.zarr", "shapes", "lenet", "edge", d / "rr.parquet")
    assert len(table) == 10 and set(table.mask_source) == {"mask"} and table.higher_is_better.all()
    masks = DatasetStore(d / "images.zarr").split("eval").masks[:]
    expected = relevance_rank_accuracy(zarr.open_array(str(d / "sal.zarr"))[:], masks)
    assert np.allclose(table.sort_values("image_index").score, expected)
    assert np.allclose(table.sort_values("image_index").mask_fraction, masks.reshape(10, -1).mean(1))
