"""How many forward-equivalent passes each stage makes, without importing torch.

Used for cluster resource estimates in the rules and by the dry-run cost report. A backward pass
counts as one forward pass. The explainers' and metrics' counts are their classes' own
declarations (``passes(params, side)``, :mod:`heatcheck.methods`), read here for any config
entry, built in or a plugin.
"""

from __future__ import annotations

import math

from .archs import ARCHS
from .derived import HALFMASKED, KINDS


def scaled(value: int | None, size: int, at_224: int, minimum: int = 1) -> int:
    """A pixel parameter given for 224-px images, scaled to ``size`` when not set (None)."""
    if value is not None:
        return int(value)
    return max(minimum, int(round(at_224 * size / 224)))


def shapley_cell(params: dict, side: int) -> int:
    """Shapley player side: ``cell`` if set, else pixels up to 64 px and side/32 above."""
    return int(params["cell"]) if params["cell"] else (1 if side <= 64 else max(1, round(side / 32)))


def shapley_players(params: dict, side: int) -> int:
    """Players (cells) of the Shapley values of ``side``-px images."""
    return (-(-side // shapley_cell(params, side))) ** 2


def region_side(value: int | None, side: int) -> int:
    """Insertion/deletion region side: given, or 9 px at 224 px scaled (at least 3)."""
    return scaled(value, side, 9, 3)


def blur_kernel(value: int | None, side: int) -> int:
    """Gaussian blur window (insertion/deletion's blur baseline, the sparsity study's blurred
    maps): given, or the paper's 11 px at 224 px scaled (at least 3)."""
    return scaled(value, side, 11, 3)


def explainer_fb(name: str, params: dict, side: int) -> tuple[float, float]:
    """Forward and backward passes per image of config entry ``explainers.<name>`` with ``params``
    on ``side``-px images: its class's declaration (``passes``), the parameters filled with the
    class's defaults."""
    from .plugins import method_class

    cls = method_class("explainers", name, params)
    fwd, bwd = cls.passes(cls.fill(params), side)
    return float(fwd), float(bwd)


def explainer_passes(name: str, params: dict, side: int) -> float:
    """Forward-equivalent passes per image (a backward pass counts as one forward)."""
    return sum(explainer_fb(name, params, side))


def seconds_per_pass(side: int) -> float:
    """A conservative CPU estimate of one forward pass of one image (ResNet-50 at 224 px: ~0.12 s)."""
    return 0.125 * (side / 224) ** 2


def pixel_steps(n_pixels: int, steps: int | None = None, step_pixels: int | None = None) -> tuple[int, int]:
    """Pixels per step and steps K of the insertion/deletion ``pixel`` granularity: ``step_pixels``
    per step, or ``ceil(n / steps)``; K = ``ceil(n / per)`` steps, which is fewer than ``steps``
    where the rounding up adds up (94 for 100 steps of 1,024 pixels)."""
    per = int(step_pixels) if step_pixels else math.ceil(n_pixels / int(steps))
    return per, math.ceil(n_pixels / per)


def curve_steps(params: dict, side: int, granularity: str) -> int:
    """Curve points after the start (K; the curve has K + 1) of insertion/deletion with
    ``params`` at ``granularity`` (``pixel`` or ``region``) on ``side``-px images. ``region``
    records a point at each of the ``steps`` fractions; ``pixel`` one per step (:func:`pixel_steps`)."""
    steps = int(params["steps"])
    if granularity == "region":
        return steps
    return pixel_steps(side * side, steps, params["step_pixels"])[1]


def metric_passes(name: str, params: dict, side: int) -> float:
    """Forward passes per image (and saliency map) of config entry ``metrics.<name>`` with
    ``params``: its class's declaration; metrics make no backward pass. The second paper's Shapley
    values (:func:`shapley_passes`) and the masking-robustness reruns (explainer passes on 4
    copies) are stages of their own."""
    from .plugins import method_class

    cls = method_class("metrics", name, params)
    return float(sum(cls.passes(cls.fill(params), side)))


def shapley_passes(params: dict, side: int) -> float:
    """Forward passes per image of the sampled Shapley values: ``samples * (P - 1) + 2`` for P
    players (``heatcheck.shapley.walk_passes``)."""
    players = shapley_players(params, side)
    return float(int(params["samples"]) * (players - 1) + 2)


#: forward passes per image of one noisy copy (:func:`heatcheck.sanity.minor_input_noise`): the
#: clean prediction and the first draw; redraws and shrinks are rare with small noise
NOISE_PASSES = 2.0

#: copies per image the masking-robustness metric reruns each explainer on (the four half masks)
HALF_MASKS = KINDS[HALFMASKED].copies

#: memory (MB) a shard job needs beyond a bare model process: the store, zarr, the maps and the
#: method's code. Measured as for ``archs.ARCHS[...]["memory"]``: the real job functions
#: (compute_shard with RISE and integrated gradients, score_shard with deletion) on a 32-image
#: shard at three batch sizes each, LeNet and ResNet-8 (``benchmarks/bench_memory.py``); their
#: fixed parts exceed the bare model's by up to 270 MB
JOB_EXTRA_MB = 300
#: what a job's method holds per model input besides the model's activations (masks, perturbed,
#: scaled and noisy copies, gradients, running sums), as a multiple of one input's bytes, for
#: forward-only methods and for methods that backpropagate: in the measured jobs (LeNet) about 0
#: for RISE and deletion, 5.5 for integrated gradients
METHOD_BUFFERS = (1.0, 6.0)
#: margin over the estimate: the allocator's fragmentation and what the fits miss
MEM_HEADROOM = 1.25
#: ``ARCHS[...]["memory"]`` assumed for a loaded model of no measured architecture (timm, a
#: factory, TorchScript, a torchvision name not in ARCHS): the most any measured one needs
LOADED_MODEL_MEMORY = tuple(max(info["memory"][i] for info in ARCHS.values()) for i in range(3))


def job_mem_mb(arch: str, side: int, batch_size: int, passes: tuple[float, float] | None = None,
               images: int | None = None, channels: int = 3) -> int:
    """Memory (MB) to request for a job that pushes ``batch_size`` inputs at a time through a
    model of architecture ``arch`` on ``side``-px images.

    Parameters
    ----------
    arch : architecture (its measured fixed part and activations per input: ``ARCHS[arch]["memory"]``;
        None or an unmeasured one: :data:`LOADED_MODEL_MEMORY`)
    side, channels : image side and channels (an input is ``channels x side^2`` float32)
    batch_size : the config's ``batch_size``: the jobs explain or score ``batch_size // passes``
        images at a time, ``passes`` their forward + backward passes per image
    passes, images : (forward, backward) passes per image and the job's images (a batch size
        above their product holds no more); None: ``batch_size`` inputs, forward only, and no
        bound
    channels : input channels

    Returns
    -------
    int
        ``(fixed + JOB_EXTRA_MB + inputs x input bytes x (activations + METHOD_BUFFERS)) x
        MEM_HEADROOM`` rounded up to 100 MB, where ``inputs`` is the forward inputs held at once
        and the activations are those kept for the gradient when the method backpropagates.
    """
    fixed, forward, with_grad = ARCHS[arch]["memory"] if arch in ARCHS else LOADED_MODEL_MEMORY
    fwd, bwd = passes or (1, 0)
    inputs = float(batch_size) if images is None else min(batch_size, (fwd + bwd) * images)
    if fwd + bwd > 0:
        inputs *= fwd / (fwd + bwd)  # a batch's images times their forward passes
    grad = bwd > 0
    per_input = channels * side * side * 4 * ((with_grad if grad else forward) + METHOD_BUFFERS[grad])
    mb = (fixed + JOB_EXTRA_MB + inputs * per_input / 2**20) * MEM_HEADROOM
    return int(math.ceil(mb / 100) * 100)


def dataset_images(spec: dict, max_eval: int | None = None) -> tuple[int | None, int | None]:
    """(eval, train) images of a validated dataset ``spec`` as far as the config tells (its
    kind's facts), capped by the global ``max_eval``; None where only the data would tell."""
    from .data import kind_facts

    facts = kind_facts(spec)
    n_eval = facts.n_eval
    if n_eval is not None and max_eval is not None:
        n_eval = min(n_eval, max_eval)
    return n_eval, facts.n_train


#: image side assumed where only the data knows it (the papers' ImageNet side)
UNKNOWN_SIDE = 224


def image_side(spec: dict) -> int:
    """Image side of a validated dataset ``spec`` (its kind's facts; :data:`UNKNOWN_SIDE` where
    only the data tells), for pass counts and job resources."""
    from .data import kind_facts

    return int(kind_facts(spec).side or UNKNOWN_SIDE)


def study_passes(config: dict, images: int | dict | None = None, train_images: int | dict | None = None) -> list[dict]:
    """Forward and backward passes of every stage of a validated config, per image and in total.

    Parameters
    ----------
    config : dict
        A config after :func:`heatcheck.config.check_config` (defaults filled in).
    images, train_images : int or dict, optional
        Eval / train images of every dataset, or by dataset name, overriding what the config
        tells (real datasets whose size only the data knows).

    Returns
    -------
    list of dict
        One row per (dataset, model, stage, item): ``fwd``/``bwd`` passes per image, ``images``
        (maps for metrics: images x explainers scored), ``jobs`` (Snakemake jobs: one per shard, and
        for a metric without model passes one per explainer, its table's), and
        ``fwd_total``/``bwd_total`` (None where the number of images is unknown).
    """
    from .config import metric_explainers, noise_copies, shapley_settings, trust_arrays
    from .derived import NOISY, RANDOMIZED, parse_derived
    from .metric_configs import primary_params
    from .model_specs import model_label
    from .plugins import method_class

    rows = []
    explainers, metrics = config.get("explainers", {}), config.get("metrics", {})
    needs = {need: [m for m, p in metrics.items() if need in method_class("metrics", m, p).needs]
             for need in ("reruns", "shapley", "features")}
    compares = [m for m, p in metrics.items() if not method_class("metrics", m, p).per_explainer]
    for dname, dspec in config["datasets"].items():
        n_eval, n_train = dataset_images(dspec, config.get("max_eval"))
        n_eval = (images.get(dname) if isinstance(images, dict) else images) or n_eval
        n_train = (train_images.get(dname) if isinstance(train_images, dict) else train_images) or n_train
        side = image_side(dspec)
        shards = None if n_eval is None else -(-n_eval // config["shard_size"])

        for model in dspec["models"]:
            mspec = config["models"][model]

            def add(stage, item, fb, n, jobs):
                rows.append({"dataset": dname, "model": model, "arch": model_label(mspec), "side": side,
                             "stage": stage, "item": item, "fwd": fb[0], "bwd": fb[1], "images": n,
                             "jobs": jobs, "fwd_total": None if n is None else fb[0] * n,
                             "bwd_total": None if n is None else fb[1] * n})

            if mspec["source"] == "train":
                epochs = mspec["epochs"]
                add("training", f"{epochs} epochs", (float(epochs), float(epochs)), n_train, 1)
            for e, p in explainers.items():
                add("saliency", e, explainer_fb(e, p, side), n_eval, shards)
            # one set of reruns, Shapley values and feature scale per model, whichever metrics read them
            rerun = dict.fromkeys(e for m in needs["reruns"] for e in metric_explainers(config, m))
            for e in rerun:
                fb = explainer_fb(e, explainers[e], side)
                add("masking reruns", f"{e} x{HALF_MASKS}", (HALF_MASKS * fb[0], HALF_MASKS * fb[1]), n_eval, shards)
            trust = trust_arrays(config, model)
            for name in trust[RANDOMIZED] + trust[NOISY]:  # the report card's reruns
                base, kind, k = parse_derived(name)
                add(f"{kind} reruns", name, explainer_fb(base, explainers[base], side), n_eval, shards)
            if trust[NOISY]:  # the noisy copies: a clean forward, one per draw (about one redraw in all)
                add("noisy inputs", f"{len(noise_copies(config))} copies",
                    (NOISE_PASSES * len(noise_copies(config)), 0.0), n_eval, shards * len(noise_copies(config))
                    if shards is not None else None)
            if needs["shapley"]:
                shap = shapley_settings(config)
                add("shapley", f"{shap['samples']} walks", (shapley_passes(shap, side), 0.0), n_eval, shards)
            if needs["features"]:
                add("feature scale", "alpha", (1.0, 0.0), n_eval, 1)
            def metric_jobs(fwd, maps):
                # a metric without model passes is scored in its table's job (score_table_light),
                # one per scored maps; the others in one job per shard
                return maps if fwd == 0 else None if shards is None else shards * maps

            for m, p in metrics.items():
                if m in compares:
                    add("metrics", m, (0.0, 0.0), n_eval, 1)
                    continue
                scored = metric_explainers(config, m)  # the sparsity study's blurred copies included
                fwd = metric_passes(m, p, side)
                add("metrics", m, (fwd, 0.0), None if n_eval is None else n_eval * len(scored),
                    metric_jobs(fwd, len(scored)))
                reruns = metric_explainers(config, m, model)[len(scored):]  # scored at the primary configuration
                if reruns:
                    primary = primary_params(m, p, config.get("analysis", {}).get("primary"))
                    fwd = metric_passes(m, primary, side)
                    add("metrics", f"{m} (report card reruns)", (fwd, 0.0),
                        None if n_eval is None else n_eval * len(reruns), metric_jobs(fwd, len(reruns)))
    return rows
