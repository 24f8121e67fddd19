"""Shared fixtures: the repository root and a helper to run Snakemake as a researcher would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake_command(workdir: Path, configfile: Path | None, *args: str) -> tuple[list[str], dict]:
    """The command line and environment with which the tests run the repository's Snakefile
    (``configfile`` None: none given, the study is ``config.yaml`` in ``workdir``)."""
    given = ["--configfile", str(configfile)] if configfile is not None else []
    cmd = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *given,
           "--cores", "2", "--nolock",
           "--workflow-profile", str(ROOT / "workflow" / "profiles" / "local"), *args]
    return cmd, {**os.environ, "PYTHONWARNINGS": "ignore"}


def run_snakemake(workdir: Path, configfile: Path | None, *args: str, check: bool = True,
                  timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile in ``workdir`` with ``configfile`` (None: the default
    study, ``config.yaml`` in ``workdir``); output captured."""
    cmd, env = snakemake_command(workdir, configfile, *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


@pytest.fixture
def root() -> Path:
    return ROOT


def write_tiny_study(d: Path, n_train: int = 24, n_eval: int = 10) -> Path:
    """A shapes store and an untrained seeded LeNet checkpoint in ``d`` (unit tests of stages)."""
    import torch

    from heatcheck.data import load_dataset
    from heatcheck.models import build_model, save_checkpoint
    from heatcheck.store import write_dataset
    from test_data import shapes_spec

    data = load_dataset(shapes_spec(n_train=n_train, n_eval=n_eval))
    write_dataset(d / "images.zarr", data, "shapes")
    torch.manual_seed(0)
    save_checkpoint(d / "m.pt", build_model("lenet", 6, 32).eval(), "lenet", 6, 32, data.mean, data.std)
    return d
