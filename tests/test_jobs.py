"""heatcheck.jobs: jobs that must not share Snakemake's process run in reused worker processes."""

import threading

import numpy as np
import pytest
import torch
import zarr

from heatcheck import HeatcheckError, jobs
from heatcheck.data import load_dataset
from heatcheck.models import build_model, save_checkpoint
from heatcheck.shards import init_saliency
from heatcheck.store import write_dataset


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = tmp_path_factory.mktemp("jobs")
    data = load_dataset({"kind": "shapes", "size": 32, "n_train": 12, "n_eval": 6, "seed": 0,
                         "distractors": [1, 3], "clutter": 3})
    write_dataset(d / "images.zarr", data, "shapes")
    torch.manual_seed(0)
    save_checkpoint(d / "m.pt", build_model("lenet_gap", 6, 32).eval(), "lenet_gap", 6, 32, data.mean, data.std)
    return d


PARAMS = {"lrp": {"rule": "epsilon", "epsilon": 1.0}, "deepshap": {"background_size": 4}}


def _traced_job(d, explainer: str, tag: str) -> np.ndarray:
    """One traced-model shard job as the compute_saliency rule runs it: from a job thread, with
    own_process (LRP and DeepSHAP trace the model)."""
    array = d / f"{explainer}-{tag}.zarr"
    init_saliency(d / "images.zarr", d / "m.pt", array, explainer, PARAMS[explainer], 6, None)
    out = {}

    def job():
        try:
            jobs._call("heatcheck.saliency.compute_shard", 1, str(d / f"{explainer}-{tag}.log"), str(d / "images.zarr"),
                       str(d / "m.pt"), str(array), explainer, PARAMS[explainer], 0, 6, own_process=True,
                       report_path=str(d / f"{explainer}-{tag}.json"))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    t = threading.Thread(target=job)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return zarr.open_array(str(array), mode="r")[:]


def _fresh_pool():
    if jobs._POOL is not None:
        jobs._discard_pool(jobs._POOL)


def test_a_reused_worker_computes_what_a_fresh_process_computes(study):
    _fresh_pool()
    shap_fresh = _traced_job(study, "deepshap", "a")
    workers = set(jobs._POOL._processes)
    lrp_after_shap = _traced_job(study, "lrp", "b")
    assert set(jobs._POOL._processes) == workers  # the second job reused the first one's worker
    _fresh_pool()
    lrp_fresh = _traced_job(study, "lrp", "c")
    shap_after_lrp = _traced_job(study, "deepshap", "d")
    _fresh_pool()
    assert np.isfinite(lrp_fresh).all() and np.abs(lrp_fresh).sum() > 0
    np.testing.assert_array_equal(lrp_after_shap, lrp_fresh)
    np.testing.assert_array_equal(shap_after_lrp, shap_fresh)


def test_a_dead_worker_fails_its_job_by_name_and_the_next_job_gets_a_new_one(study, monkeypatch):
    _fresh_pool()
    _traced_job(study, "lrp", "e")
    for proc in list(jobs._POOL._processes.values()):
        proc.kill()
        proc.join()
    with pytest.raises(HeatcheckError, match="worker process running heatcheck.saliency.compute_shard .* died"):
        _traced_job(study, "lrp", "f")
    assert np.isfinite(_traced_job(study, "lrp", "g")).all()
    _fresh_pool()
