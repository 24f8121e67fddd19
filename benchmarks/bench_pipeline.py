"""Where a study's time goes: model passes versus start-up, I/O and bookkeeping.

Runs a study end to end (by default the embedded default, ``config.yaml``, exactly as ``make run``
does: the local profile, then the HTML report) in a fresh folder and reports

* the wall time of the run and of the report, and the number of jobs;
* per rule, from the job benchmark files (each model-pass job's wall time, from its start to the
  end of its writes: ``results/{dataset}/benchmarks/``, written by :func:`heatcheck.jobs.timed`;
  Snakemake's ``benchmark:`` directive for ``prepare_dataset``) and the timers inside the jobs
  (the seconds each job spent in its explainer's, metric's or training loop, i.e. in model passes
  and the tensor work around them, recorded in the job's output): jobs, job wall time, in-job pass
  time, and the share of job wall time spent in passes;
* the overall share (the issue-13 goal is >= 0.8 on the default study), and the pass time as a
  share of the run's wall time x cores (what the scheduler and the light rules cost on top).

Usage: ``python benchmarks/bench_pipeline.py [--config config.yaml] [--cores 2] [--workdir DIR]
[--reuse] [--out benchmarks/results/pipeline.json]``. ``--reuse`` reads an existing run in
``--workdir`` instead of running (e.g. ``--workdir . --reuse`` after ``make run``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_study(config: Path, workdir: Path, cores: int) -> dict:
    """``make run``'s two commands in ``workdir``; their wall times and the Snakemake log."""
    base = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(config)]
    load_before = os.getloadavg()
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(base + ["--workflow-profile", str(ROOT / "workflow/profiles/local"), "--cores", str(cores)],
                          capture_output=True, text=True)
    run_s = time.perf_counter() - t0
    run_cpu = _children_cpu() - cpu0
    load_after = os.getloadavg()
    if proc.returncode:
        raise SystemExit(f"the study failed:\n{proc.stderr[-6000:]}")
    t0 = time.perf_counter()
    rep = subprocess.run(base + ["--report", str(workdir / "results" / "report.html")], capture_output=True, text=True)
    report_s = time.perf_counter() - t0
    steps = [line for line in proc.stderr.splitlines() if "steps (100%) done" in line]
    return {"run_seconds": run_s, "report_seconds": report_s, "report_ok": rep.returncode == 0,
            "steps": steps[-1].strip() if steps else None,
            # the run's own CPU time (Snakemake and every job it started): unlike wall time, other
            # processes on the machine barely change it
            "run_cpu_seconds": run_cpu, "run_cpu_share": run_cpu / (run_s * cores),
            # 1-minute load average before and after (the run itself adds up to `cores`)
            "load_average_before": load_before[0], "load_average_after": load_after[0]}


def _children_cpu() -> float:
    """User + system seconds of the finished child processes of this one."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _pass_seconds(res: Path, rule: str, parts: list[str]) -> float | None:
    """The seconds a job spent in its passes, from the job's own output (None: not recorded)."""
    if rule == "score_table_light":  # metrics that make no model pass: none of their time is passes
        return 0.0
    if rule in ("compute_saliency", "randomized_saliency", "noisy_saliency"):  # one rule, three inputs
        model, explainer, shard = parts
        f = res / "saliency" / model / f"{explainer}.shards" / f"{shard}.json"
        return json.loads(f.read_text())["seconds"] if f.exists() else None
    if rule == "score_metric":
        metric, model, explainer, shard = parts
        f = res / "scores" / metric / model / f"{explainer}.shards" / f"{shard}.npz"
    elif rule == "compute_shapley":
        model, shard = parts
        f = res / "shapley" / f"{model}.shards" / f"{shard}.npz"
    elif rule == "noisy_inputs":
        model, copy, shard = parts
        f = res / "noisy" / model / f"{copy}.shards" / f"{shard}.npz"
    elif rule in ("train_model", "load_model"):
        f = res / "models" / f"{parts[0]}.json"
        if not f.exists():
            return None
        report = json.loads(f.read_text())  # the training loop and the accuracy passes after it
        return report.get("pass_seconds", report.get("seconds"))
    else:
        return None
    if not f.exists():
        return None
    with np.load(f) as z:
        return float(z["seconds"]) if "seconds" in z.files else None


def job_table(workdir: Path) -> pd.DataFrame:
    """A row per benchmarked job: rule, wall seconds, in-job pass seconds."""
    rows = []
    for res in sorted((workdir / "results").glob("*/")):
        bench = res / "benchmarks"
        for tsv in bench.rglob("*.tsv"):
            rel = tsv.relative_to(bench).with_suffix("")
            rule, parts = rel.parts[0], list(rel.parts[1:])
            wall = float(pd.read_csv(tsv, sep="\t")["s"].iloc[-1])
            rows.append({"dataset": res.name, "rule": rule, "job": "/".join(parts), "wall": wall,
                         "passes": _pass_seconds(res, rule, parts)})
    return pd.DataFrame(rows)


def summarize(jobs: pd.DataFrame) -> dict:
    per_rule = {}
    for rule, g in jobs.groupby("rule"):
        timed = g.dropna(subset=["passes"])
        per_rule[rule] = {"jobs": len(g), "wall_seconds": float(g["wall"].sum()),
                          "pass_seconds": float(timed["passes"].sum()) if len(timed) else None,
                          "pass_share": float(timed["passes"].sum() / timed["wall"].sum()) if len(timed) else None,
                          "mean_job_seconds": float(g["wall"].mean())}
    timed = jobs.dropna(subset=["passes"])
    return {"per_rule": per_rule, "jobs_benchmarked": len(jobs),
            "job_wall_seconds": float(jobs["wall"].sum()),
            "pass_seconds": float(timed["passes"].sum()),
            "pass_share_of_timed_jobs": float(timed["passes"].sum() / max(timed["wall"].sum(), 1e-9)),
            "pass_share_of_all_jobs": float(timed["passes"].sum() / max(jobs["wall"].sum(), 1e-9))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true", help="read an existing run in --workdir")
    ap.add_argument("--keep", action="store_true", help="keep the temporary run folder")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pipeline.json")
    a = ap.parse_args(argv)
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="heatcheck-bench-"))
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": {"platform": platform.platform(),
                                                                "cores": a.cores},
           "config": str(a.config)}
    if not a.reuse:
        if (workdir / "results").exists():
            raise SystemExit(f"{workdir}/results exists: remove it, or pass --reuse to read it")
        out.update(run_study(a.config.resolve(), workdir, a.cores))
    jobs = job_table(workdir)
    out.update(summarize(jobs))
    if "run_seconds" in out:
        out["pass_share_of_run"] = out["pass_seconds"] / (out["run_seconds"] * a.cores)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "per_rule"}, indent=1))
    for rule, r in sorted(out["per_rule"].items(), key=lambda kv: -kv[1]["wall_seconds"]):
        share = "-" if r["pass_share"] is None else f"{r['pass_share']:.2f}"
        print(f"{rule:24s} {r['jobs']:5d} jobs  {r['wall_seconds']:8.1f} s  passes {share}")
    if not a.workdir and not a.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


if __name__ == "__main__":
    main()
