"""Process set-up shared by the rule scripts: device, threads, seeds, logging."""

from __future__ import annotations

import logging
import random
import sys
import warnings

import numpy as np
import torch

log = logging.getLogger("heatcheck")


def pick_device(prefer_gpu: bool = True) -> torch.device:
    """CUDA when there is one; otherwise the CPU, with a warning if a GPU was wanted."""
    if prefer_gpu and torch.cuda.is_available():
        return torch.device("cuda")
    if prefer_gpu:
        msg = "no GPU available: running this GPU rule on the CPU (same results up to floating point)"
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    return torch.device("cpu")


def setup(threads: int = 1, seed: int | None = None, logfile: str | None = None) -> None:
    """Threads for torch, deterministic algorithms, seeds, and logging to ``logfile``."""
    torch.set_num_threads(max(1, int(threads)))
    torch.use_deterministic_algorithms(True, warn_only=True)
    if seed is not None:
        seed_everything(seed)
    handlers = [logging.StreamHandler(sys.stderr)]
    if logfile:
        handlers.append(logging.FileHandler(logfile, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
