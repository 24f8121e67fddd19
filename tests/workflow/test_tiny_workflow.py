"""The tiny study end to end through Snakemake, and config errors stopping it before any job."""

import json
import shutil

import numpy as np
import pytest
import yaml
import zarr

from conftest import run_snakemake

TINY = __import__("pathlib").Path(__file__).with_name("tiny.yaml")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("tiny")
    proc = run_snakemake(work, TINY)
    return work, proc


def test_tiny_study_produces_store_models_and_figure(tiny_run):
    work, _ = tiny_run
    res = work / "results" / "shapes"
    g = zarr.open_group(str(res / "images.zarr"), mode="r")
    assert g["eval/images"].shape == (16, 3, 32, 32) and g["train/images"].shape[0] == 360
    assert g.attrs["complete"] is True
    for m in ("lenet", "resnet8"):
        assert (res / "models" / f"{m}.pt").stat().st_size > 1000
        rep = json.loads((res / "models" / f"{m}.json").read_text())
        assert rep["model"] == m and 0 <= rep["accuracy"] <= 1 and rep["n_eval"] == 16
        assert (res / "logs" / "train_model" / f"{m}.log").exists()
    for ext in ("png", "pdf"):
        assert (res / "figures" / f"samples.{ext}").stat().st_size > 5000


def test_nothing_to_do_on_rerun(tiny_run):
    work, _ = tiny_run
    proc = run_snakemake(work, TINY, "-n")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_figures_target_redraws_without_retraining(tiny_run):
    work, _ = tiny_run
    proc = run_snakemake(work, TINY, "figures", "--forcerun", "plot_dataset")
    out = proc.stdout + proc.stderr
    assert "plot_dataset" in out and "train_model" not in out and "prepare_dataset" not in out


def test_config_error_stops_before_any_job(tmp_path):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["models"]["lenet"]["epocs"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(tmp_path, bad, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "models.lenet.epocs" in out and "valid keys here" in out
    assert not (tmp_path / "results").exists()
