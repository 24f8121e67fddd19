# Per (dataset, model, explainer, metric): shard jobs score slices of the saliency array, a
# merge writes the long-format table (and the curves); collect_scores gathers a dataset's tables.


rule score_metric:
    input:
        unpack(metric_extra_inputs),
        store=ancient("results/{dataset}/images.zarr"),
        model="results/{dataset}/models/{model}.pt",
        # the shard of maps it scores, not the whole array's marker: a study grown by more images
        # (whose new shards rewrite the marker) keeps the scores of the others
        saliency="results/{dataset}/saliency/{model}/{explainer}.shards/{shard}.json",
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
    output:
        "results/{dataset}/scores/{metric}/{model}/{explainer}.shards/{shard}.npz",
    params:
        metric=metric_params,
        shard_size=config["shard_size"],
        seed=config["seed"],
        images=shard_images,
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


# --- the second paper's per-model inputs and mutual verification ----------------------------------


rule compute_shapley:
    input:
        store=ancient("results/{dataset}/images.zarr"),
        model="results/{dataset}/models/{model}.pt",
    output:
        "results/{dataset}/shapley/{model}.shards/{shard}.npz",
    params:
        shapley=config["metrics"].get("shapley_bias", {}),
        shard_size=config["shard_size"],
        seed=config["seed"],
        target=config["target"],
        images=shard_images,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/compute_shapley/{model}/{shard}.log",
    benchmark:
        "results/{dataset}/benchmarks/compute_shapley/{model}/{shard}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=shapley_mem_mb,
        runtime=shapley_runtime,
    script:
        "../workflow/scripts/compute_shapley.py"


rule merge_shapley:
    input:
        shapley_shards,
    output:
        directory("results/{dataset}/shapley/{model}.zarr"),
    params:
        shapley=config["metrics"].get("shapley_bias", {}),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/merge_shapley/{model}.log",
    localrule: True
    run:
        from heatcheck.tables import merge_shapley

        merge_shapley(input, output[0], params.shapley)


rule feature_scale:
    input:
        store=ancient("results/{dataset}/images.zarr"),
        model="results/{dataset}/models/{model}.pt",
    output:
        "results/{dataset}/features/{model}.json",
    params:
        # alpha is over all studied images: more images change it (and the scores that use it)
        images=studied_images,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/feature_scale/{model}.log",
    threads: 1
    resources:
        gpu=1,
        mem_mb=forward_mem_mb,
        runtime=30,
    script:
        "../workflow/scripts/feature_scale.py"


rule mutual_verification:
    input:
        unpack(model_saliency),
    output:
        matrix=report(
            "results/{dataset}/tables/mutual_verification/{model}.csv",
            caption="../workflow/report/mutual_verification.rst",
            category="Scores",
        ),
        table="results/{dataset}/scores/mutual_verification/{model}.parquet",
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/mutual_verification/{model}.log",
    threads: 1
    resources:
        mem_mb=maps_mem_mb,
        runtime=30,
    script:
        "../workflow/scripts/mutual_verification.py"
