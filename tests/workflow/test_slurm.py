"""The workflow on a real (one-node) SLURM cluster, through the user-facing SLURM profile.

The module starts the cluster with tests/cluster/slurm_cluster.sh (as root it installs slurm-wlm
and munge with apt-get if needed) and runs the small study of slurm.yaml three times at once:
locally (the reference), through ``--executor slurm`` with workflow/profiles/slurm (whose
``groups`` bundle the shard jobs: fewer submissions than jobs, as many as the cost report
predicts), and with ``--slurm-array-jobs all`` and the profile's groups removed (the plugin
submits a group as one plain job: arrays and groups are alternatives). During the grouped run a
group job holding compute_saliency shards is frozen (a hung job) and its end time moved to now:
slurmctld kills it with state TIMEOUT, and Snakemake must resubmit it (``retries`` in the
profile) with twice the ``runtime``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, SNAKEMAKE

HERE = Path(__file__).parent
CONFIG = HERE / "slurm.yaml"
CLUSTER = ROOT / "tests" / "cluster" / "slurm_cluster.sh"
PROFILE = ROOT / "workflow" / "profiles" / "slurm"
TARGET = "results/shapes/scores.parquet"
# the non-local rules of slurm.yaml's study; everything else is a localrule
SLURM_RULES = {"prepare_dataset", "train_model", "compute_saliency", "score_metric"}
GPU_RULES = {"train_model", "compute_saliency", "score_metric"}
ROOT_USER = os.geteuid() == 0  # freezing a job and moving its end time need root (SLURM admin)
SQUEUE_FIELDS = ["JobArrayID", "State", "Partition", "TimeLimit", "tres-per-job", "Comment", "WorkDir"]


def snakemake_cmd(workdir: Path, *args: str, profile: Path = PROFILE) -> list[str]:
    """Snakemake as a user runs it from a login node: the SLURM workflow profile, nothing else."""
    return [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(CONFIG), "--workflow-profile", str(profile), "--nolock",
            # test-only: poll soon (jobs here take seconds) and keep every job's SLURM log
            "--slurm-init-seconds-before-status-checks", "2", "--slurm-keep-successful-logs",
            *args, TARGET]


def squeue() -> dict[str, dict]:
    """Every job slurmctld still knows (finished ones for MinJobAge = 300 s), by job id
    (``<array job id>_<task id>`` for array tasks)."""
    fmt = ",".join(f"{f}:500|" for f in SQUEUE_FIELDS)
    out = subprocess.run(["squeue", "-h", "--states=all", "-O", fmt], capture_output=True,
                         text=True, timeout=30).stdout
    rows = [dict(zip(SQUEUE_FIELDS, (v.strip() for v in line.split("|")))) for line in out.splitlines()]
    return {r["JobArrayID"]: r for r in rows if len(r) == len(SQUEUE_FIELDS)}


def minutes(limit: str) -> int:
    """SLURM's [days-]hours:minutes:seconds / minutes:seconds time limit in minutes."""
    days, _, hms = limit.rpartition("-")
    parts = [int(p) for p in hms.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    h, m, s = parts
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


class Watcher(threading.Thread):
    """Records the SLURM jobs of some work directories every second while the runs go on; in
    ``freeze_dir`` it turns the first running compute_saliency job into a hung job that slurmctld
    then kills for time."""

    def __init__(self, workdirs: list[Path], freeze_dir: Path):
        super().__init__(daemon=True)
        self.workdirs = {str(w) for w in workdirs}
        self.freeze_dir = str(freeze_dir)
        self.jobs: dict[str, dict] = {}
        self.frozen: dict | None = None
        self.errors: list[str] = []
        self.missed: list[tuple[str, str]] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                for jid, row in squeue().items():
                    if row["WorkDir"] in self.workdirs:
                        self.jobs[jid] = row
                        if (self.frozen is None and row["WorkDir"] == self.freeze_dir and ROOT_USER
                                and row["State"] == "RUNNING" and row["Comment"].startswith("rule_shards_")
                                and "compute_saliency" in row["Comment"]):
                            self.freeze(jid, row)
            except Exception as e:  # noqa: BLE001  (reported by the test, not lost in a thread)
                self.errors.append(repr(e))
            self.stop.wait(1)

    def freeze(self, jid: str, row: dict):
        # stop the job's processes (a hung job), then end its time limit now: slurmctld's
        # periodic time-limit check (every 30 s) kills it and records TIMEOUT
        out = subprocess.run(["scontrol", "listpids", jid], capture_output=True, text=True).stdout
        pids = [int(p) for p in re.findall(r"^(\d+)\s", out, flags=re.M)]
        if not pids:  # not started yet, or already gone: try again at the next poll
            return
        self.signal(pids, signal.SIGSTOP)
        end = (datetime.now() + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
        upd = subprocess.run(["scontrol", "update", f"JobId={jid}", f"EndTime={end}"],
                             capture_output=True, text=True)
        if upd.returncode == 0:
            self.frozen = {"jobid": jid, "limit": minutes(row["TimeLimit"]), "comment": row["Comment"]}
        else:  # it ended meanwhile: let it go, freeze the next one
            self.signal(pids, signal.SIGCONT)
            self.missed.append((jid, upd.stderr.strip()))

    @staticmethod
    def signal(pids: list[int], sig: int):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def cluster():
    if not CLUSTER.exists():
        pytest.skip(f"{CLUSTER} missing")
    t0 = time.time()
    proc = subprocess.run(["bash", str(CLUSTER), "start"], capture_output=True, text=True, timeout=600)
    reasons = {2: "not root and no SLURM cluster running", 3: "slurm-wlm/munge could not be installed",
               4: "the SLURM daemons did not come up"}
    if proc.returncode != 0:
        reason = reasons.get(proc.returncode, f"slurm_cluster.sh start failed ({proc.returncode})")
        pytest.skip(f"no SLURM cluster: {reason}: {proc.stderr.strip()[-1000:]}")
    print(f"SLURM cluster ready in {time.time() - t0:.0f} s: {proc.stderr.strip()[-300:]}")
    yield
    if "reusing the running cluster" not in proc.stderr:  # leave a cluster we did not start
        subprocess.run(["bash", str(CLUSTER), "stop"], timeout=60)


def ungrouped_profile(folder: Path) -> Path:
    """The SLURM profile without its groups (for job arrays, which the plugin does not make of
    group jobs)."""
    settings = yaml.safe_load((PROFILE / "config.yaml").read_text())
    for key in ("groups", "group-components"):
        settings.pop(key)
    (folder / "config.yaml").write_text(yaml.safe_dump(settings))
    return folder


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The three runs, started together (the SLURM runs mostly wait on the scheduler)."""
    dirs = {k: tmp_path_factory.mktemp(f"slurm-{k}") for k in ("local", "plain", "array")}
    ungrouped = ungrouped_profile(tmp_path_factory.mktemp("profile"))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmds = {
        "local": [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(dirs["local"]),
                  "--configfile", str(CONFIG), "--cores", "2", "--nolock", "--workflow-profile",
                  str(ROOT / "workflow" / "profiles" / "local"), TARGET],
        "plain": snakemake_cmd(dirs["plain"]),
        "array": snakemake_cmd(dirs["array"], "--slurm-array-jobs", "all", profile=ungrouped),
    }
    watcher = Watcher([dirs["plain"], dirs["array"]], freeze_dir=dirs["plain"])
    watcher.start()
    t0 = time.time()
    procs = {k: subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for k, c in cmds.items()}
    try:
        outs = {k: p.communicate(timeout=900)[0] for k, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        watcher.stop.set()
        watcher.join()
    print(f"local + 2 SLURM runs: {time.time() - t0:.0f} s")
    for k, p in procs.items():
        assert p.returncode == 0, f"{k} run failed ({p.returncode}):\n{outs[k][-6000:]}"
    assert not watcher.errors, watcher.errors
    return {k: (dirs[k], outs[k]) for k in dirs}, watcher


def submissions(out: str) -> list[tuple[str, str]]:
    """(rule or group name, SLURM job id) of every job Snakemake submitted, in order."""
    subs = []
    for m in re.finditer(r"has been submitted with SLURM jobid (\d+)"
                         r"|Submitted array job .* SLURM job ID (\d+)\. The individual task IDs are (\d+)-(\d+)",
                         out, re.M):
        if m.group(1):
            subs.append(m.group(1))
        else:
            subs += [f"{m.group(2)}_{i}" for i in range(int(m.group(3)), int(m.group(4)) + 1)]
    return subs


def executed_nonlocal(out: str) -> list[str]:
    """Rules of the jobs Snakemake started outside its own process, grouped (indented under their
    group's header) or not (retries included)."""
    return re.findall(r"^(?:    )?(?:rule|checkpoint) (\w+):$", out, re.M)


def group_blocks(out: str) -> dict[str, list[tuple[str, int]]]:
    """Each group job's (rule, runtime) jobs as Snakemake lists them under ``Group job <id>``
    (the last listing of a group: its retry's, after a failure)."""
    blocks, gid, text = {}, None, []

    def close():
        if gid is not None:
            jobs = re.findall(r"^    rule (\w+):\n(?:        .*\n)*?        resources: .*?runtime=(\d+)", "".join(text), re.M)
            blocks[gid] = [(r, int(t)) for r, t in jobs]

    for line in out.splitlines(keepends=True):
        m = re.match(r"^\[.*\] Group job (\S+) \(jobs in lexicogr\. order\):$", line.rstrip("\n"))
        if m:
            close()
            gid, text = m.group(1), []
        elif gid is not None and (line.startswith("    ") or not line.strip()):
            text.append(line)
        elif gid is not None and not re.match(r"^Job \S+ has been submitted with SLURM jobid", line):
            close()  # the listing ends; a submission line of another job may interleave it
            gid = None
    close()
    return blocks


def check_all_through_slurm(workdir: Path, out: str, jobs: dict[str, dict]) -> list[tuple[str, str]]:
    """(rule, job id) of every submission, each checked against what slurmctld saw; a group job's
    rule is ``group``."""
    subs = submissions(out)
    rules = executed_nonlocal(out)
    logs = {p.stem: p for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert set(subs) <= set(logs), (subs, sorted(logs))
    # a job's rule from its log's folder (rule_{rule}/... or group_{group}/...): the output
    # interleaves the headers and submission lines of jobs submitted together, so the header
    # before a line need not be its own
    folder = {jid: next(p for p in logs[jid].parts if p.startswith(("rule_", "group_"))) for jid in subs}
    subs = [("group" if folder[j].startswith("group_") else folder[j][len("rule_"):], j) for j in subs]
    assert set(rules) == SLURM_RULES
    # every non-local job that was started outside a group went through sbatch of its own
    alone = re.findall(r"^(?:rule|checkpoint) (\w+):$", out, re.M)
    assert sorted(r for r, _ in subs if r != "group") == sorted(alone)
    for rule, jid in subs:
        row = jobs[jid]  # slurmctld saw it, in the partition the profile names
        assert row["WorkDir"] == str(workdir)
        if rule == "group":
            assert row["Comment"] == "rule_" + folder[jid][len("group_"):]
        else:
            assert row["Comment"].startswith(f"rule_{rule}")
        if rule in GPU_RULES or rule == "group":
            assert row["Partition"] == "gpu" and row["tres-per-job"] == "gres:gpu:1", row
        else:
            assert row["Partition"] == "cpu" and row["tres-per-job"] in ("N/A", ""), row
    return subs


def test_every_job_through_slurm_same_scores_as_local(runs):
    (dirs, watcher) = runs
    (local, _), (plain, out) = dirs["local"], dirs["plain"]
    subs = check_all_through_slurm(plain, out, watcher.jobs)
    assert all(re.fullmatch(r"\d+", j) for _, j in subs)
    assert "localrule collect_scores:" in out and "localrule init_saliency:" in out
    pd.testing.assert_frame_equal(pd.read_parquet(plain / TARGET), pd.read_parquet(local / TARGET))


def test_shard_jobs_grouped_as_the_cost_report_counts(runs):
    from heatcheck.cluster import load_profile, slurm_jobs, submissions as predicted
    from heatcheck.config import check_config, load_study

    (dirs, watcher) = runs
    plain, out = dirs["plain"]
    subs = check_all_through_slurm(plain, out, watcher.jobs)
    retried = 1 if watcher.frozen else 0
    groups = group_blocks(out)
    # one group per explainer (2 shards each: a saliency shard and its 2 metric shards, 6 jobs),
    # prepare_dataset and train_model alone: 4 submissions for 14 Snakemake jobs
    assert [r for r, _ in subs].count("group") == len(groups) + retried == 2 + retried
    assert sorted(sorted(r for r, _ in g) for g in groups.values()) == \
        [["compute_saliency"] * 2 + ["score_metric"] * 4] * 2
    n_jobs = len(executed_nonlocal(out)) - 6 * retried
    assert len(subs) - retried == 4 < n_jobs == 14
    jobs = slurm_jobs(check_config(load_study([str(CONFIG)], {})))
    assert predicted(jobs, load_profile(PROFILE))["submitted"] == len(subs) - retried
    assert len(jobs) == n_jobs
    # a group job asks for one GPU and the sum of its jobs' time limits (they take turns on it)
    for gid, block in groups.items():
        rows = [r for j, r in watcher.jobs.items() if r["Comment"].startswith(f"rule_{gid}_")
                and r["WorkDir"] == str(plain)]
        assert rows and all(r["tres-per-job"] == "gres:gpu:1" for r in rows), rows
        assert minutes(rows[-1]["TimeLimit"]) == sum(t for _, t in block), (rows, block)


def test_array_jobs(runs):
    (dirs, watcher) = runs
    (local, _), (array, out) = dirs["local"], dirs["array"]
    subs = check_all_through_slurm(array, out, watcher.jobs)
    shards = [j for r, j in subs if r in ("compute_saliency", "score_metric")]
    # 2 explainers x 2 shards saliency tasks, 2 metrics x 2 explainers x 2 shards score tasks
    assert len(shards) == 12 and all(re.fullmatch(r"\d+_\d+", j) for j in shards)
    assert len({j.split("_")[0] for j in shards}) < len(shards)  # tasks share array job ids
    pd.testing.assert_frame_equal(pd.read_parquet(array / TARGET), pd.read_parquet(local / TARGET))


def test_timeout_killed_shard_is_retried_with_doubled_runtime(runs):
    (dirs, watcher) = runs
    (local, _), (plain, out) = dirs["local"], dirs["plain"]
    if not ROOT_USER:
        pytest.skip("freezing a SLURM job and moving its end time need root")
    frozen = watcher.frozen
    assert frozen is not None, f"no compute_saliency job could be frozen: {watcher.missed}"
    jid = frozen["jobid"]
    assert watcher.jobs[jid]["State"] == "TIMEOUT"  # killed by slurmctld, not by us
    # a group job's error names the group (the plugin's TIMEOUT message is not printed for groups)
    group = re.search(r"Error in group ([^\s:]+)", out)
    assert group and frozen["comment"].startswith(f"rule_{group.group(1)}_compute_saliency"), frozen
    # the same shard resubmitted, with the attempt-scaled runtime doubled
    retries = [r for j, r in watcher.jobs.items()
               if r["Comment"] == frozen["comment"] and r["WorkDir"] == str(plain) and j != jid]
    assert len(retries) == 1 and retries[0]["State"] == "COMPLETED", retries
    assert minutes(retries[0]["TimeLimit"]) == 2 * frozen["limit"], (frozen, retries)
    log_dir = plain / ".snakemake" / "slurm_logs" / ("group_" + frozen["comment"].removeprefix("rule_"))
    assert {p.stem for p in log_dir.glob("*.log")} == {jid, retries[0]["JobArrayID"]}
    # and the run's results are those of the local run
    pd.testing.assert_frame_equal(pd.read_parquet(plain / TARGET), pd.read_parquet(local / TARGET))
