"""The bodies of the model-pass rules, run by their ``run:`` blocks.

A ``script:`` rule starts a new interpreter per job, which then imports torch, zarr and the
explainer libraries and loads the checkpoint: 5-7 s per job here, before the first pass, which
dominated the default study (hundreds of shard jobs). A ``run:`` rule executes in a thread of
Snakemake's own process when the profile sets ``force-use-threads`` (the local profile does), so
those imports happen once per run. On a cluster each job is still its own process (Snakemake's
job step), with the same code and the same results.

Every function takes Snakemake's job objects (``input``, ``output``, ``params``, ``wildcards``,
``threads``, ``log``, ``config``) and calls the package, inside
:func:`heatcheck.runtime.in_process_job` (torch threads = the rule's threads, a per-thread log).
``batch_size`` and ``max_eval`` come from the config, never from params: a batch size does not
change a result and must not rerun it; ``max_eval`` changes which shards exist, not what one holds.
"""

from __future__ import annotations

import functools
import threading
import time
from multiprocessing import spawn
from pathlib import Path
from multiprocessing.context import SpawnContext, SpawnProcess

from . import HeatcheckError
from .runtime import in_process_job, pick_device


def _log(log):
    return log[0] if len(log) else None


# --- job timings -------------------------------------------------------------------------------
# Every model-pass job writes its wall time to ``results/{dataset}/benchmarks/{rule}/....tsv`` (its
# log's path under benchmarks/ instead of logs/), in the first two columns of Snakemake's
# benchmark files. Snakemake's own ``benchmark:`` directive did this before, at a cost: it samples
# the memory of Snakemake's whole process tree (psutil, /proc/*/smaps) when the job starts and
# every 0.5 s, inside the job's time, about 33 ms a job here for in-process jobs of 0.1-1.5 s.
# The numbers it added (memory of the whole tree) do not describe a thread of Snakemake's
# process; on a cluster, SLURM's accounting records each job's memory.

#: the columns of a job's timing file (Snakemake's benchmark files begin with the same two)
TIMING_COLUMNS = ("s", "h:m:s")


def timing_path(logfile) -> Path | None:
    """A job's timing file: its log ``results/{dataset}/logs/{rule}/...{.log}`` under
    ``benchmarks/`` instead of ``logs/``, with the suffix ``.tsv`` (None for a log elsewhere)."""
    parts = Path(logfile).parts
    if "logs" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("logs")
    return Path(*parts[:i], "benchmarks", *parts[i + 1:]).with_suffix(".tsv")


def write_timing(path, seconds: float) -> None:
    from .store import written

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hms = time.strftime("%H:%M:%S", time.gmtime(seconds))
    with written(path, "w") as fh:
        fh.write("\t".join(TIMING_COLUMNS) + f"\n{seconds:.4f}\t{hms}\n")


def timed(job):
    """A job function (``job(input, output, params, wildcards, threads, log, config)``) that
    writes its wall time to :func:`timing_path` of its log when it succeeds (a job whose log is
    not under a ``logs/`` folder is not timed: its results count, not its time)."""
    @functools.wraps(job)
    def run(input, output, params, wildcards, threads, log, config):
        t0 = time.perf_counter()
        job(input, output, params, wildcards, threads, log, config)
        logfile = _log(log)
        path = timing_path(logfile) if logfile else None
        if path is not None:
            write_timing(path, time.perf_counter() - t0)
    return run


def _function(fn_name: str):
    """The package function ``heatcheck.<module>.<fn>`` named by ``fn_name``."""
    import importlib

    module, _, fn = fn_name.rpartition(".")
    return getattr(importlib.import_module(module), fn)


def _in_child(fn_name: str, threads: int, logfile, args: tuple, kwargs: dict, model: bool = True,
              seed: int | None = None):
    """Run ``fn_name`` in this (child) process, set up like a script job (``model``: one that
    makes model passes, which gets torch's threads and a device; ``seed``: the global random
    generators seeded first, for work that draws from them, i.e. training)."""
    from .runtime import setup, setup_logging

    if not model:
        setup_logging(logfile)
        return _function(fn_name)(*args, **kwargs)
    setup(threads, seed=seed, logfile=logfile)
    return _function(fn_name)(*args, device=pick_device(), **kwargs)


_POOL = None
_POOL_LOCK = threading.Lock()
_START_LOCK = threading.Lock()


class _WorkerProcess(SpawnProcess):
    """A spawned worker that does not re-run the parent's main script.

    A spawned child first runs the parent's ``__main__`` file (here Snakemake's console script,
    which imports all of Snakemake and its executor plugins) before it can unpickle its task.
    A worker needs only the package: its tasks are :func:`_in_child` calls. Importing Snakemake
    costs a worker about 1 s, and on a machine where SLURM's ``scontrol`` is installed but no
    controller answers, 9 s more (the SLURM executor plugin runs ``scontrol show config`` when
    imported)."""

    def start(self):
        with _START_LOCK:
            full = spawn.get_preparation_data

            def without_main(name):
                data = full(name)
                data.pop("init_main_from_path", None)
                return data

            spawn.get_preparation_data = without_main
            try:
                super().start()
            finally:
                spawn.get_preparation_data = full


class _WorkerContext(SpawnContext):
    Process = _WorkerProcess


def _worker_pool():
    """The child processes of the jobs that must not share Snakemake's process: started on demand
    (spawn, one per job running at once, at most one per core) and reused by the next such job, so
    that a study pays their interpreter start-up and imports (2-3 s here) once per worker, not
    once per job. A worker runs one job at a time, set up afresh by :func:`_in_child`."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            import os
            from concurrent.futures import ProcessPoolExecutor

            _POOL = ProcessPoolExecutor(os.cpu_count() or 1, mp_context=_WorkerContext())
        return _POOL


def _discard_pool(pool) -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is pool:
            _POOL = None
    pool.shutdown(wait=False, cancel_futures=True)


def _call(fn_name: str, threads: int, logfile, *args, own_process: bool = False, model: bool = True,
          global_seed: int | None = None, **kwargs):
    """Call the package function ``fn_name`` for a job: in this thread, or, for work that must not
    share a process with other jobs (``own_process``) when other jobs may run beside it (this is
    not the main thread), in a child process of :func:`_worker_pool`. ``model``: the function
    makes model passes (it gets a ``device``, and torch is set up for it). ``global_seed``: the work draws
    from the global random generators (training), which are seeded first; only for
    ``own_process`` work, since threads of one process share those generators."""
    if global_seed is not None and not own_process:
        raise ValueError(f"{fn_name}: seeding the global generators needs a process of its own")
    if own_process and threading.current_thread() is not threading.main_thread():
        from concurrent.futures.process import BrokenProcessPool

        args = tuple(str(a) if isinstance(a, str) else a for a in args)  # Snakemake's file objects
        pool = _worker_pool()
        try:
            return pool.submit(_in_child, fn_name, threads, logfile, args, kwargs, model, global_seed).result()
        except BrokenProcessPool as exc:
            # a worker died (killed, e.g. out of memory): this job fails, later jobs get new workers
            _discard_pool(pool)
            raise HeatcheckError(f"the worker process running {fn_name} (log: {logfile}) died: {exc}") from exc
    if not model or global_seed is not None:  # this process's only job: set up like a script job
        return _in_child(fn_name, threads, logfile, args, kwargs, model, global_seed)
    with in_process_job(threads, logfile):
        return _function(fn_name)(*args, device=pick_device(), **kwargs)


@timed
def train_model(input, output, params, wildcards, threads, log, config) -> None:
    """Rules train_model and load_model. Training draws from the global random generators (the
    weights' initialisation), so it runs in a process of its own: a worker of :func:`_worker_pool`,
    which the study's LRP, DeepSHAP and figure jobs reuse afterwards (a ``script:`` job paid an
    interpreter and torch's import per model, and those jobs a worker's start-up again)."""
    spec = params.spec
    fn = "train_model" if spec["source"] == "train" else "import_pretrained"
    _call(f"heatcheck.models.train.{fn}", threads, _log(log), str(input[0]), spec, str(output.model),
          str(output.report), own_process=True, global_seed=spec["seed"], name=wildcards.model)


@timed
def compute_saliency(input, output, params, wildcards, threads, log, config) -> None:
    from .plugins import method_class
    from .derived import split_variant

    cls = method_class("explainers", split_variant(wildcards.explainer)[0], params.explainer)
    _call("heatcheck.saliency.compute_shard", threads, _log(log), input.store, input.model, input.array,
          wildcards.explainer, params.explainer, int(wildcards.shard), params.shard_size,
          own_process=cls.traces_model, max_eval=config["max_eval"], seed=params.seed,
          batch_size=config["batch_size"], target=params.target, report_path=output[0],
          passes=dict(config.get("passes") or {}), noisy=input.noisy if "noisy" in input.keys() else None)


#: the inputs some metrics read besides the maps (:func:`heatcheck.scoring.score_shard`'s ``extras``)
EXTRAS = ("shapley", "features", "masked", "noisy")


@timed
def score_metric(input, output, params, wildcards, threads, log, config) -> None:
    extras = {k: input[k] for k in EXTRAS if k in input.keys()}
    _call("heatcheck.scoring.score_shard", threads, _log(log), input.store, input.model, input.saliency,
          wildcards.metric, params.metric, output[0], seed=params.seed, batch_size=config["batch_size"],
          extras=extras, passes=dict(config.get("passes") or {}))


@timed
def score_table_light(input, output, params, wildcards, threads, log, config) -> None:
    """Rule score_table_light: the shards of a metric that makes no model pass, scored and written
    as its table in one job (:func:`heatcheck.scoring.score_table`)."""
    names = set(input.keys())
    shards = range(sum(1 for k in names if k.startswith("saliency_")))
    extras = [{key: str(getattr(input, f"{key}_{k}")) for key in EXTRAS if f"{key}_{k}" in names} for k in shards]
    _call("heatcheck.scoring.score_table", threads, _log(log), input.store, input.model,
          [str(getattr(input, f"saliency_{k}")) for k in shards], wildcards.metric, params.metric, output[0], wildcards.dataset,
          wildcards.model, wildcards.explainer, seed=params.seed, batch_size=config["batch_size"], extras=extras,
          passes=dict(config.get("passes") or {}))


@timed
def compute_shapley(input, output, params, wildcards, threads, log, config) -> None:
    _call("heatcheck.scoring.shapley_shard", threads, _log(log), input.store, input.model, params.shapley,
          int(wildcards.shard), params.shard_size, output[0], max_eval=config["max_eval"], seed=params.seed,
          batch_size=config["batch_size"], target=params.target, passes=dict(config.get("passes") or {}))


@timed
def noisy_inputs(input, output, params, wildcards, threads, log, config) -> None:
    _call("heatcheck.sanity.noisy_shard", threads, _log(log), input.store, input.model, int(wildcards.noise_copy),
          params.sigma, int(wildcards.shard), params.shard_size, output[0], max_eval=config["max_eval"],
          seed=params.seed, batch_size=config["batch_size"], passes=dict(config.get("passes") or {}))


def feature_scale(input, output, params, wildcards, threads, log, config) -> None:
    _call("heatcheck.scoring.feature_scale", threads, _log(log), input.store, input.model, output[0],
          max_eval=config["max_eval"], batch_size=config["batch_size"], passes=dict(config.get("passes") or {}))


def mutual_verification(input, output, params, wildcards, threads, log, config) -> None:
    from .scoring import mutual_verification_tables

    with in_process_job(threads, _log(log)):
        mutual_verification_tables(dict(input.items()), wildcards.dataset, wildcards.model, output.matrix,
                                   output.table)


def plain(named) -> dict:
    """A Snakemake ``input`` or ``params`` object as a plain dict of its named entries (paths as
    ``str``, lists of paths as lists): what a worker process can receive."""
    def value(v):
        if isinstance(v, str):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [value(x) for x in v]
        return v

    return {k: value(v) for k, v in named.items()}


def plot(rule: str, input, output, params, log) -> None:
    """A figure (:func:`heatcheck.plots.draw`) drawn in a worker process of :func:`_worker_pool`:
    pyplot's state is global, so figures never share a process with other jobs running at the same
    time, but a worker draws one after another, paying matplotlib's and the package's imports once
    instead of once per figure."""
    _call("heatcheck.plots.draw", 1, _log(log), rule, plain(input), str(output[0]), plain(params),
          own_process=True, model=False)
