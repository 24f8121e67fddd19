# One zarr array per (dataset, model, explainer), filled by independent shard jobs.


rule init_saliency:
    input:
        store="results/{dataset}/images.zarr",
        summary="results/{dataset}/images.json",
        model="results/{dataset}/models/{model}.pt",
        # the model's facts: an explainer that cannot apply to it is refused here, before any shard
        facts="results/{dataset}/models/{model}.json",
    wildcard_constraints:
        explainer="|".join(COMPUTED_NAMES),
    output:
        array=directory("results/{dataset}/saliency/{model}/{explainer}.zarr"),
        # a plain file the shard jobs depend on (they read the array as ancient: their own writes
        # touch it): recreating the array, e.g. after a parameter change, reruns every shard
        created="results/{dataset}/saliency/{model}/{explainer}.created",
    params:
        explainer=explainer_params,
        shard_size=config["shard_size"],
        max_eval=config["max_eval"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/init_saliency/{model}/{explainer}.log",
    localrule: True
    run:
        # light (zarr only): runs inside Snakemake's process, no interpreter start-up
        from heatcheck.shards import init_saliency

        init_saliency(
            input.store,
            input.model,
            output.array,
            wildcards.explainer,
            params.explainer,
            params.shard_size,
            params.max_eval,
            created=output.created,
            model_json=input.facts,
        )


rule compute_saliency:
    input:
        store="results/{dataset}/images.zarr",
        model="results/{dataset}/models/{model}.pt",
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
        created="results/{dataset}/saliency/{model}/{explainer}.created",
    wildcard_constraints:
        explainer="|".join(COMPUTED_NAMES),
    output:
        "results/{dataset}/saliency/{model}/{explainer}.shards/{shard}.json",
    params:
        explainer=explainer_params,
        shard_size=config["shard_size"],
        seed=config["seed"],
        batch_size=config["batch_size"],
        target=config["target"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/compute_saliency/{model}/{explainer}/{shard}.log",
    benchmark:
        "results/{dataset}/benchmarks/compute_saliency/{model}/{explainer}/{shard}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=saliency_mem_mb,
        runtime=saliency_runtime,
    script:
        "../workflow/scripts/compute_saliency.py"


rule finalize_saliency:
    input:
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
        shards=saliency_shards,
    wildcard_constraints:
        explainer="|".join(COMPUTED_NAMES),
    output:
        "results/{dataset}/saliency/{model}/{explainer}.json",
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/finalize_saliency/{model}/{explainer}.log",
    localrule: True
    run:
        from heatcheck.shards import finalize

        finalize(input.array, input.shards, output[0])


rule blur_saliency:
    # the sparsity study (section 4.4): a Gaussian-blurred copy of a finished map array, scored
    # as the extra explainer "{explainer}+blur"; the original is never recomputed
    input:
        marker="results/{dataset}/saliency/{model}/{explainer}.json",
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
    output:
        array=directory("results/{dataset}/saliency/{model}/{explainer}+blur.zarr"),
        marker="results/{dataset}/saliency/{model}/{explainer}+blur.json",
    wildcard_constraints:
        explainer="|".join(BLURRED or ["__none__"]),
    params:
        blur=blur_params,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/blur_saliency/{model}/{explainer}.log",
    localrule: True
    run:
        # light (scipy on stored maps, no model): runs inside Snakemake's process
        from heatcheck.analysis.sparsity import blur_saliency

        blur_saliency(input.marker, output.array, output.marker, params.blur)
