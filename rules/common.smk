# Validation, wildcard constraints and input helpers. No rules here.
import sys
from pathlib import Path

from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "workflow"))

from heatcheck.config import check_config, study  # noqa: E402  (torch-free)

# readable errors first (they name the key and list the valid choices), then Snakemake's own
# schema validation, which also fills the defaults
check_config(config)


validate(config, schema="../workflow/schemas/config.schema.yaml")

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


def dataset_models(wildcards):
    return config["datasets"][wildcards.dataset]["models"]


def accuracy_files(wildcards):
    return expand(
        "results/{dataset}/models/{model}.json",
        dataset=wildcards.dataset,
        model=dataset_models(wildcards),
    )


def figure_targets():
    return expand("results/{dataset}/figures/samples.png", dataset=DATASETS)


def all_targets():
    return [f"results/{d}/models/{m}.pt" for d, m in study(config)] + figure_targets()
