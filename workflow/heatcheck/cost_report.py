"""Scale on paper: forward/backward passes of a study, and the hours they take on a device.

    python -m heatcheck.cost_report STUDY.yaml [...] [--config KEY=VALUE ...] [--measure]
                                    [--throughput resnet50=60/25 ...] [--images N] [--train-images N]

The study is read as the workflow reads it (:func:`heatcheck.config.load_study`): the files given,
merged in order, then ``--config`` overrides parsed as Snakemake parses them, so the report, the
dry run and the run of the same command-line arguments cost the same study.

Counting is torch-free (:func:`heatcheck.costs.study_passes`); only ``--measure`` imports torch,
to time batched forwards and backwards (gradients w.r.t. the input, as the explainers take them)
of each architecture with random weights at the study's image size on the machine at hand.
Hours are ``fwd_total / forward rate + bwd_total / backward rate`` per architecture.

A last section (:func:`cluster_report`) gives the study on a SLURM cluster: the jobs submitted
with and without the SLURM profile's groups (``--profile``), their start-up overhead, and CPU and
GPU hours from the estimates of :mod:`heatcheck.cluster`, each rate with its source.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import HeatcheckError
from .config import check_config, load_study
from .costs import study_passes


def measure(arch: str, side: int, num_classes: int, batch: int | None = None, seconds: float = 3.0) -> dict:
    """Images per second of batched forwards and of backwards (input gradients) of ``arch``.

    The backward rate is that of the backward alone: (forward + backward time) - forward time.
    """
    import torch

    from .models import build_model

    batch = batch or (8 if side >= 128 else 64)
    model = build_model(arch, num_classes, side).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(batch, 3, side, side)
    targets = torch.zeros(batch, dtype=torch.long)

    def forward():
        with torch.no_grad():
            model(x)

    def forward_backward():
        xi = x.clone().requires_grad_(True)
        model(xi).gather(1, targets[:, None]).sum().backward()

    def per_batch(fn) -> float:
        # the fastest of several repetitions: other processes only ever slow a repetition down
        fn()  # warm-up
        times, t0 = [], time.perf_counter()
        while len(times) < 3 or time.perf_counter() - t0 < seconds:
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    f, fb = per_batch(forward), per_batch(forward_backward)
    return {"arch": arch, "side": side, "batch": batch, "fwd_per_s": batch / f,
            "bwd_per_s": batch / max(fb - f, 1e-9), "source": f"measured, {torch.get_num_threads()} CPU threads"}


def parse_throughput(text: str) -> tuple[str, float, float]:
    """``ARCH=FWD[/BWD]`` images per second (the backward rate defaults to half the forward's)."""
    arch, _, rates = text.partition("=")
    fwd, _, bwd = rates.partition("/")
    try:
        f = float(fwd)
        return arch, f, float(bwd) if bwd else f / 2
    except ValueError:
        raise SystemExit(f"--throughput {text!r}: expected ARCH=FWD[/BWD] images per second, e.g. resnet50=60/25")


def parse_counts(values: list[str]) -> int | dict | None:
    """``["100"]`` -> 100 (every dataset); ``["voc=100", ...]`` -> {"voc": 100, ...}."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return int(values[0])
    return {k: int(v) for k, _, v in (x.partition("=") for x in values)}


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "?"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        if abs(v) < 1e-2:
            return f"{v:.{digits}g}"
        return f"{v:,.{2 if v < 10 else 1 if v < 1000 else 0}f}"
    return f"{v:,}"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _hours(row: dict, rates: dict) -> float | None:
    """Hours of one stage row on the device of ``rates`` (None: no rate or unknown image count)."""
    if row["fwd"] == row["bwd"] == 0:
        return 0.0
    rate = rates.get((row["arch"], row["side"])) or rates.get((row["arch"], None))
    if rate is None or row["fwd_total"] is None:
        return None
    return (row["fwd_total"] / rate["fwd_per_s"] + row["bwd_total"] / rate["bwd_per_s"]) / 3600


def _h(hours: float | None) -> str:
    if hours is None:
        return "?"
    return f"{hours:,.0f}" if hours >= 100 else f"{hours:.3g}"


def _sum(values):
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def report(rows: list[dict], rates: dict[tuple[str, int | None], dict], name: str = "", detail: bool = True) -> str:
    """Markdown tables: throughput, passes and hours per stage (per item with ``detail``), totals
    per model and overall."""
    out = []
    if rates:
        out.append(table(["arch", "side", "batch", "forward img/s", "backward img/s", "source"],
                         [[r["arch"], str(r["side"]), r.get("batch", "-"), r["fwd_per_s"], r["bwd_per_s"], r["source"]]
                          for r in rates.values()]))
    for r in rows:
        r["hours"] = _hours(r, rates)
    if detail:
        out.append(table(["dataset", "model", "stage", "item", "fwd/img", "bwd/img", "images", "fwd total",
                          "bwd total", "jobs", "hours"],
                         [[r["dataset"], r["model"], r["stage"], r["item"], r["fwd"], r["bwd"], r["images"],
                           r["fwd_total"], r["bwd_total"], r["jobs"], _h(r["hours"])] for r in rows]))
    else:  # one row per stage: the items summed
        stages = {}
        for r in rows:
            stages.setdefault((r["dataset"], r["model"], r["stage"]), []).append(r)
        out.append(table(["dataset", "model", "stage", "items", "fwd total", "bwd total", "jobs", "hours"],
                         [[*key, ", ".join(r["item"] for r in g) if len(g) < 4 else f"{len(g)} items",
                           _sum(r["fwd_total"] for r in g), _sum(r["bwd_total"] for r in g),
                           _sum(r["jobs"] for r in g), _h(_sum(r["hours"] for r in g))]
                          for key, g in stages.items()]))
    groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["model"]), []).append(r)
    totals = [[d, m, _sum(r["fwd_total"] for r in g), _sum(r["bwd_total"] for r in g),
               _sum(r["jobs"] for r in g), _sum(r["hours"] for r in g)] for (d, m), g in groups.items()]
    totals.append(["all", "", *(_sum(t[i] for t in totals) for i in range(2, 6))])
    totals = [[*t[:5], _h(t[5])] for t in totals]
    out.append(table(["dataset", "model", "fwd total", "bwd total", "jobs", "hours (1 device)"], totals))
    return (f"## Cost of {name}" if name else "## Cost") + "\n\n" + "\n\n".join(out) + "\n"


def cluster_report(config: dict, rows: list[dict], images=None, profile: dict | None = None,
                   measured: dict | None = None) -> str:
    """Markdown: the study on a SLURM cluster. Snakemake jobs, those that run on SLURM, the SLURM
    jobs submitted without and with the profile's groups, their start-up overhead
    (:data:`heatcheck.cluster.STARTUP`), and CPU and GPU hours from the estimates of
    :mod:`heatcheck.cluster` (the GPU's from a published figure, named with its source; the CPU's
    from ``measured`` rates by (arch, side) where given, as ``--measure`` takes them)."""
    from .cluster import STARTUP, cpu_rate, gpu_rate, load_profile, slurm_jobs, startup_seconds, submissions

    profile = profile or load_profile()
    jobs = slurm_jobs(config, images)
    if jobs is None:
        return "## On a SLURM cluster\n\n? unknown image count: pass --images\n"
    precision = config.get("passes", {}).get("precision", "fp32")
    keys = sorted({(r["arch"], r["side"]) for r in rows}, key=str)
    gpu = {k: gpu_rate(*k, precision) for k in keys}
    cpu = {k: (measured or {}).get(k) or cpu_rate(*k) for k in keys}
    arch_of = {(r["dataset"], r["model"]): r["arch"] for r in rows}
    grouped = submissions(jobs, profile)
    plain = submissions(jobs, {"groups": {}, "components": {}})
    n = ", ".join(f"{k}={v}" for k, v in profile["components"].items()) or "none"
    where = Path(profile["path"]).resolve()
    where = where.relative_to(Path.cwd()) if where.is_relative_to(Path.cwd()) else where
    out = [table(["arch", "side", "forward img/s", "backward img/s", "source"],
                 [[a, str(s), r["fwd_per_s"], r["bwd_per_s"], r["source"]] for (a, s), r in gpu.items()])]
    cols = ["Snakemake jobs", "on SLURM", "submitted", "start-up (h)", "CPU hours", f"GPU hours ({precision})"]
    cpu_h, gpu_h = _sum(_hours(r, cpu) for r in rows), _sum(_hours(r, gpu) for r in rows)
    out.append(table(["", *cols], [
        ["one SLURM job per Snakemake job", _sum(r["jobs"] for r in rows), plain["jobs"], plain["submitted"],
         startup_seconds(jobs, plain["submitted"], arch_of) / 3600, _h(cpu_h), _h(gpu_h)],
        [f"grouped ({where}: group-components {n})", _sum(r["jobs"] for r in rows), grouped["jobs"],
         grouped["submitted"], startup_seconds(jobs, grouped["submitted"], arch_of) / 3600, _h(cpu_h), _h(gpu_h)]]))
    out.append(f"Snakemake jobs: the shard, training, model and light-metric table jobs above (`jobs`); on SLURM: those of rules that "
               f"are not local (no model pass: on the login node, in Snakemake's process). Start-up: "
               f"{STARTUP['submission']:.1f} s per submitted job (its job step's Snakemake process) + "
               f"{min(STARTUP['job'].values()):.1f}-{max(STARTUP['job'].values()):.1f} s per Snakemake job (its own "
               f"process: Snakemake, torch and the package's imports, the checkpoint load), measured by "
               f"benchmarks/bench_startup.py; CUDA initialisation and queueing not included. GPU hours: "
               f"forward/backward passes at the rates of the table (a published figure scaled by FLOPs and side^2, "
               f"an approximation); CPU hours: " + ("as measured above" if measured else
                                                    f"{cpu_rate('resnet50', 224)['source']}, conservative for "
                                                    f"small networks (--measure times them)") + ".")
    return "## On a SLURM cluster\n\n" + "\n\n".join(out) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m heatcheck.cost_report", description=__doc__.split("\n\n")[0])
    ap.add_argument("config", nargs="+", help="the study's config file(s) (config.yaml or configs/*.yaml), "
                    "as given to snakemake --configfile")
    ap.add_argument("--config", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE",
                    help="overrides, as given to snakemake --config")
    ap.add_argument("--measure", action="store_true", help="time each architecture here (imports torch)")
    ap.add_argument("--throughput", action="append", default=[], metavar="ARCH=FWD[/BWD]",
                    help="forward[/backward] images per second of an architecture at the study's size")
    ap.add_argument("--images", action="append", default=[], metavar="[DATASET=]N",
                    help="eval images of every / one dataset (real data: only the data knows)")
    ap.add_argument("--train-images", action="append", default=[], metavar="[DATASET=]N",
                    help="train images of every / one dataset, for models trained here")
    ap.add_argument("--summary", action="store_true", help="one row per stage instead of per explainer/metric")
    ap.add_argument("--seconds", type=float, default=3.0, help="timing per measurement (--measure)")
    ap.add_argument("--profile", default=None, metavar="DIR",
                    help="the SLURM profile whose groups bundle the jobs (default: workflow/profiles/slurm)")
    args = ap.parse_args(argv)
    overrides = {}
    if args.overrides:
        from snakemake.cli import parse_config  # the workflow's own parsing of --config

        overrides = parse_config(args.overrides)
    try:
        config = check_config(load_study(args.config, overrides))
    except HeatcheckError as e:  # the message names file, line or key: a traceback adds nothing
        raise SystemExit(f"{ap.prog}: {e}") from None
    rows = study_passes(config, parse_counts(args.images), parse_counts(args.train_images))
    rates = {}
    for text in args.throughput:
        arch, f, b = parse_throughput(text)
        rates[(arch, None)] = {"arch": arch, "side": "-", "fwd_per_s": f, "bwd_per_s": b, "source": "given"}
    if args.measure:
        from .archs import ARCHS
        from .data import kind_facts

        for arch, side, dname in sorted({(r["arch"], r["side"], r["dataset"]) for r in rows}):
            if (arch, None) in rates:
                continue
            if arch not in ARCHS:  # a loaded model: only its own build tells its speed
                print(f"not measuring {arch} (not a built-in architecture): pass --throughput {arch}=FWD/BWD",
                      file=sys.stderr)
                continue
            print(f"measuring {arch} at {side} px ...", file=sys.stderr)
            classes = kind_facts(config["datasets"][dname]).num_classes or 1000
            rates[(arch, side)] = measure(arch, side, classes, seconds=args.seconds)
    print(report(rows, rates, " + ".join(args.config), detail=not args.summary))
    from .cluster import PROFILE, load_profile

    measured = {k: r for k, r in rates.items() if r["source"].startswith("measured")}
    print(cluster_report(config, rows, parse_counts(args.images), load_profile(args.profile or PROFILE), measured))
    missing = [r for r in rows if r["fwd_total"] is None]
    if missing:
        print(f"\n? = unknown image count for {sorted({r['dataset'] for r in missing})}: pass --images / "
              f"--train-images", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
