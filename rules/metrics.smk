# Per (dataset, model, explainer, metric): shard jobs score slices of the saliency array, a
# merge writes the long-format table (and the curves); collect_scores gathers a dataset's tables.


rule score_metric:
    input:
        store="results/{dataset}/images.zarr",
        model="results/{dataset}/models/{model}.pt",
        saliency="results/{dataset}/saliency/{model}/{explainer}.json",
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
    output:
        "results/{dataset}/scores/{metric}/{model}/{explainer}.shards/{shard}.npz",
    params:
        metric=metric_params,
        shard_size=config["shard_size"],
        seed=config["seed"],
        batch_size=config["batch_size"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/score_metric/{metric}/{model}/{explainer}/{shard}.log",
    benchmark:
        "results/{dataset}/benchmarks/score_metric/{metric}/{model}/{explainer}/{shard}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=metric_mem_mb,
        runtime=metric_runtime,
    script:
        "../workflow/scripts/score_metric.py"


rule merge_scores:
    input:
        store="results/{dataset}/images.zarr",
        shards=metric_shards,
    output:
        "results/{dataset}/scores/{metric}/{model}/{explainer}.parquet",
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/merge_scores/{metric}/{model}/{explainer}.log",
    localrule: True
    run:
        # light (pandas only): runs inside Snakemake's process
        from heatcheck.tables import merge_scores

        merge_scores(
            input.shards,
            input.store,
            wildcards.dataset,
            wildcards.model,
            wildcards.explainer,
            output[0],
        )


rule merge_curves:
    input:
        shards=metric_shards,
    output:
        directory("results/{dataset}/curves/{metric}/{model}/{explainer}.zarr"),
    wildcard_constraints:
        metric="|".join(CURVE_METRICS),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/merge_curves/{metric}/{model}/{explainer}.log",
    localrule: True
    run:
        from heatcheck.tables import merge_curves

        merge_curves(input.shards, output[0])


rule collect_scores:
    input:
        tables=dataset_score_tables,
        curves=dataset_curves,
    output:
        scores="results/{dataset}/scores.parquet",
        summary=report(
            "results/{dataset}/tables/summary.csv",
            caption="../workflow/report/summary.rst",
            category="Scores",
        ),
    params:
        seed=config["seed"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/collect_scores.log",
    localrule: True
    run:
        from heatcheck.tables import collect

        collect(input.tables, output.scores, output.summary, seed=params.seed)
