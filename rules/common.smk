# Validation, wildcard constraints and input helpers. No rules here.
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from heatcheck.config import (  # noqa: E402  (torch-free)
    curve_metrics,
    DEFAULT_STUDY,
    blur_explainers,
    box_metrics,
    canonical_params,
    metric_class,
    metric_explainers,
    metrics_needing,
    check_config,
    trust_arrays,
    load_study,
    shapley_settings,
    study,
)
from heatcheck.derived import parse_derived  # noqa: E402  (torch-free)
from heatcheck.metric_configs import primary_params  # noqa: E402  (torch-free)
from heatcheck.model_specs import model_files  # noqa: E402  (torch-free)

# The study is its config file(s): the --configfile ones, else config.yaml, never both merged
# (what Snakemake does with a configfile: directive), read again here by a loader that refuses
# duplicate keys, then the --config key=value overrides on top. Jobs get the same files and
# overrides from Snakemake, so they see the same study.
STUDY_FILES = [str(f) for f in workflow.overwrite_configfiles]
if not STUDY_FILES:
    STUDY_FILES = [DEFAULT_STUDY]
    workflow.configfiles.append(str(Path(DEFAULT_STUDY).absolute()))  # listed in the report
_study = load_study(STUDY_FILES, workflow.config_settings.config)
config.clear()
config.update(_study)

# readable errors first (they name the key and list the valid choices), then Snakemake's own
# schema validation, which also fills the defaults
check_config(config)


validate(config, schema="../workflow/schemas/config.schema.yaml")
canonical_params(config)
# what the metric classes declare they need (heatcheck.methods): built-ins and plugins alike
BOX_METRICS = box_metrics(config)
# the settings of the Shapley values, for any metric that needs them
SHAPLEY = shapley_settings(config)

DATASETS = list(config["datasets"])
MODELS = list(config["models"])
TRAINED = [m for m, s in config["models"].items() if s["source"] == "train"] or ["__none__"]
PRETRAINED = [m for m, s in config["models"].items() if s["source"] == "pretrained"] or ["__none__"]


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def model_spec(wildcards):
    return config["models"][wildcards.model]


def model_source_files(wildcards):
    """Weights, factory and TorchScript files a loaded model is built from (changed: reloaded)."""
    return model_files(config["models"][wildcards.model])


def dataset_models(wildcards):
    return config["datasets"][wildcards.dataset]["models"]


def accuracy_files(wildcards):
    return expand(
        "results/{dataset}/models/{model}.json",
        dataset=wildcards.dataset,
        model=dataset_models(wildcards),
    )


#: the matplotlib style file, an input of every plot rule, so that editing it redraws the figures
#: (and nothing else)
FIGURE_STYLE = config["figures"]["style"] or str(
    Path(workflow.basedir) / "workflow" / "heatcheck" / "plots" / "heatcheck.mplstyle"
)


def sparsity_saliency(wildcards):
    """Saliency markers of a dataset's maps, originals and blurred copies (relevance KDEs)."""
    return dataset_saliency(wildcards) + [
        f"results/{wildcards.dataset}/saliency/{m}/{derived_name(e, BLUR)}.json"
        for m in dataset_models(wildcards)
        for e in BLURRED
    ]


def blur_example_saliency(wildcards):
    return [
        f"results/{wildcards.dataset}/saliency/{m}/{name}.json"
        for m in dataset_models(wildcards)
        for e in BLURRED
        for name in (e, derived_name(e, BLUR))
    ]


def mutual_verification_matrices(wildcards):
    return [
        f"results/{wildcards.dataset}/tables/mutual_verification/{m}.csv"
        for m in dataset_models(wildcards)
    ]


def all_targets():
    """The targets of `all`: models, saliency arrays, score tables and every table and figure (with
    --report, only the reported files that exist: see report_targets)."""
    if REPORT_ONLY:
        return report_targets()
    models = [f"results/{d}/models/{m}.pt" for d, m in study(config)]
    return (models + saliency_targets() + score_targets() + [path for *_, path in products()] + [scored_inputs]
            + [SUMMARY_PAGE])


def figure_targets():
    """Every table and figure the config supports (the target `figures`; with --report, only the
    reported files that exist)."""
    return report_targets() if REPORT_ONLY else [path for *_, path in products()]


# --- saliency ------------------------------------------------------------------------------------
import functools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

from heatcheck.costs import (  # noqa: E402
    dataset_images,
    explainer_fb,
    explainer_passes,
    image_side,
    job_mem_mb,
    shapley_passes,
)
from heatcheck.cluster import cpu_rate, gpu_rate, runtime_minutes  # noqa: E402
from heatcheck.derived import BLUR, HALFMASKED, copies, derived_name, derived_pattern, split_variant  # noqa: E402
from heatcheck.shards import n_studied as studied_count, shard_digest, studied_digest  # noqa: E402

EXPLAINER_NAMES = list(config["explainers"]) or ["__none__"]
# "{explainer}+halfmasked": the explainer rerun on the four half-masked copies (masking_robustness)
COMPUTED_NAMES = EXPLAINER_NAMES + [derived_pattern(e, HALFMASKED) for e in EXPLAINER_NAMES]
#: explainers that make no model pass (random, edge): computed by the local rule
#: compute_saliency_light (no GPU, no cluster job of their own), the others by compute_saliency
LIGHT_EXPLAINERS = [e for e in config["explainers"] if explainer_passes(e, config["explainers"][e], 224) == 0]
PASS_EXPLAINERS = [e for e in config["explainers"] if e not in LIGHT_EXPLAINERS]
LIGHT_NAMES = [n for e in LIGHT_EXPLAINERS for n in (e, derived_pattern(e, HALFMASKED))] or ["__none__"]
PASS_NAMES = [n for e in PASS_EXPLAINERS for n in (e, derived_pattern(e, HALFMASKED))] or ["__none__"]
# {explainer}+blur: a blurred copy of a map for the sparsity study (made by blur_saliency, no model)
BLURRED = blur_explainers(config)
BLUR_METRICS = config["analysis"]["blur"]["metrics"]
SALIENCY_NAMES = COMPUTED_NAMES + [derived_pattern(e, BLUR) for e in BLURRED]
# the report card's reruns (rules/trust.smk): {explainer}+randomized{k} on the model with its top k
# layers re-initialised, {explainer}+noisy{k} on noisy copy k of the images
TRUST_ARRAYS = {kind: sorted({n for m in MODELS for n in trust_arrays(config, m)[kind]}) for kind in ("randomized", "noisy")}
RANDOMIZED_NAMES = [n.replace("+", r"\+") for n in TRUST_ARRAYS["randomized"]] or ["__none__"]
NOISY_NAMES = [n.replace("+", r"\+") for n in TRUST_ARRAYS["noisy"]] or ["__none__"]
SALIENCY_NAMES += RANDOMIZED_NAMES + NOISY_NAMES


wildcard_constraints:
    explainer="|".join(SALIENCY_NAMES),
    shard=r"\d+",


def explainer_params(wildcards):
    return config["explainers"][split_variant(wildcards.explainer)[0]]


def array_params(wildcards):
    """What a saliency array's maps depend on besides the model and images: the explainer's
    parameters, and for a blurred copy also the blur's."""
    if split_variant(wildcards.explainer)[1] == BLUR:
        return {"explainer": explainer_params(wildcards), "blur": blur_params(wildcards)}
    return explainer_params(wildcards)


@functools.lru_cache(maxsize=16)
def _read_summary(path, mtime_ns):
    with open(path) as fh:
        return json.load(fh)


def dataset_summary(dataset):
    """The images.json of a prepared dataset (re-evaluates the DAG once the checkpoint ran); read
    once per version of the file, though every shard job's params ask for it."""
    path = checkpoints.prepare_dataset.get(dataset=dataset).output.summary
    return _read_summary(path, os.stat(path).st_mtime_ns)


def prepared_summary(dataset):
    """The images.json for params: read directly when it exists. Snakemake evaluates the DAG once
    before it asks the checkpoint; params that waited for it would differ from the recorded ones
    in that pass and mark downstream jobs (e.g. `all`) to rerun. The jobs with such params read
    the store, so they are re-created with fresh params when the checkpoint reruns. (Inputs
    must go through `dataset_summary`: jobs are not re-created for them.)"""
    path = Path("results") / dataset / "images.json"
    if not path.exists():
        return dataset_summary(dataset)
    return _read_summary(str(path), os.stat(path).st_mtime_ns)


def n_studied(dataset):
    return studied_count(dataset_summary(dataset)["n"]["eval"], config["max_eval"])


def shard_images(wildcards):
    """The digest of one shard's images (a param: the shard reruns when they change, and not
    when the store is rewritten with more images)."""
    return shard_digest(
        prepared_summary(wildcards.dataset),
        int(wildcards.shard),
        config["shard_size"],
        config["max_eval"],
    )


def studied_images(wildcards):
    """The digest of all studied images of a dataset (a param of jobs that read them all)."""
    return studied_digest(prepared_summary(wildcards.dataset), config["max_eval"])


def model_data(wildcards):
    """The digest of what a dataset's models depend on (train split, classes, normalization):
    a param of train_model / load_model, which read the store as ancient."""
    return prepared_summary(wildcards.dataset)["digests"]["model"]


def image_size(wildcards):
    return prepared_summary(wildcards.dataset)["size"]


def saliency_shards(wildcards):
    n_shards = -(-n_studied(wildcards.dataset) // config["shard_size"])
    return expand(
        "results/{dataset}/saliency/{model}/{explainer}.shards/{shard}.json",
        dataset=wildcards.dataset,
        model=wildcards.model,
        explainer=wildcards.explainer,
        shard=range(n_shards),
    )


def _side(wildcards):
    return image_side(config["datasets"][wildcards.dataset])


def _arch_side(wildcards):
    """Architecture and input side of the wildcards' model (a loaded model: its torchvision name
    may be a measured architecture; it takes its own side)."""
    spec = config["models"][wildcards.model]
    return spec.get("arch") or spec.get("torchvision"), spec.get("size") or _side(wildcards)


def _mem_mb(wildcards, attempt, passes=None):
    """mem_mb of a job of the wildcards' model: grows with the batch size (up to the shard's
    inputs, (forward, backward) ``passes`` per image), the image side and whether it
    backpropagates; more per retry."""
    arch, side = _arch_side(wildcards)
    return job_mem_mb(arch, side, config["batch_size"], passes, config["shard_size"]) * attempt


def _resource(res, name):
    value = res.get(name)
    return getattr(value, "value", value)


def runs_on_gpu(rule):
    """Whether jobs of ``rule`` (which declares `gpu=1`) get a GPU: not where the profile's
    set-resources give it `gpu: 0` and no GPU `gres` (a CPU-only cluster)."""
    res = workflow.resource_settings.overwrite_resources.get(rule, {})
    gpu = _resource(res, "gpu")
    return (gpu is None or int(gpu) > 0) or "gpu" in str(_resource(res, "gres") or "")


def shard_runtime(wildcards, attempt, rule, passes):
    """Minutes for one shard job of ``rule`` making (forward, backward) ``passes`` per image: the
    GPU estimate where the rule gets a GPU, else the CPU one, at the model's architecture and
    input side (heatcheck.cluster); more per retry."""
    arch, side = _arch_side(wildcards)
    if runs_on_gpu(rule):
        rate = gpu_rate(arch, side, config["passes"]["precision"])
    else:
        rate = cpu_rate(arch, side)
    return runtime_minutes(passes, config["shard_size"], rate, attempt)


def saliency_passes(wildcards):
    """(forward, backward) passes per image of a saliency array's explainer (x4 for the reruns on
    the half-masked copies)."""
    base = split_variant(wildcards.explainer)[0]
    fwd, bwd = explainer_fb(base, explainer_params(wildcards), _side(wildcards))
    k = copies(wildcards.explainer)
    return fwd * k, bwd * k


def saliency_runtime(wildcards, attempt):
    return shard_runtime(wildcards, attempt, "compute_saliency", saliency_passes(wildcards))


def blur_params(wildcards):
    return {k: config["analysis"]["blur"][k] for k in ("kernel", "sigma")}


def saliency_mem_mb(wildcards, attempt):
    return _mem_mb(wildcards, attempt, saliency_passes(wildcards))


def saliency_targets():
    return [
        f"results/{d}/saliency/{m}/{e}.json"
        for d, m in study(config)
        for e in config["explainers"]
    ]


def dataset_saliency(wildcards):
    return [
        f"results/{wildcards.dataset}/saliency/{m}/{e}.json"
        for m in dataset_models(wildcards)
        for e in config["explainers"]
    ]


# --- metrics ---------------------------------------------------------------------------------------
from heatcheck.costs import metric_passes  # noqa: E402

# metrics scored per (model, explainer) from a saliency array; their table/curve files
PER_EXPLAINER_METRICS = [m for m in config["metrics"] if metric_class(config, m).per_explainer]
# what a score job reads besides the maps, for each need a metric class may declare (the
# keyword of score_shard's extras); per shard where it is per image, so that a grown study keeps
# the other shards' scores
NEED_INPUTS = {
    "shapley": ("shapley", "results/{dataset}/shapley/{model}.shards/{shard}.npz"),
    "features": ("features", "results/{dataset}/features/{model}.json"),
    "reruns": ("masked", f"results/{{dataset}}/saliency/{{model}}/{derived_name('{explainer}', HALFMASKED)}.shards/{{shard}}.json"),
}
METRIC_EXTRAS = {
    m: dict(NEED_INPUTS[n] for n in NEED_INPUTS if n in metric_class(config, m).needs)
    for m in config["metrics"]
}
METRIC_NAMES = PER_EXPLAINER_METRICS or ["__none__"]
#: metrics that make no model pass (0 passes per map with their parameters, any image side):
#: scored in their table's job by the local rule score_table_light, the others by score_metric
#: (GPU, cluster job) and merged by merge_scores
LIGHT_METRICS = [m for m in PER_EXPLAINER_METRICS if metric_passes(m, config["metrics"][m], 224) == 0]
PASS_METRICS = [m for m in PER_EXPLAINER_METRICS if m not in LIGHT_METRICS]
CURVE_METRICS = curve_metrics(config) or ["__none__"]


wildcard_constraints:
    metric="|".join(METRIC_NAMES),


def metric_params(wildcards):
    """The metric's parameters; for the report card's reruns only what scores its primary
    configuration (the only one the card reads)."""
    params = config["metrics"][wildcards.metric]
    if parse_derived(wildcards.explainer)[1] in TRUST_ARRAYS:
        return primary_params(wildcards.metric, params, config["analysis"]["primary"])
    return params


def metric_shards(wildcards):
    n_shards = -(-n_studied(wildcards.dataset) // config["shard_size"])
    return expand(
        "results/{dataset}/scores/{metric}/{model}/{explainer}.shards/{shard}.npz",
        dataset=wildcards.dataset,
        metric=wildcards.metric,
        model=wildcards.model,
        explainer=wildcards.explainer,
        shard=range(n_shards),
    )


def dataset_metrics(dataset):
    """Per-explainer metrics that apply to a dataset: box metrics only where it has boxes (kinds
    that never have boxes are refused by check_config; this skips those found box-less)."""
    has_boxes = dataset_summary(dataset)["has_boxes"]
    skipped = [m for m in PER_EXPLAINER_METRICS if m in BOX_METRICS and not has_boxes]
    for m in skipped:
        logger.warning(f"metric {m!r} skipped for dataset {dataset!r}: it has no object boxes")
    return [m for m in PER_EXPLAINER_METRICS if m not in skipped]


def metric_extra_inputs(wildcards):
    extras = {
        k: v.format(**wildcards)
        for k, v in METRIC_EXTRAS.get(wildcards.metric, {}).items()
    }
    _, kind, k = parse_derived(wildcards.explainer)
    if kind == "noisy":  # maps of a noisy copy are scored on that copy
        extras["noisy"] = noisy_shard_file(wildcards, k)
    return extras


def light_table_inputs(wildcards):
    """What score_table_light reads of each shard k: the saliency shard's report (``saliency_{k}``)
    and what the metric needs besides the maps (``{need}_{k}``: score_metric's extra inputs)."""
    from snakemake.iocontainers import Wildcards

    inputs = {}
    for k in range(-(-n_studied(wildcards.dataset) // config["shard_size"])):
        w = Wildcards(fromdict={**dict(wildcards.items()), "shard": str(k)})
        inputs[f"saliency_{k}"] = "results/{dataset}/saliency/{model}/{explainer}.shards/{shard}.json".format(**w)
        inputs.update({f"{key}_{k}": path for key, path in metric_extra_inputs(w).items()})
    return inputs


def noisy_shard_file(wildcards, copy=None):
    """The noisy-input shard (rule noisy_inputs) of a +noisy{k} array's shard."""
    k = parse_derived(wildcards.explainer)[2] if copy is None else copy
    return f"results/{wildcards.dataset}/noisy/{wildcards.model}/{k}.shards/{wildcards.shard}.npz"


def dataset_score_tables(wildcards):
    d = wildcards.dataset
    tables = [
        f"results/{d}/scores/{metric}/{m}/{e}.parquet"
        for metric in dataset_metrics(d)
        for m in config["datasets"][d]["models"]
        for e in metric_explainers(config, metric, m)
    ]
    if "mutual_verification" in config["metrics"]:
        tables += [
            f"results/{d}/scores/mutual_verification/{m}.parquet"
            for m in config["datasets"][d]["models"]
        ]
    return tables


def shapley_shards(wildcards):
    n_shards = -(-n_studied(wildcards.dataset) // config["shard_size"])
    return expand(
        "results/{dataset}/shapley/{model}.shards/{shard}.npz",
        dataset=wildcards.dataset,
        model=wildcards.model,
        shard=range(n_shards),
    )


def model_saliency(wildcards):
    return {
        e: f"results/{wildcards.dataset}/saliency/{wildcards.model}/{e}.json"
        for e in config["explainers"]
    }


def shapley_runtime(wildcards, attempt):
    passes = shapley_passes(SHAPLEY, _side(wildcards))
    return shard_runtime(wildcards, attempt, "compute_shapley", (passes, 0))


def dataset_curves(wildcards):
    d = wildcards.dataset
    return [
        f"results/{d}/curves/{metric}/{m}/{e}.zarr"
        for metric in dataset_metrics(d)
        if metric in CURVE_METRICS
        for m in config["datasets"][d]["models"]
        for e in metric_explainers(config, metric, m)
    ]


def metric_runtime(wildcards, attempt):
    passes = metric_passes(wildcards.metric, metric_params(wildcards), _side(wildcards))
    return shard_runtime(wildcards, attempt, "score_metric", (passes, 0))


def metric_mem_mb(wildcards, attempt):
    side = _side(wildcards)
    return _mem_mb(wildcards, attempt, (metric_passes(wildcards.metric, metric_params(wildcards), side), 0))


def shapley_mem_mb(wildcards, attempt):
    return _mem_mb(wildcards, attempt, (shapley_passes(SHAPLEY, _side(wildcards)), 0))


def _images_for_estimate(dataset):
    """Studied eval images, for a resource estimate: resources must not wait for the checkpoint
    (Snakemake evaluates them before it may have run), so from images.json if the data is
    prepared, else from the config (1000 where only the data would tell)."""
    if (Path("results") / dataset / "images.json").exists():
        return studied_count(prepared_summary(dataset)["n"]["eval"], config["max_eval"])
    return dataset_images(config["datasets"][dataset], config["max_eval"])[0] or 1000


def forward_mem_mb(wildcards, attempt):
    """A job of batched forward passes over all studied images, which it holds (feature_scale)."""
    images = _images_for_estimate(wildcards.dataset) * 3 * _side(wildcards) ** 2 * 4 / 2**20
    return _mem_mb(wildcards, attempt) + int(images) * attempt


def maps_mem_mb(wildcards, attempt):
    """A job holding all maps of a model at once, twice (mutual_verification: the maps and their
    normalized copies); it makes no model pass."""
    side = _side(wildcards)
    maps = 2 * _images_for_estimate(wildcards.dataset) * len(config["explainers"]) * side * side * 4 / 2**20
    return _mem_mb(wildcards, attempt, (0, 0)) + int(maps) * attempt


def score_targets():
    if not config["metrics"] or not config["explainers"]:
        return []
    tables = expand("results/{dataset}/scores.parquet", dataset=DATASETS)
    if metrics_needing(config, "shapley"):
        # the merged Shapley stores too: the scores read the Shapley shards, not the merged store
        tables += [f"results/{d}/shapley/{m}.zarr" for d, m in study(config)]
    return tables


def scored_inputs(wildcards):
    """What score tables are made of, every one a target of `all`: the per-(metric, model,
    explainer) tables and curves that collect_scores reads, and what the score jobs read besides
    the images and models (the saliency arrays' markers, Shapley stores, feature scales). Snakemake
    remakes a missing file only when a target needs it: a file removed as damaged, or lost with a
    failed job, would otherwise stay missing behind the up-to-date scores.parquet."""
    if not score_targets():
        return []
    from snakemake.iocontainers import Wildcards

    found = []
    for d in DATASETS:
        found += dataset_score_tables(Wildcards(fromdict={"dataset": d}))
        found += dataset_curves(Wildcards(fromdict={"dataset": d}))
        for metric in dataset_metrics(d):
            for m in config["datasets"][d]["models"]:
                for e in metric_explainers(config, metric, m):
                    found.append(f"results/{d}/saliency/{m}/{e}.json")
                    # what each score shard reads: its saliency shard, and its per-shard extras
                    for shard in range(-(-n_studied(d) // config["shard_size"])):
                        w = Wildcards(fromdict={"dataset": d, "model": m, "explainer": e, "metric": metric,
                                                "shard": str(shard)})
                        found += [f"results/{d}/saliency/{m}/{e}.shards/{shard}.json",
                                  *metric_extra_inputs(w).values()]
    return list(dict.fromkeys(found))


# --- tables, figures and the report ----------------------------------------------------------------
from functools import cache  # noqa: E402

from snakemake.exceptions import WorkflowError  # noqa: E402
from snakemake.io import get_wildcard_names, is_flagged, remove_flag, strip_wildcard_constraints  # noqa: E402

#: folders of results/{dataset}/ that hold products: every output of a rule there, and every output
#: marked report(), is a target of `all`. The list is read from the rules, so that a new table or
#: figure rule cannot be left out; figures are never read by another rule.
PRODUCT_FOLDERS = ("tables", "figures")


def product_conditions():
    """Config conditions of the rules that make tables or figures for some studies only. Every
    other rule applies, and a rule applies only if the rules making its (non-function) inputs do."""
    metrics = set(config["metrics"])
    explained = bool(config["explainers"])
    curves = explained and metrics & set(CURVE_METRICS)
    blurred = metrics & set(BLUR_METRICS) if BLURRED else set()
    return {
        "collect_scores": explained and metrics,
        "sparsity": explained,
        "plot_saliency_examples": explained,
        "internal_consistency": PER_EXPLAINER_METRICS,
        "inter_method": PER_EXPLAINER_METRICS,
        "rankings": PER_EXPLAINER_METRICS,
        "binarized_average_drop": "average_drop" in metrics,
        "mean_curves": curves,
        "blur_study": blurred,
        "plot_blur_examples": BLURRED,
        "plot_blur_curves": curves and blurred & set(CURVE_METRICS),
        "plot_shapley_bias": "shapley_bias" in metrics,
        "mutual_verification": explained and "mutual_verification" in metrics,
        "plot_mutual_verification": explained and "mutual_verification" in metrics,
        "non_robustness_table": "masking_robustness" in metrics,
        "report_card": PER_EXPLAINER_METRICS,
        "plot_report_card": PER_EXPLAINER_METRICS,
        "randomization_similarity": explained and TRUST_ARRAYS["randomized"],
        "plot_randomization": explained and TRUST_ARRAYS["randomized"],
    }


def _static_inputs(rule):
    return [str(f) for f in rule.input if isinstance(f, str) and not f.is_callable()]


def _folder(pattern):
    """The folder of results/{dataset}/ that ``pattern`` lies in."""
    parts = Path(strip_wildcard_constraints(str(pattern))).parts
    return parts[2] if len(parts) > 3 and parts[0] == "results" else None


def _is_figure(pattern):
    return _folder(pattern) == "figures"


def _is_product(output):
    return is_flagged(output, "report") or _folder(output) in PRODUCT_FOLDERS


def products():
    """(rule, job, output, path) of every table and figure (an output in PRODUCT_FOLDERS or marked
    report()) of the rules that apply to the config: ``output`` is the rule's output pattern,
    ``job`` tells the rule's jobs apart (their dataset and model)."""
    rules = {r.name: r for r in workflow.rules}
    conditions = product_conditions()
    unknown = sorted(set(conditions) - set(rules))
    if unknown:
        raise WorkflowError(f"product_conditions (rules/common.smk) names rules that do not exist: {unknown}")
    producers = {strip_wildcard_constraints(str(f)): n for n, r in rules.items() for f in r.output}
    # (target rules such as `all` have no outputs)
    figures_read = sorted(p for r in rules.values() if r.output for p in _static_inputs(r) if _is_figure(p))
    if figures_read:
        raise WorkflowError(f"rules read the figures {figures_read}: the report relies on figures being read by "
                            f"no rule (only tables are)")

    def applies(name):
        upstream = {producers[p] for p in _static_inputs(rules[name]) if p in producers} - {name}
        return bool(conditions.get(name, True)) and all(applies(r) for r in upstream)

    found = []
    for name, r in rules.items():
        outputs = [f for f in r.output if _is_product(f)]
        if not outputs or not applies(name):
            continue
        for f in outputs:
            pattern = strip_wildcard_constraints(str(f))
            names = set(get_wildcard_names(pattern))
            if not names <= {"dataset", "model"}:
                raise WorkflowError(f"cannot tell which {pattern} (rule {name}) to make; tables and figures "
                                    f"are made per dataset and model only")
            jobs = study(config) if "model" in names else [(d, None) for d in DATASETS]
            found += [(name, job, f, pattern.format(dataset=job[0], model=job[1])) for job in jobs]
    return found


def _report_only():
    """Whether Snakemake was started to write the report only (--report without --report-after-run).
    Snakemake's API does not tell a Snakefile, so its command line is read with its own parser."""
    if not workflow.is_main_process or not any(a.startswith("--report") for a in sys.argv[1:]):
        return False
    from snakemake.cli import get_argument_parser

    try:
        args, _ = get_argument_parser().parse_known_args(sys.argv[1:])
    except SystemExit:  # not Snakemake's command line
        return False
    return args.report is not None and not args.report_after_run


REPORT_ONLY = _report_only()


@cache
def report_targets():
    """With --report: the files marked report() that exist, so that a partly finished study gets a
    report of what it has; what is left out is logged.

    A job whose outputs feed other rules (a table's) is in the report's graph whenever something
    downstream of it is reported, and Snakemake refuses a report in which a marked file is missing:
    so a table that is missing for one dataset or model loses its report() mark for all of them.
    Figures are read by no rule: a missing one only leaves out its own job's files."""
    found = [(name, job, f, path) for name, job, f, path in products() if is_flagged(f, "report")]
    rules = {r.name: r for r in workflow.rules}
    missing = [path for *_, path in found if not Path(path).exists()]
    leaves = {name for name, *_ in found if all(_is_figure(f) for f in rules[name].output)}
    unmarked = {(name, str(f)) for name, _, f, path in found if path in missing and name not in leaves}
    incomplete = {(name, job) for name, job, _, path in found if path in missing and name in leaves}
    for name, _, f, _ in found:
        if (name, str(f)) in unmarked:
            remove_flag(f, "report")
    targets = [path for name, job, f, path in found
               if (name, str(f)) not in unmarked and (name, job) not in incomplete]
    left_out = sorted({path for *_, path in found} - set(targets) - set(missing))
    if missing:
        logger.warning(f"report: {len(missing)} outputs are missing and not in the report (run the workflow to make "
                       f"them): {', '.join(missing)}")
    if left_out:
        logger.warning(f"report: left out with them (the same table of another dataset or model, or another "
                       f"output of the same job, is missing): {', '.join(left_out)}")
    return list(targets)


# --- the report card's reruns and the summary page (rules/trust.smk) --------------------------------
#: the study's summary page, written by study_summary; the report opens on it (Snakefile: report:)
SUMMARY_PAGE = "results/summary.rst"


def noisy_runtime(wildcards, attempt):
    """Minutes for one noisy-input shard: about 2 forward passes per image (redraws are rare)."""
    return shard_runtime(wildcards, attempt, "noisy_inputs", (2, 0))


def noisy_mem_mb(wildcards, attempt):
    return _mem_mb(wildcards, attempt, (2, 0))


def randomization_saliency(wildcards):
    """Saliency markers of the maps rerun on randomized models and of their originals."""
    found = []
    for m in dataset_models(wildcards):
        names = trust_arrays(config, m)["randomized"]
        found += [f"results/{wildcards.dataset}/saliency/{m}/{e}.json"
                  for e in dict.fromkeys([parse_derived(n)[0] for n in names] + names)]
    return found


def summary_inputs(wildcards):
    """What the summary page reports: every model's accuracy, and the rankings, agreement and
    report-card tables of the studies that make them (read from products())."""
    wanted = {"rankings": "rankings", "agreement": "rankings", "report_card": "report_card"}
    found = {"accuracies": [f"results/{d}/models/{m}.json" for d, m in study(config)]}
    for name, _, f, path in products():
        key = Path(path).stem
        if wanted.get(key) == name:
            found.setdefault(key, []).append(path)
    return found


def summary_page():
    """The global report text: the summary page once study_summary wrote it, else the static
    description (Snakemake reads it when it writes the report, relative to the Snakefile unless
    absolute)."""
    page = Path(SUMMARY_PAGE)
    return str(page.absolute()) if page.exists() else "workflow/report/workflow.rst"


def mean_curve_inputs(wildcards):
    """The curve stores of the mean-curve table: the originals and blurred copies (the report
    card's reruns are scored for the card only)."""
    return [c for c in dataset_curves(wildcards) if parse_derived(Path(c).stem)[1] not in TRUST_ARRAYS]
