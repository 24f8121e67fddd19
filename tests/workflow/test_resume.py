"""Resume after a kill, determinism, what a changed parameter reruns, damaged results (a saliency
store, a score shard, a score table), and growing a study.

One small study (``resume.yaml``: 12 images in 3 shards, 2 explainers, 2 metrics) is run
(1) without interruption, (2) killed with SIGKILL mid-run (Snakemake and its jobs) and resumed in
another directory, (3) damaged after completion (copies of (1)) and rerun, (4) grown to 16 images
(a copy of (1)) and compared with a 16-image study run from the start. The runs are shared
between the tests (module-scoped fixtures).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
import zarr

from conftest import run_snakemake, snakemake_command
from heatcheck import HeatcheckError
from heatcheck.store import open_saliency

HERE = Path(__file__).parent
RESUME = HERE / "resume.yaml"
CFG = yaml.safe_load(RESUME.read_text())
EXPLAINERS = list(CFG["explainers"])
METRICS = list(CFG["metrics"])
N_SHARDS = -(-CFG["datasets"]["shapes"]["n_eval"] // CFG["shard_size"])
RES = Path("results/shapes")
TIMEOUT = 900  # seconds; generous: the point is never to depend on the machine's speed


def shard_outputs(work: Path) -> list[Path]:
    """The saliency and metric shard outputs present now."""
    res = work / RES
    return sorted([*res.glob("saliency/*/*.shards/*.json"), *res.glob("scores/*/*/*.shards/*.npz")])


def job_files(work: Path, out: Path) -> list[Path]:
    """A shard output with its log and benchmark files."""
    rel = out.relative_to(work / RES)
    if rel.parts[0] == "saliency":  # saliency/{model}/{explainer}.shards/{shard}.json
        sub = Path("compute_saliency", rel.parts[1], rel.parts[2].removesuffix(".shards"), rel.stem)
    else:  # scores/{metric}/{model}/{explainer}.shards/{shard}.npz
        sub = Path("score_metric", *rel.parts[1:3], rel.parts[3].removesuffix(".shards"), rel.stem)
    res = work / RES
    return [out, res / "logs" / sub.with_suffix(".log"), res / "benchmarks" / sub.with_suffix(".tsv")]


def mtimes(paths) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in paths if p.exists()}


def wait_for(condition, what: str, proc: subprocess.Popen | None = None, timeout: float = TIMEOUT):
    t0 = time.monotonic()
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"snakemake ended (code {proc.returncode}) before {what}")
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The study run without interruption."""
    work = tmp_path_factory.mktemp("full")
    run_snakemake(work, RESUME)
    return work


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """The study killed (SIGKILL to Snakemake's whole process group) once some shards are done
    and others are running, then resumed with --rerun-incomplete."""
    work = tmp_path_factory.mktemp("killed")
    cmd, env = snakemake_command(work, RESUME)
    with open(work.parent / f"{work.name}.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            # three shard outputs: at most two jobs (2 cores) can be unfinished among them
            wait_for(lambda: len(shard_outputs(work)) >= 3, "three shard outputs existed", proc)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    wait_for(lambda: not group_alive(proc.pid), "the killed process group to be gone", timeout=60)
    at_kill = {out: mtimes(job_files(work, out)) for out in shard_outputs(work)}
    state = {
        "at_kill": at_kill,
        "final_existed": (work / RES / "scores.parquet").exists(),
        "markers": {e: (work / RES / f"saliency/lenet/{e}.json").exists() for e in EXPLAINERS},
        "arrays": {e: (work / RES / f"saliency/lenet/{e}.zarr").exists() for e in EXPLAINERS},
    }
    # what a reader sees of the interrupted run, before anything is resumed
    state["refused"] = {}
    for e in EXPLAINERS:
        if state["arrays"][e] and not state["markers"][e]:
            with pytest.raises(HeatcheckError, match="incomplete|unreadable") as exc:
                open_saliency(work / RES / f"saliency/lenet/{e}.zarr")
            state["refused"][e] = str(exc.value)
    t0 = time.monotonic()
    state["resume"] = run_snakemake(work, RESUME, "--rerun-incomplete")
    state["resume_seconds"] = time.monotonic() - t0
    return work, state


# --- 1. resume after a kill ----------------------------------------------------------------------


def test_kill_interrupted_the_shard_stage(killed):
    work, state = killed
    total = N_SHARDS * len(EXPLAINERS) * (1 + len(METRICS))
    assert 3 <= len(state["at_kill"]) < total and not state["final_existed"]
    out = state["resume"].stdout + state["resume"].stderr
    assert "compute_saliency" in out or "score_metric" in out  # the resume had shard work left
    assert not ran(state["resume"], "train_model") and not ran(state["resume"], "prepare_dataset")


def test_finished_shards_were_not_recomputed(killed):
    work, state = killed
    kept = [out for out, before in state["at_kill"].items() if mtimes(before) == before]
    redone = [out for out in state["at_kill"] if out not in kept]
    # only jobs still running at the kill (2 cores) may have left an output to redo; the finished
    # ones kept their output, log and (where written before the kill) benchmark files
    assert len(redone) <= 2, redone
    assert len(kept) >= 1 and all(len(state["at_kill"][out]) >= 2 for out in kept)


def test_half_written_arrays_were_refused_not_read(killed):
    _, state = killed
    for e, msg in state["refused"].items():
        assert f"{e}.zarr is incomplete" in msg or f"{e}.zarr is damaged: unreadable" in msg


def test_resumed_tables_equal_the_uninterrupted_run(full, killed):
    work, _ = killed
    pd.testing.assert_frame_equal(pd.read_parquet(full / RES / "scores.parquet"),
                                  pd.read_parquet(work / RES / "scores.parquet"), check_exact=True)
    assert (full / RES / "tables/summary.csv").read_bytes() == (work / RES / "tables/summary.csv").read_bytes()


# --- 2. determinism: two runs in two directories, bit-identical ------------------------------------


def test_same_config_gives_bit_identical_maps_and_scores(full, killed):
    work, _ = killed
    a, b = pd.read_parquet(full / RES / "scores.parquet"), pd.read_parquet(work / RES / "scores.parquet")
    assert len(a) == len(b) > 0 and set(a.explainer.str.partition("+")[0]) == set(EXPLAINERS)
    assert set(a.metric) == set(METRICS)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    for e in EXPLAINERS:
        x = zarr.open_array(str(full / RES / f"saliency/lenet/{e}.zarr"), mode="r")
        y = zarr.open_array(str(work / RES / f"saliency/lenet/{e}.zarr"), mode="r")
        assert x.attrs["model_checksum"] == y.attrs["model_checksum"]  # same trained weights
        assert x[:].tobytes() == y[:].tobytes(), e
    for m in METRICS:
        for e in EXPLAINERS:
            if m == "deletion":
                c = [zarr.open_array(str(w / RES / f"curves/{m}/lenet/{e}.zarr"), mode="r")[:] for w in (full, work)]
                assert c[0].tobytes() == c[1].tobytes()


# --- 3. a changed parameter reruns only what depends on it ------------------------------------------


def changed_config(tmp_path: Path, section: str, name: str, **params) -> Path:
    cfg = yaml.safe_load(RESUME.read_text())
    cfg[section][name] = {**(cfg[section][name] or {}), **params}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def dry_run_jobs(work: Path, configfile: Path) -> list[tuple[str, dict, str]]:
    """The jobs a dry run would run: (rule, wildcards, reason), checked against the job counts."""
    out = run_snakemake(work, configfile, "-n").stdout
    if "Nothing to be done" in out:
        return []
    table = out[out.index("Job stats:"):].split("\n\n")[0]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if head:
            wc = re.search(r"^\s+wildcards: (.*)$", block, re.M)
            reason = re.search(r"^\s+reason: (.*)$", block, re.M)
            jobs.append((head[1], dict(kv.split("=", 1) for kv in wc[1].split(", ")) if wc else {},
                         reason[1] if reason else ""))
    assert {r: sum(j[0] == r for j in jobs) for r in counts} == counts, out[-3000:]
    return jobs


@functools.lru_cache
def _base_jobs(work: Path) -> tuple:
    return tuple(dry_run_jobs(work, RESUME))


def added_jobs(work: Path, changed: Path) -> dict[str, list[tuple[dict, str]]]:
    """Jobs a changed config adds to the dry run of the unchanged one (which others' new rules
    downstream may make non-empty): rule -> [(wildcards, reason)]."""
    base = {(r, tuple(sorted(w.items()))) for r, w, _ in _base_jobs(work)}
    jobs = {}
    for rule, wc, reason in dry_run_jobs(work, changed):
        if (rule, tuple(sorted(wc.items()))) not in base:
            jobs.setdefault(rule, []).append((wc, reason))
    return jobs


def params_changed(jobs: dict) -> set[tuple[str, str]]:
    """(rule, metric/explainer/shard) of the jobs that rerun because their params changed.

    Snakemake's per-job reason, not ``--list-changes params``: in Snakemake 9.27 the latter names
    every output with recorded params, changed or not (``ParamsChange.__iter__`` ignores
    ``__bool__``).
    """
    return {(rule, "/".join(wc[k] for k in ("metric", "explainer", "shard") if k in wc))
            for rule, wcs in jobs.items() for wc, reason in wcs if "Params have changed" in reason}


def test_changed_explainer_parameter_reruns_only_that_explainer(full, tmp_path):
    jobs = added_jobs(full, changed_config(tmp_path, "explainers", "integrated_gradients", steps=4))
    # what the changed parameter reaches directly: the array (its attributes) and its shards (whose
    # reason Snakemake may give as the array being updated instead)
    direct = params_changed(jobs)
    assert ("init_saliency", "integrated_gradients") in direct
    assert direct <= {("init_saliency", "integrated_gradients"),
                      *(("compute_saliency", f"integrated_gradients/{k}") for k in range(N_SHARDS))}
    assert sorted(int(w["shard"]) for w, _ in jobs["compute_saliency"]) == list(range(N_SHARDS))
    # and downstream: that explainer's finalize, scores and curves, the tables
    assert len(jobs["finalize_saliency"]) == 1
    assert sorted((w["metric"], int(w["shard"])) for w, _ in jobs["score_metric"]) == \
        [(m, k) for m in sorted(METRICS) for k in range(N_SHARDS)]
    assert len(jobs["merge_scores"]) == len(METRICS) and len(jobs["collect_scores"]) == 1
    # never the data, the model, nor another explainer's saliency, scores or curves
    for rule in ("prepare_dataset", "train_model", "load_model", "compute_shapley"):
        assert rule not in jobs
    for rule, wcs in jobs.items():
        for wc, _ in wcs:
            assert wc.get("explainer", "integrated_gradients").partition("+")[0] == "integrated_gradients", rule


def test_changed_metric_parameter_reruns_only_that_metric(full, tmp_path):
    jobs = added_jobs(full, changed_config(tmp_path, "metrics", "average_drop", percentiles=[50, 80]))
    assert params_changed(jobs) == {("score_metric", f"average_drop/{e}/{k}") for e in EXPLAINERS
                                    for k in range(N_SHARDS)}
    assert len(jobs["merge_scores"]) == len(EXPLAINERS) and len(jobs["collect_scores"]) == 1
    for rule in ("prepare_dataset", "train_model", "init_saliency", "compute_saliency", "finalize_saliency",
                 "merge_curves"):
        assert rule not in jobs
    for rule, wcs in jobs.items():
        for wc, _ in wcs:
            assert wc.get("metric", "average_drop") == "average_drop", rule


def test_changed_batch_size_reruns_nothing(full, tmp_path):
    """batch_size changes how many inputs go through the model at once, not the results: no job
    reruns (nor does the memory it asks for, a resource, rerun anything)."""
    cfg = yaml.safe_load(RESUME.read_text())
    cfg["batch_size"] = 7
    changed = tmp_path / "batch.yaml"
    changed.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert added_jobs(full, changed) == {}


# --- 4. a damaged saliency store is detected, never read, and recomputed ---------------------------


@pytest.fixture(scope="module")
def damaged(full, tmp_path_factory):
    """A copy of the full run with one chunk file of grad's array deleted (shard 1), rerun with
    two score shards forced: one reads the damaged array (grad's shard 0), one does not
    (integrated_gradients'); then a plain run."""
    work = tmp_path_factory.mktemp("damaged") / "w"
    shutil.copytree(full, work, symlinks=True)
    res = work / RES
    chunk = res / "saliency/lenet/grad.zarr/c/1/0/0"
    assert chunk.is_file()
    chunk.unlink()
    reader = "results/shapes/scores/average_drop/lenet/grad.shards/0.npz"
    independent = res / "scores/average_drop/lenet/integrated_gradients.shards/0.npz"
    # what must stay as it was: the data, models, saliency and score shards, apart from the forced
    # shards and what the failing reader invalidates
    upstream = [p for d in ("images.zarr", "models", "saliency", "scores") for p in (res / d).rglob("*")
                if p.is_file() and p != independent and p != work / reader
                and "grad.shards" not in p.parts and p.name != "grad.json"
                and not p.name.endswith(".parquet")]
    before, forced = mtimes(upstream), independent.stat().st_mtime_ns
    failed = run_snakemake(work, RESUME, "--forcerun", reader, str(independent.relative_to(work)), check=False)
    after_fail = {"marker": (res / "saliency/lenet/grad.json").exists(),
                  "reports": sorted(p.name for p in (res / "saliency/lenet/grad.shards").glob("*.json")),
                  "independent": independent.exists() and independent.stat().st_mtime_ns > forced,
                  "untouched": mtimes(before) == before,
                  "sal_logs": mtimes(res.glob("logs/compute_saliency/lenet/grad/*.log"))}
    fixed = run_snakemake(work, RESUME)
    return work, failed, after_fail, fixed


def test_damaged_array_fails_its_reader_naming_it(damaged):
    _, failed, after_fail, _ = damaged
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "saliency/lenet/grad.zarr is damaged: the chunk files of shards [1] are missing" in out
    # the marker and the damaged shard's report are gone, so that the next run recomputes shard 1
    assert not after_fail["marker"] and after_fail["reports"] == ["0.json", "2.json"]


def test_failing_job_leaves_other_results_on_disk(damaged):
    _, _, after_fail, _ = damaged
    assert after_fail["independent"]  # keep-going: the independent shard was computed
    assert after_fail["untouched"]    # and nothing already finished was removed or rewritten


def test_next_run_recomputes_the_damaged_shard_only_and_restores_the_results(full, damaged):
    work, _, after_fail, fixed = damaged
    out = fixed.stdout + fixed.stderr
    assert not ran(fixed, "train_model") and not ran(fixed, "init_saliency")
    logs = mtimes((work / RES).glob("logs/compute_saliency/lenet/grad/*.log"))
    changed = sorted(p.stem for p in logs if logs[p] != after_fail["sal_logs"].get(p))
    assert changed == ["1"]
    a = zarr.open_array(str(full / RES / "saliency/lenet/grad.zarr"), mode="r")[:]
    assert a.tobytes() == open_saliency(work / RES / "saliency/lenet/grad.zarr")[:].tobytes()
    pd.testing.assert_frame_equal(pd.read_parquet(full / RES / "scores.parquet"),
                                  pd.read_parquet(work / RES / "scores.parquet"), check_exact=True)


# --- 5. a damaged score shard or score table is named, removed and recomputed alone ------------------

SHARD = RES / "scores/deletion/lenet/grad.shards/1.npz"  # read by that table's merge and the curves'
TABLE = RES / "scores/average_drop/lenet/grad.parquet"


@pytest.fixture(scope="module")
def damaged_scores(full, tmp_path_factory):
    """A copy of the full run with SHARD truncated, TABLE truncated with its mtime kept (so that
    only reading it shows the damage) and tables/sparsity.csv (independent of both) deleted, run
    three times. Returns the folder and, before the runs and after each, the run, the mtimes of
    every score and curve file, and whether SHARD, TABLE and the sparsity table existed."""
    work = tmp_path_factory.mktemp("damaged_scores") / "w"
    shutil.copytree(full, work, symlinks=True)
    kept = (work / TABLE).stat()
    for p in (work / SHARD, work / TABLE):
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    os.utime(work / TABLE, ns=(kept.st_atime_ns, kept.st_mtime_ns))
    (work / RES / "tables/sparsity.csv").unlink()

    def state(proc=None):
        files = [p for d in ("scores", "curves") for p in (work / RES / d).rglob("*") if p.is_file()]
        return {"proc": proc, "mtimes": mtimes(files), "shard": (work / SHARD).exists(),
                "table": (work / TABLE).exists(), "sparsity": (work / RES / "tables/sparsity.csv").exists()}

    return work, [state()] + [state(run_snakemake(work, RESUME, check=check)) for check in (False, False, True)]


def changed(work: Path, before: dict, after: dict) -> tuple[set[str], set[str]]:
    """Score and curve files (relative to results/shapes) written, and removed, between two states."""
    b, a = before["mtimes"], after["mtimes"]
    rel = lambda paths: {str(p.relative_to(work / RES)) for p in paths}  # noqa: E731
    return rel(p for p in a if a[p] != b.get(p)), rel(p for p in b if p not in a)


def test_truncated_score_shard_fails_its_merges_naming_it(damaged_scores):
    work, (before, first, *_) = damaged_scores
    out = first["proc"].stdout + first["proc"].stderr
    assert first["proc"].returncode != 0
    assert f"score shard {SHARD} is damaged: unreadable (BadZipFile" in out
    # the shard is removed, so that the next run recomputes it; besides, only the outputs of the
    # two failed merges are gone (Snakemake's doing), and under keep-going the rest was made
    written, removed = changed(work, before, first)
    assert not first["shard"] and first["table"] and first["sparsity"]
    assert {p for p in removed if not p.startswith("curves/deletion/lenet/grad.zarr/")} == {
        str(SHARD.relative_to(RES)), "scores/deletion/lenet/grad.parquet"}
    assert not written


def test_next_run_recomputes_the_shard_only_then_names_the_truncated_table(damaged_scores):
    work, (_, first, second, _) = damaged_scores
    out = second["proc"].stdout + second["proc"].stderr
    written, _ = changed(work, first, second)
    assert {p for p in written if p.endswith(".npz")} == {str(SHARD.relative_to(RES))}
    assert {"scores/deletion/lenet/grad.parquet", "curves/deletion/lenet/grad.zarr/zarr.json"} <= written
    assert second["proc"].returncode != 0
    assert f"score table {TABLE} is damaged: unreadable" in out
    assert not second["table"] and second["shard"]


def test_third_run_rewrites_the_table_only_and_restores_the_results(full, damaged_scores):
    work, (_, _, second, third) = damaged_scores
    written, removed = changed(work, second, third)
    assert not removed
    assert {p for p in written if p.endswith(".npz") or p.count("/") > 1} == {str(TABLE.relative_to(RES))}, written
    pd.testing.assert_frame_equal(pd.read_parquet(full / RES / "scores.parquet"),
                                  pd.read_parquet(work / RES / "scores.parquet"), check_exact=True)
    for e in EXPLAINERS:
        a, b = (zarr.open_array(str(w / RES / f"curves/deletion/lenet/{e}.zarr"), mode="r")[:] for w in (full, work))
        assert a.tobytes() == b.tobytes(), e
    assert "Nothing to be done" in run_snakemake(work, RESUME, "-n").stdout


# --- 6. growing a study computes only the new images ------------------------------------------------
# From the 12-image study (3 shards): n_eval 16 with max_eval 13 (the store is rewritten; a new,
# partial shard 3 of one image), then max_eval lifted (shard 3 of 4 images); the result against
# a study run with 16 images from the start.


def study_config(tmp_path: Path, name: str, n_eval: int, max_eval: int | None) -> Path:
    cfg = yaml.safe_load(RESUME.read_text())
    cfg["datasets"]["shapes"]["n_eval"] = n_eval
    cfg["max_eval"] = max_eval
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def grown(full, tmp_path_factory):
    base = tmp_path_factory.mktemp("grown")
    work = base / "w"
    shutil.copytree(full, work, symlinks=True)
    res = work / RES
    old = {out: mtimes(job_files(work, out)) for out in shard_outputs(work)}
    fixed = mtimes([res / "models/lenet.pt", res / "models/lenet.json",
                    *res.glob("saliency/lenet/*.created"), *res.glob("logs/init_saliency/lenet/*.log")])
    state = {"old": old, "fixed": fixed}
    state["more_images"] = run_snakemake(work, study_config(base, "n16_max13", 16, 13))
    state["after_more_images"] = {out: mtimes(job_files(work, out)) for out in shard_outputs(work)}
    state["max_eval_lifted"] = run_snakemake(work, study_config(base, "n16", 16, None))
    # the reference: the bigger study from the start (only as far as the score tables and the
    # finished saliency arrays, which score shards do not wait for)
    fresh = base / "fresh"
    run_snakemake(fresh, base / "n16.yaml", "results/shapes/scores.parquet",
                  *[f"results/shapes/saliency/lenet/{e}.json" for e in EXPLAINERS])
    return work, fresh, state


def new_shard_outputs(work: Path) -> list[Path]:
    return [p for p in shard_outputs(work) if p.stem == "3"]


def ran(proc: subprocess.CompletedProcess, rule: str) -> bool:
    """Whether a Snakemake run ran a job of ``rule`` (a rule or a checkpoint, local or not)."""
    return re.search(rf"^(local)?(rule|checkpoint) {rule}:$", proc.stdout + proc.stderr, re.M) is not None


def test_more_eval_images_run_only_the_new_shards(grown):
    work, _, state = grown
    run = state["more_images"]
    assert ran(run, "prepare_dataset") and ran(run, "compute_saliency")  # the store has 16 images now
    # the model is not retrained, no saliency array recreated, no finished shard rerun
    assert not ran(run, "train_model") and not ran(run, "init_saliency")
    assert mtimes(state["fixed"]) == state["fixed"]
    assert {out: mtimes(before) for out, before in state["old"].items()} == state["old"]
    # and the new shard exists for every explainer and (metric, explainer)
    assert len(new_shard_outputs(work)) == len(EXPLAINERS) * (1 + len(METRICS))
    assert set(state["after_more_images"]) == set(state["old"]) | set(new_shard_outputs(work))


def test_raising_max_eval_reruns_only_the_shard_that_grew(grown):
    work, _, state = grown
    run = state["max_eval_lifted"]
    assert not ran(run, "prepare_dataset") and not ran(run, "train_model") and ran(run, "compute_saliency")
    assert {out: mtimes(before) for out, before in state["old"].items()} == state["old"]
    new = new_shard_outputs(work)
    assert [p for p in new if p.stat().st_mtime_ns != state["after_more_images"][p][p]] == new  # 1 image -> 4
    assert mtimes(state["fixed"]) == state["fixed"]


def test_grown_study_equals_the_bigger_study_run_from_the_start(grown):
    work, fresh, _ = grown
    a, b = pd.read_parquet(work / RES / "scores.parquet"), pd.read_parquet(fresh / RES / "scores.parquet")
    assert a.image_index.nunique() == 16 and np.isfinite(a.score).all()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert (work / RES / "tables/summary.csv").read_bytes() == (fresh / RES / "tables/summary.csv").read_bytes()
    for e in EXPLAINERS:
        x, y = (open_saliency(w / RES / f"saliency/lenet/{e}.zarr", n=16) for w in (work, fresh))
        assert x[:].tobytes() == y[:].tobytes() and x.attrs["ids"] == y.attrs["ids"]
        assert x.attrs["model_checksum"] == y.attrs["model_checksum"]  # the same model, not retrained
