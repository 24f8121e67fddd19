# Validation, wildcard constraints and input helpers. No rules here.
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from heatcheck.config import (  # noqa: E402  (torch-free)
    BOX_METRICS,
    blur_explainers,
    canonical_params,
    metric_explainers,
    check_config,
    study,
)
from heatcheck.model_specs import model_files  # noqa: E402  (torch-free)

# readable errors first (they name the key and list the valid choices), then Snakemake's own
# schema validation, which also fills the defaults
check_config(config)


validate(config, schema="../workflow/schemas/config.schema.yaml")
canonical_params(config)

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


def figure_targets():
    """Every figure (and the tables they draw) the config supports, per dataset."""
    names = ["samples"]
    metrics = config["metrics"]
    if config["explainers"]:
        names += ["saliency_examples", "relevance_kde"]
        if [m for m in metrics if m != "mutual_verification"]:
            names += ["internal_consistency", "inter_method", "rankings"]
        if "average_drop" in metrics:
            names.append("average_drop_binarized")
        if set(metrics) & {"insertion", "deletion"}:
            names.append("curves")
        if BLURRED:
            names.append("blur_examples")
            if set(metrics) & set(BLUR_METRICS):
                names.append("blur_study")
            if set(metrics) & set(BLUR_METRICS) & {"insertion", "deletion"}:
                names.append("blur_curves")
        names += [f for m, f in (("shapley_bias", "shapley_bias"), ("mutual_verification",
                                 "mutual_verification")) if m in metrics]
    figs = expand("results/{dataset}/figures/{name}.png", dataset=DATASETS, name=names)
    if config["explainers"] and "masking_robustness" in metrics:
        figs += expand("results/{dataset}/tables/non_robustness.csv", dataset=DATASETS)
    return figs


#: the matplotlib style file, an input of every plot rule, so that editing it redraws the figures
#: (and nothing else)
FIGURE_STYLE = config["figures"]["style"] or str(
    Path(workflow.basedir) / "workflow" / "heatcheck" / "plots" / "heatcheck.mplstyle"
)


def sparsity_saliency(wildcards):
    """Saliency markers of a dataset's maps, originals and blurred copies (relevance KDEs)."""
    return dataset_saliency(wildcards) + [
        f"results/{wildcards.dataset}/saliency/{m}/{e}+blur.json"
        for m in dataset_models(wildcards)
        for e in BLURRED
    ]


def blur_example_saliency(wildcards):
    return [
        f"results/{wildcards.dataset}/saliency/{m}/{name}.json"
        for m in dataset_models(wildcards)
        for e in BLURRED
        for name in (e, f"{e}+blur")
    ]


def mutual_verification_matrices(wildcards):
    return [
        f"results/{wildcards.dataset}/tables/mutual_verification/{m}.csv"
        for m in dataset_models(wildcards)
    ]


def all_targets():
    models = [f"results/{d}/models/{m}.pt" for d, m in study(config)]
    return models + saliency_targets() + score_targets() + figure_targets()


# --- saliency ------------------------------------------------------------------------------------
from heatcheck.costs import explainer_passes, image_side, seconds_per_pass, shapley_passes  # noqa: E402

EXPLAINER_NAMES = list(config["explainers"]) or ["__none__"]
# "{explainer}+halfmasked": the explainer rerun on the four half-masked copies (masking_robustness)
COMPUTED_NAMES = EXPLAINER_NAMES + [rf"{e}\+halfmasked" for e in EXPLAINER_NAMES]
# {explainer}+blur: a blurred copy of a map for the sparsity study (made by blur_saliency, no model)
BLURRED = blur_explainers(config)
BLUR_METRICS = config["analysis"]["blur"]["metrics"]
SALIENCY_NAMES = COMPUTED_NAMES + [rf"{e}\+blur" for e in BLURRED]


wildcard_constraints:
    explainer="|".join(SALIENCY_NAMES),
    shard=r"\d+",


def explainer_params(wildcards):
    return config["explainers"][wildcards.explainer.partition("+")[0]]


def dataset_summary(dataset):
    """The images.json of a prepared dataset (re-evaluates the DAG once the checkpoint ran)."""
    import json

    path = checkpoints.prepare_dataset.get(dataset=dataset).output.summary
    with open(path) as fh:
        return json.load(fh)


def n_studied(dataset):
    n = dataset_summary(dataset)["n"]["eval"]
    return n if config["max_eval"] is None else min(n, config["max_eval"])


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


def saliency_runtime(wildcards, attempt):
    """Minutes for one shard: passes x images x a CPU estimate per pass, doubled per retry."""
    base, _, variant = wildcards.explainer.partition("+")
    passes = explainer_passes(base, explainer_params(wildcards), _side(wildcards)) * (4 if variant else 1)
    seconds = config["shard_size"] * max(passes, 1) * seconds_per_pass(_side(wildcards))
    return int(10 + 2 * seconds / 60) * attempt


def blur_params(wildcards):
    return {k: config["analysis"]["blur"][k] for k in ("kernel", "sigma")}


def saliency_mem_mb(wildcards, attempt):
    return 4000 * attempt


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
PER_EXPLAINER_METRICS = [m for m in config["metrics"] if m != "mutual_verification"]
# what some metrics read besides the maps (score_metric's extra inputs)
METRIC_EXTRAS = {
    "shapley_bias": {"shapley": "results/{dataset}/shapley/{model}.zarr"},
    "unexplainable_features": {"features": "results/{dataset}/features/{model}.json"},
    "masking_robustness": {
        "masked": "results/{dataset}/saliency/{model}/{explainer}+halfmasked.json"
    },
}
METRIC_NAMES = PER_EXPLAINER_METRICS or ["__none__"]
CURVE_METRICS = [m for m in config["metrics"] if m in ("insertion", "deletion")] or ["__none__"]


wildcard_constraints:
    metric="|".join(METRIC_NAMES),


def metric_params(wildcards):
    return config["metrics"][wildcards.metric]


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
    return {
        k: v.format(**wildcards)
        for k, v in METRIC_EXTRAS.get(wildcards.metric, {}).items()
    }


def dataset_score_tables(wildcards):
    d = wildcards.dataset
    tables = [
        f"results/{d}/scores/{metric}/{m}/{e}.parquet"
        for metric in dataset_metrics(d)
        for m in config["datasets"][d]["models"]
        for e in metric_explainers(config, metric)
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
    side = _side(wildcards)
    passes = shapley_passes(config["metrics"]["shapley_bias"], side)
    return int(10 + 2 * config["shard_size"] * passes * seconds_per_pass(side) / 60) * attempt


def dataset_curves(wildcards):
    d = wildcards.dataset
    return [
        f"results/{d}/curves/{metric}/{m}/{e}.zarr"
        for metric in dataset_metrics(d)
        if metric in CURVE_METRICS
        for m in config["datasets"][d]["models"]
        for e in metric_explainers(config, metric)
    ]


def metric_runtime(wildcards, attempt):
    """Minutes for one metric shard: passes x images x a CPU estimate per pass, doubled per retry."""
    side = _side(wildcards)
    passes = metric_passes(wildcards.metric, metric_params(wildcards), side)
    seconds = config["shard_size"] * max(passes, 1) * seconds_per_pass(side)
    return int(10 + 2 * seconds / 60) * attempt


def metric_mem_mb(wildcards, attempt):
    return 4000 * attempt


def score_targets():
    if not config["metrics"] or not config["explainers"]:
        return []
    return expand("results/{dataset}/scores.parquet", dataset=DATASETS)
