"""A study on a SLURM cluster, on paper and without importing torch: the jobs Snakemake sends to
SLURM and how the profile's groups bundle them into submissions, their start-up overhead, and
the time of model passes on a GPU or a CPU (the rules' ``runtime`` requests and the cost report).

The grouping is read from the SLURM profile (``workflow/profiles/slurm/config.yaml``: ``groups``
and ``group-components``), the one place it is declared: Snakemake groups a saliency shard and
the metric shards that score it into one connected component (one per dataset, model and
explainer), and ``group-components`` puts that many components into one SLURM job.
"""

from __future__ import annotations

from pathlib import Path

from .archs import ARCHS, reference_side
from .costs import seconds_per_pass

#: the SLURM profile whose ``groups`` / ``group-components`` the rules run with
PROFILE = Path(__file__).resolve().parents[1] / "profiles" / "slurm" / "config.yaml"

#: the published GPU figure every GPU estimate is scaled from
GPU_REFERENCE = {
    "arch": "resnet50", "side": 224, "batch": 256,
    "fwd_per_s": {"fp32": 1261.0, "mixed": 3382.0},
    "source": "published: NVIDIA DeepLearningExamples, ResNet-50 v1.5 PyTorch inference on V100-16GB, "
              "batch 256",
}
#: a backward pass (input gradients) costs about two forwards (it computes the gradients of the
#: activations and of the weights' inputs); the GPU estimate's backward rate is forward / this
BACKWARD_FORWARDS = 2.0

#: start-up of SLURM work measured here by ``benchmarks/bench_startup.py`` (2 cores shared with
#: other work, load average ~14, fastest of 5; no GPU: CUDA initialisation and queueing not
#: included; ``benchmarks/results/startup.json``), rounded up to 0.1 s. ``submission``: the job step's Snakemake process (parse the workflow, plan its
#: jobs), once per submitted job; ``job``: every Snakemake job's own ``srun`` process (Snakemake
#: again, torch and the package's imports, the checkpoint load of the architecture), grouped or not.
STARTUP = {
    "submission": 4.5,
    "job": {"lenet": 7.5, "resnet8": 7.5, "resnet20": 7.6, "resnet32": 7.7, "resnet44": 7.8, "resnet56": 7.6,
            "resnet50": 8.1, "resnet101": 8.5, "vgg16": 10.4, "vgg19": 10.7, "alexnet": 8.4},
}


def arch_gflops(arch: str | None, side: int) -> float:
    """GFLOPs of one forward pass of one ``side``-px image: the table's count at the reference side
    scaled by ``(side / reference) ** 2``. An approximation: the convolutions scale so, the
    classifier head does not. A model of no known architecture: the most per pixel of any."""
    if arch not in ARCHS:
        return max(info["gflops"] / reference_side(a) ** 2 for a, info in ARCHS.items()) * side * side
    return ARCHS[arch]["gflops"] * (side / reference_side(arch)) ** 2


def gpu_rate(arch: str | None, side: int, precision: str = "fp32") -> dict:
    """Forward and backward images per second of ``arch`` on a GPU: :data:`GPU_REFERENCE` (its
    FP32 figure, or the mixed-precision one for ``bf16``/``fp16``) times ResNet-50's FLOPs over the
    architecture's at ``side`` (an approximation, which flatters small networks: they do not fill
    a GPU), backward :data:`BACKWARD_FORWARDS` times slower."""
    key = "fp32" if precision == "fp32" else "mixed"
    ref = GPU_REFERENCE["fwd_per_s"][key]
    fwd = ref * arch_gflops(GPU_REFERENCE["arch"], GPU_REFERENCE["side"]) / arch_gflops(arch, side)
    return {"arch": arch, "side": side, "batch": GPU_REFERENCE["batch"], "fwd_per_s": fwd,
            "bwd_per_s": fwd / BACKWARD_FORWARDS,
            "source": f"{GPU_REFERENCE['source']}: {ref:,.0f} img/s {'FP32' if key == 'fp32' else 'mixed precision'}, "
                      f"x FLOPs of ResNet-50 at 224 px / FLOPs here (approximation)"}


def cpu_rate(arch: str | None, side: int) -> dict:
    """Forward (= backward) images per second of ``arch`` on a CPU, conservatively: the slower of
    :func:`heatcheck.costs.seconds_per_pass` (side only) and the same ResNet-50 figure scaled by
    the architecture's FLOPs (VGG16 is 3.8 times ResNet-50's)."""
    ref = arch_gflops("resnet50", 224)
    seconds = max(seconds_per_pass(side), seconds_per_pass(224) * arch_gflops(arch, side) / ref)
    return {"arch": arch, "side": side, "batch": "-", "fwd_per_s": 1 / seconds, "bwd_per_s": 1 / seconds,
            "source": "estimate: ResNet-50 224 px at 8 img/s (2 CPU cores), x FLOPs (approximation)"}


def pass_seconds(passes: tuple[float, float], images: int, rate: dict) -> float:
    """Seconds of ``images`` x (forward, backward) ``passes`` at ``rate`` (:func:`gpu_rate`, :func:`cpu_rate`)."""
    fwd, bwd = passes
    return images * (fwd / rate["fwd_per_s"] + bwd / rate["bwd_per_s"])


def runtime_minutes(passes: tuple[float, float], images: int, rate: dict, attempt: int = 1) -> int:
    """A job's ``runtime`` request: 10 minutes (start-up, data, the method's own work) plus twice
    the passes' time, times the attempt (a job killed for time gets twice, then three times)."""
    return int(10 + 2 * pass_seconds(passes, images, rate) / 60) * attempt


# --- what a study sends to SLURM ------------------------------------------------------------------


def _pairs(value) -> dict:
    """A profile's ``groups``/``group-components``: a mapping, or ``KEY=VALUE`` strings as on the
    command line."""
    if not value:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return dict(str(v).split("=", 1) for v in value)


def load_profile(path: str | Path = PROFILE) -> dict:
    """``{"groups": {rule: group pattern}, "components": {group pattern: n}}`` of a Snakemake
    profile's config.yaml (``path`` a file or its folder)."""
    import yaml

    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    profile = yaml.safe_load(path.read_text()) or {}
    return {"path": str(path), "groups": {k: str(v) for k, v in _pairs(profile.get("groups")).items()},
            "components": {k: int(v) for k, v in _pairs(profile.get("group-components")).items()}}


def _eval_images(config: dict, name: str, images) -> int | None:
    from .costs import dataset_images

    given = images.get(name) if isinstance(images, dict) else images
    return given or dataset_images(config["datasets"][name], config.get("max_eval"))[0]


def slurm_jobs(config: dict, images: int | dict | None = None) -> list[dict] | None:
    """Every Snakemake job of a validated config that runs on SLURM (the rules that are not local):
    ``{"rule", "wildcards", "after"}``, ``after`` the index of the job in this list whose output it
    reads (a score shard's saliency shard), or None. None when a dataset's image count is unknown."""
    from .config import metric_class, metric_explainers, metrics_needing, noise_copies, trust_arrays
    from .costs import explainer_passes, image_side, metric_passes
    from .derived import NOISY, RANDOMIZED, derived_name, parse_derived

    jobs: list[dict] = []

    def add(rule, after=None, **wildcards):
        jobs.append({"rule": rule, "wildcards": wildcards, "after": after})
        return len(jobs) - 1

    metrics = config.get("metrics", {})
    explainers = config.get("explainers", {})
    for dname, dspec in config["datasets"].items():
        n_eval = _eval_images(config, dname, images)
        if n_eval is None:
            return None
        shards = -(-n_eval // config["shard_size"])
        add("prepare_dataset", dataset=dname)
        side = image_side(dspec)
        for model in dspec["models"]:
            source = config["models"][model]["source"]
            add("train_model" if source == "train" else "load_model", dataset=dname, model=model)
            # saliency arrays computed with model passes: the explainers, and their reruns on the
            # half-masked copies (masking_robustness); zero-pass explainers run locally
            computed = [e for e in explainers if explainer_passes(e, explainers[e], side) > 0]
            reruns = dict.fromkeys(e for m in metrics_needing(config, "reruns") for e in metric_explainers(config, m))
            computed += [derived_name(e, "halfmasked") for e in reruns if e in computed]
            saliency = {}
            for e in computed:
                for s in range(shards):
                    saliency[e, s] = add("compute_saliency", dataset=dname, model=model, explainer=e, shard=str(s))
            # the report card's reruns (rules/trust.smk): on randomized models, and on the noisy
            # copies of the images, which a job per (copy, shard) writes first
            trust = trust_arrays(config, model)
            for name in trust[RANDOMIZED]:
                for s in range(shards):
                    saliency[name, s] = add("randomized_saliency", dataset=dname, model=model, explainer=name,
                                            shard=str(s))
            noisy = {}
            for k in (noise_copies(config) if trust[NOISY] else []):
                for s in range(shards):
                    noisy[k, s] = add("noisy_inputs", dataset=dname, model=model, noise_copy=str(k), shard=str(s))
            for name in trust[NOISY]:
                k = parse_derived(name)[2]
                for s in range(shards):
                    saliency[name, s] = add("noisy_saliency", noisy[k, s], dataset=dname, model=model, explainer=name,
                                            shard=str(s))
            for m, p in metrics.items():
                if not metric_class(config, m).per_explainer or metric_passes(m, p, side) == 0:
                    continue  # local: no model pass
                for e in metric_explainers(config, m, model):
                    for s in range(shards):
                        add("score_metric", saliency.get((e, s)), dataset=dname, metric=m, model=model,
                            explainer=e, shard=str(s))
            if metrics_needing(config, "shapley"):
                for s in range(shards):
                    add("compute_shapley", dataset=dname, model=model, shard=str(s))
            if metrics_needing(config, "features"):
                add("feature_scale", dataset=dname, model=model)
    return jobs


def submissions(jobs: list[dict], profile: dict) -> dict:
    """How the profile's groups bundle ``jobs`` (:func:`slurm_jobs`) into SLURM submissions, as
    Snakemake does: the jobs of one group id (the rule's group pattern filled with its wildcards)
    that read one another form a connected component; ``group-components`` (n, by pattern)
    puts n components into one submission; a job of no group is a submission of its own.

    Returns ``{"jobs", "submitted", "groups": {group id: (components, submissions)}}``.
    """
    groups, per = profile["groups"], profile["components"]
    ids, root = [], list(range(len(jobs)))

    def find(i):
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for i, job in enumerate(jobs):
        pattern = groups.get(job["rule"])
        try:
            ids.append(None if pattern is None else (pattern, pattern.format(**job["wildcards"])))
        except KeyError as e:
            raise ValueError(f"{profile.get('path', 'profile')}: group {pattern!r} of rule {job['rule']} names "
                             f"wildcard {e} the rule does not have") from None
        after = job["after"]
        if after is not None and ids[i] is not None and ids[after] == ids[i]:
            root[find(i)] = find(after)
    components: dict = {}
    for i, gid in enumerate(ids):
        if gid is not None:
            components.setdefault(gid, set()).add(find(i))
    summary = {gid[1]: (len(c), -(-len(c) // per.get(gid[0], 1))) for gid, c in components.items()}
    ungrouped = sum(1 for gid in ids if gid is None)
    return {"jobs": len(jobs), "submitted": ungrouped + sum(n for _, n in summary.values()), "groups": summary}


def startup_seconds(jobs: list[dict], submitted: int, arch_of: dict) -> float:
    """Start-up overhead (seconds) of a study's SLURM work: :data:`STARTUP` ``submission`` per
    submitted job and ``job`` (of the job's architecture; the slowest measured one where it has
    none or an unmeasured one) per Snakemake job. ``arch_of`` maps (dataset, model) to the arch."""
    worst = max(STARTUP["job"].values())
    total = submitted * STARTUP["submission"]
    for job in jobs:
        w = job["wildcards"]
        arch = arch_of.get((w.get("dataset"), w.get("model")))
        total += STARTUP["job"].get(arch, worst) if "model" in w else STARTUP["job"].get("lenet", worst)
    return total
