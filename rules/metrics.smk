# Per (dataset, model, explainer, metric): shard jobs score slices of the saliency array, a
# merge writes the long-format table (and the curves); collect_scores gathers a dataset's tables.


rule score_metric:
    # metrics that make model passes; those that make none are scored by score_table_light
    wildcard_constraints:
        metric="|".join(PASS_METRICS or ["__none__"]),
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
        precision=config["passes"]["precision"],
        metric=metric_params,
        shard_size=config["shard_size"],
        seed=config["seed"],
        images=shard_images,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/score_metric/{metric}/{model}/{explainer}/{shard}.log",
    threads: 1
    resources:
        gpu=1,
        mem_mb=metric_mem_mb,
        runtime=metric_runtime,
    run:
        # in a thread of Snakemake's process under force-use-threads (heatcheck.jobs): no
        # interpreter start-up per job; on a cluster, a job step of its own
        from heatcheck.jobs import score_metric

        score_metric(input, output, params, wildcards, threads, log, config)


rule score_table_light:
    # metrics that make no model pass (pointing game, relevance mass/rank, Shapley bias, masking
    # robustness) take milliseconds a shard: every shard is scored in the job that writes the
    # table, in Snakemake's process (no GPU, no cluster job, no shard files). A changed
    # parameter of the metric or a recomputed saliency shard reruns the table's job alone.
    wildcard_constraints:
        metric="|".join(LIGHT_METRICS or ["__none__"]),
    input:
        unpack(light_table_inputs),
        store=ancient("results/{dataset}/images.zarr"),
        model="results/{dataset}/models/{model}.pt",
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
    output:
        "results/{dataset}/scores/{metric}/{model}/{explainer}.parquet",
    params:
        precision=config["passes"]["precision"],
        metric=metric_params,
        shard_size=config["shard_size"],
        seed=config["seed"],
        images=studied_images,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/score_table_light/{metric}/{model}/{explainer}.log",
    localrule: True
    # as soon as its maps are there, between the model-pass jobs, like the merges
    priority: 1
    threads: 1
    resources:
        mem_mb=metric_mem_mb,
        runtime=10,
    run:
        from heatcheck.jobs import score_table_light

        score_table_light(input, output, params, wildcards, threads, log, config)


rule merge_scores:
    # the shard files of the metrics that make model passes (score_metric) into their table
    wildcard_constraints:
        metric="|".join(PASS_METRICS or ["__none__"]),
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
    # as soon as its shards are done, between the model-pass jobs (which leave the interpreter
    # lock free while torch computes), rather than all at the end, where they add to the tail
    priority: 1
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
        # after the score table of the same shards: a merge that finds a shard damaged removes it
        # for the next run to recompute, and a second merge reading the same shards at the same
        # time would lose its input under it (Snakemake then stops the whole run, keep-going or not)
        table="results/{dataset}/scores/{metric}/{model}/{explainer}.parquet",
    output:
        directory("results/{dataset}/curves/{metric}/{model}/{explainer}.zarr"),
    wildcard_constraints:
        metric="|".join(CURVE_METRICS),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/merge_curves/{metric}/{model}/{explainer}.log",
    localrule: True
    # as soon as its shards are done, between the model-pass jobs (which leave the interpreter
    # lock free while torch computes), rather than all at the end, where they add to the tail
    priority: 1
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
        precision=config["passes"]["precision"],
        shapley=SHAPLEY,
        shard_size=config["shard_size"],
        seed=config["seed"],
        target=config["target"],
        images=shard_images,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/compute_shapley/{model}/{shard}.log",
    threads: 1
    resources:
        gpu=1,
        mem_mb=shapley_mem_mb,
        runtime=shapley_runtime,
    run:
        # in a thread of Snakemake's process under force-use-threads (heatcheck.jobs): no
        # interpreter start-up per job; on a cluster, a job step of its own
        from heatcheck.jobs import compute_shapley

        compute_shapley(input, output, params, wildcards, threads, log, config)


rule merge_shapley:
    input:
        shapley_shards,
    output:
        directory("results/{dataset}/shapley/{model}.zarr"),
    params:
        shapley=SHAPLEY,
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
        precision=config["passes"]["precision"],
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
    run:
        # in a thread of Snakemake's process under force-use-threads (heatcheck.jobs): no
        # interpreter start-up per job; on a cluster, a job step of its own
        from heatcheck.jobs import feature_scale

        feature_scale(input, output, params, wildcards, threads, log, config)


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
    # no model pass: in Snakemake's process, no cluster job of its own
    localrule: True
    threads: 1
    resources:
        mem_mb=maps_mem_mb,
        runtime=30,
    run:
        # in a thread of Snakemake's process under force-use-threads (heatcheck.jobs): no
        # interpreter start-up per job; on a cluster, a job step of its own
        from heatcheck.jobs import mutual_verification

        mutual_verification(input, output, params, wildcards, threads, log, config)
