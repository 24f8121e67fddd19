"""Process set-up shared by the rule scripts: device, threads, seeds, logging.

Torch is imported by the functions that use it, not by this module: the jobs that make no model
pass (preparing a dataset, every figure) set up their logging here without paying torch's import
(1.5-2 s per process on this machine, more under load).
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import threading
import warnings

import numpy as np

from . import HeatcheckError

log = logging.getLogger("heatcheck")


def pick_device(prefer_gpu: bool = True) -> torch.device:
    """CUDA when there is one; otherwise the CPU, with a warning if a GPU was wanted."""
    import torch

    if prefer_gpu and torch.cuda.is_available():
        return torch.device("cuda")
    if prefer_gpu:
        msg = "no GPU available: running this GPU rule on the CPU (same results up to floating point)"
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    return torch.device("cpu")


def setup(threads: int = 1, seed: int | None = None, logfile: str | None = None) -> None:
    """Threads for torch, deterministic algorithms, seeds, and logging to ``logfile``."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    torch.use_deterministic_algorithms(True, warn_only=True)
    if seed is not None:
        seed_everything(seed)
    setup_logging(logfile)


def setup_logging(logfile: str | None = None) -> None:
    """Log records of level INFO and above, and warnings, to stderr and ``logfile`` (torch-free)."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if logfile:
        handlers.append(logging.FileHandler(logfile, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _ThisThread(logging.Filter):
    """Passes the records of one thread only (jobs running side by side in one process)."""

    def __init__(self):
        super().__init__()
        self.ident = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.ident


@contextlib.contextmanager
def in_process_job(threads: int = 1, logfile: str | None = None):
    """Set-up of a job that runs in a thread of Snakemake's own process (``run:`` rules under
    ``force-use-threads``): no interpreter start-up, no re-import of torch, captum or zarr.

    Torch gets ``threads`` intra-op threads (the rule's ``threads``, as a process job of the same
    rule would, so that local and cluster runs compute alike) and deterministic algorithms; the
    job's log file receives the records of this thread only. Random draws must come from explicit
    generators (every explainer's and metric's do): the global RNGs are shared between jobs.
    """
    import torch

    torch.set_num_threads(max(1, int(threads)))
    torch.use_deterministic_algorithms(True, warn_only=True)
    handler = None
    logger = logging.getLogger("heatcheck")
    if logfile:
        handler = logging.FileHandler(logfile, mode="w")
        handler.addFilter(_ThisThread())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    try:
        yield
    except Exception:
        logger.exception("job failed")
        raise
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            handler.close()


#: what an allocation that failed says: torch's CUDA out-of-memory error, its CPU allocator's
#: error and the operating system's (errno 12)
_OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory")


@contextlib.contextmanager
def out_of_memory(job: str, batch_size: int):
    """Turn running out of memory inside the block into a :class:`HeatcheckError` that names the
    job and the setting to lower, ``batch_size``, with its current value.

    Catches ``torch.OutOfMemoryError`` (GPU), ``MemoryError`` and the ``RuntimeError`` torch's CPU
    allocator raises; any other error passes unchanged.
    """
    try:
        yield
    except (MemoryError, RuntimeError) as exc:
        import torch

        if not isinstance(exc, (MemoryError, torch.OutOfMemoryError)) and \
                not any(m in str(exc).lower() for m in _OOM_MESSAGES):
            raise
        raise HeatcheckError(
            f"{job} ran out of memory with batch_size {batch_size} ({type(exc).__name__}: "
            f"{str(exc).strip()[:200]}): lower batch_size in the config (now {batch_size}, e.g. "
            f"{max(1, batch_size // 4)}), or give the job more memory (its mem_mb resource)") from exc
