"""What a cluster job pays before its first model pass: fresh processes timed on this machine.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 3] [--archs resnet50 vgg16 ...]

On SLURM (snakemake-executor-plugin-slurm) a submitted job runs Snakemake's job step (a
``python -m snakemake`` that parses the workflow and plans its jobs), which starts every
Snakemake job it holds as an ``srun`` step of its own: another ``python -m snakemake`` with
``--force-use-threads`` that runs the ``run:`` block, i.e. imports torch and the package and
loads the checkpoint. So:

- ``submission_s``: one Snakemake process (interpreter, Snakemake, parsing the Snakefile and
  the DAG of one shard target), paid once per submitted job (the job step);
- ``job_s[arch]``: the same process again plus the package's imports (torch, zarr, captum,
  zennit, shap) and the checkpoint load of ``arch``, paid by every Snakemake job on SLURM
  (grouped or not).

Each figure is the fastest of ``--repeat`` runs (other processes only ever slow one down); the
checkpoint load is timed in this process (torch imported, the file in the page cache: a cold read
from a cluster's shared file system adds its size over the file system's bandwidth). CUDA
initialisation (no GPU here) and queueing are not included. Results:
``benchmarks/results/startup.json``; ``heatcheck.cluster.STARTUP`` holds the rounded figures the
cost report uses.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import write  # noqa: E402

from heatcheck.archs import ARCHS  # noqa: E402

IMPORTS = "import heatcheck.jobs, heatcheck.saliency, heatcheck.scoring"


def fastest(cmd: list[str], repeat: int, cwd: Path | None = None) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow"), "PYTHONWARNINGS": "ignore"}
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=cwd)
        times.append(time.perf_counter() - t)
    return min(times)


def snakemake_process(tmp: Path, repeat: int) -> float:
    """A dry run of one shard target of the SLURM test study, data prepared: a Snakemake process
    that parses the workflow and plans one job, as a job step does."""
    snakemake = str(Path(sys.executable).with_name("snakemake"))
    base = [snakemake, "-s", str(ROOT / "Snakefile"), "--directory", str(tmp), "--configfile",
            str(ROOT / "tests" / "workflow" / "slurm.yaml"), "--nolock", "--cores", "1"]
    subprocess.run(base + ["results/shapes/images.json"], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    return fastest(base + ["-n", "--allowed-rules", "compute_saliency",
                           "results/shapes/saliency/lenet/grad.shards/0.json"], repeat)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--archs", nargs="+", default=list(ARCHS))
    args = ap.parse_args()

    import torch

    from heatcheck.models import build_model, load_checkpoint, save_checkpoint

    py = sys.executable
    interpreter = fastest([py, "-c", "pass"], args.repeat)
    imports = fastest([py, "-c", IMPORTS], args.repeat)
    loads = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for arch in args.archs:
            side, classes = (224, 1000) if ARCHS[arch]["torchvision"] else (32, 10)
            path = tmp / f"{arch}.pt"
            torch.manual_seed(0)
            save_checkpoint(path, build_model(arch, classes, side).eval(), arch, classes, side,
                            [0.5] * 3, [0.25] * 3)
            times = []
            for _ in range(args.repeat + 1):  # the first read fills the page cache
                t = time.perf_counter()
                load_checkpoint(path)
                times.append(time.perf_counter() - t)
            loads[arch] = {"checkpoint_mb": path.stat().st_size / 2**20, "load_s": min(times[1:])}
            path.unlink()
        (tmp / "study").mkdir()
        snakemake = snakemake_process(tmp / "study", args.repeat)
    write("startup", {
        "what": "fastest of --repeat fresh processes; submission_s = one Snakemake process (parse + plan "
                "one shard job), paid per submitted SLURM job (the job step); job_s = a Snakemake process "
                "+ the package's imports + the checkpoint load, paid per Snakemake job on SLURM. CUDA "
                "initialisation (no GPU here) and queueing not included.",
        "repeat": args.repeat, "load_average_1min_at_end": os.getloadavg()[0], "interpreter_s": interpreter, "imports_s": imports - interpreter,
        "snakemake_process_s": snakemake, "model_load": loads,
        "submission_s": snakemake,
        "job_s": {a: snakemake + imports - interpreter + v["load_s"] for a, v in loads.items()},
    })


if __name__ == "__main__":
    main()
