"""The conda environment for cluster users pins exactly what envs/requirements.txt pins."""

import re

import yaml


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_conda_env_in_step_with_pip_requirements(root):
    req = _pins((root / "envs" / "requirements.txt").read_text().splitlines())
    env = yaml.safe_load((root / "envs" / "environment.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert req == _pins(pip)
    assert req["torch"] == "2.14.1" and req["torchvision"] == "0.29.1"
    assert req["snakemake"].startswith("9.") and req["zarr"].startswith("3.")
    assert "python=3.11" in env["dependencies"]


def test_every_requirement_is_pinned(root):
    lines = [l.split("#")[0].strip() for l in (root / "envs" / "requirements.txt").read_text().splitlines()]
    lines = [l for l in lines if l]
    assert lines and all("==" in l for l in lines), [l for l in lines if "==" not in l]
