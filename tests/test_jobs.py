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


def _in_job_thread(*args, **kwargs) -> None:
    """``jobs._call(*args, **kwargs)`` from a thread other than the main one, as Snakemake runs a
    job's ``run:`` block (own-process work then goes to the worker pool); its error re-raised."""
    out = {}

    def job():
        try:
            jobs._call(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    t = threading.Thread(target=job)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]


def _traced_job(d, explainer: str, tag: str) -> np.ndarray:
    """One traced-model shard job as the compute_saliency rule runs it: from a job thread, with
    own_process (LRP and DeepSHAP trace the model)."""
    array = d / f"{explainer}-{tag}.zarr"
    init_saliency(d / "images.zarr", d / "m.pt", array, explainer, PARAMS[explainer], 6, None)
    _in_job_thread("heatcheck.saliency.compute_shard", 1, str(d / f"{explainer}-{tag}.log"), str(d / "images.zarr"),
                   str(d / "m.pt"), str(array), explainer, PARAMS[explainer], 0, 6, own_process=True,
                   report_path=str(d / f"{explainer}-{tag}.json"))
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


def _training_job(d, spec, out):
    """A training job as the train_model rule runs it: from a job thread, in a seeded worker."""
    _in_job_thread("heatcheck.models.train.train_model", 1, str(out.with_suffix(".log")), str(d / "images.zarr"),
                   spec, str(out), str(out.with_suffix(".json")), own_process=True, global_seed=spec["seed"],
                   name=out.stem)


def test_training_runs_seeded_in_a_worker_that_the_traced_jobs_then_reuse(study, tmp_path):
    """Training draws from the global generators, so it runs in a worker, seeded there as a
    script job was: a fresh worker and one that ran other jobs before train the same weights,
    and the worker stays for the traced-model jobs after it."""
    from heatcheck.models import load_checkpoint

    spec = {"arch": "lenet_gap", "source": "train", "epochs": 1, "lr": 0.05, "weight_decay": 5e-4,
            "train_batch_size": 4, "augment": True, "seed": 3, "min_gain": 0.0, "weights": None}
    _fresh_pool()
    _training_job(study, spec, tmp_path / "fresh.pt")
    workers = set(jobs._POOL._processes)
    assert len(workers) == 1 and (tmp_path / "fresh.log").read_text().count("epoch 1/1") == 1
    _traced_job(study, "lrp", "h")
    _traced_job(study, "deepshap", "i")
    assert set(jobs._POOL._processes) == workers  # the traced jobs ran in the training's worker
    _training_job(study, spec, tmp_path / "reused.pt")  # after them, in the same worker
    assert set(jobs._POOL._processes) == workers
    _fresh_pool()
    fresh = load_checkpoint(tmp_path / "fresh.pt")[0].state_dict()
    reused = load_checkpoint(tmp_path / "reused.pt")[0].state_dict()
    assert all(torch.equal(fresh[k], reused[k]) for k in fresh)
    other = dict(spec, seed=4)
    _training_job(study, other, tmp_path / "other.pt")
    _fresh_pool()
    assert not torch.equal(load_checkpoint(tmp_path / "other.pt")[0].state_dict()["fc.weight"], fresh["fc.weight"])
    with pytest.raises(ValueError, match="needs a process of its own"):
        jobs._call("heatcheck.models.train.train_model", 1, None, global_seed=0)


def test_a_worker_does_not_rerun_the_parents_main_script(tmp_path):
    """Snakemake's console script is the main module of the process that starts the workers: a
    spawned child would run it again (importing all of Snakemake, 1-10 s) before its first task."""
    import subprocess
    import sys
    from pathlib import Path

    marker = tmp_path / "main-ran-in"
    main = tmp_path / "main.py"
    main.write_text(f"""
import os, sys
with open({str(marker)!r}, "a") as fh:
    fh.write(__name__ + "\\n")
sys.path.insert(0, {str(Path(jobs.__file__).parents[1])!r})
from heatcheck import jobs
if __name__ == "__main__":
    print(jobs._worker_pool().submit(os.getpid).result() != os.getpid())
""")
    out = subprocess.run([sys.executable, str(main)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"  # the task ran in another process ...
    assert marker.read_text().split() == ["__main__"]  # ... which did not run main.py as __mp_main__


def test_a_job_writes_its_wall_time_next_to_its_log_only_when_it_succeeds(tmp_path):
    log = tmp_path / "results" / "shapes" / "logs" / "score_metric" / "insertion" / "lenet" / "grad" / "0.log"
    assert jobs.timing_path(log) == tmp_path / "results/shapes/benchmarks/score_metric/insertion/lenet/grad/0.tsv"
    assert jobs.timing_path(tmp_path / "x.log") is None

    @jobs.timed
    def job(input, output, params, wildcards, threads, log, config):
        import time
        time.sleep(params["sleep"])
        if params.get("fail"):
            raise HeatcheckError("failed")

    job([], [], {"sleep": 0.2}, {}, 1, [str(log)], {})
    import pandas as pd

    table = pd.read_csv(jobs.timing_path(log), sep="\t")
    assert list(table.columns) == list(jobs.TIMING_COLUMNS) and len(table) == 1
    assert 0.2 <= table["s"].iloc[0] < 5 and table["h:m:s"].iloc[0] == "00:00:00"
    failed = log.with_name("1.log")
    with pytest.raises(HeatcheckError):
        job([], [], {"sleep": 0.0, "fail": True}, {}, 1, [str(failed)], {})
    assert not jobs.timing_path(failed).exists()
    job([], [], {"sleep": 0.0}, {}, 1, [str(tmp_path / "elsewhere.log")], {})  # succeeds, untimed
    assert not list(tmp_path.glob("*.tsv")) and not (tmp_path / "benchmarks").exists()
