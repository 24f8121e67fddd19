"""Process set-up of the rule scripts: a GPU rule on a machine without GPU runs on the CPU."""

import pytest
import torch

from heatcheck.runtime import pick_device


def test_gpu_rule_without_gpu_runs_on_cpu_with_a_warning(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="no GPU available: running this GPU rule on the CPU"):
        assert pick_device() == torch.device("cpu")
    assert pick_device(prefer_gpu=False) == torch.device("cpu")


def test_gpu_is_used_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")
