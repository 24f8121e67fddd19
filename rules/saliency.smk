# One zarr array per (dataset, model, explainer), filled by independent shard jobs.
#
# What reruns what (see README, "Growing a study"): the store is read as ancient, and each shard
# job's params hold the digest of its own images, so a study with more eval images runs only the
# new shards. The array is created once per explainer setting and model (init_saliency) and grows
# along the images as new shards write into it; recreating it (a changed parameter or model)
# rewrites `.created`, which every shard depends on.


rule init_saliency:
    input:
        store=ancient("results/{dataset}/images.zarr"),
        summary=ancient("results/{dataset}/images.json"),
        model="results/{dataset}/models/{model}.pt",
        # the model's facts: an explainer that cannot apply to it is refused here, before any shard
        facts="results/{dataset}/models/{model}.json",
    output:
        array=directory("results/{dataset}/saliency/{model}/{explainer}.zarr"),
        # a plain file the shard jobs depend on (they read the array as ancient: their own writes
        # touch it): recreating the array, e.g. after a parameter change, reruns every shard
        created="results/{dataset}/saliency/{model}/{explainer}.created",
    params:
        explainer=array_params,
        shard_size=config["shard_size"],
        # what the array's shape per image depends on; its length grows with the study
        size=image_size,
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
            config["max_eval"],
            created=output.created,
            model_json=input.facts,
        )


rule compute_saliency:
    input:
        store=ancient("results/{dataset}/images.zarr"),
        model="results/{dataset}/models/{model}.pt",
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
        created="results/{dataset}/saliency/{model}/{explainer}.created",
    # explainers that make model passes; those that make none are compute_saliency_light
    wildcard_constraints:
        explainer="|".join(PASS_NAMES),
    output:
        "results/{dataset}/saliency/{model}/{explainer}.shards/{shard}.json",
    params:
        precision=config["passes"]["precision"],
        explainer=explainer_params,
        shard_size=config["shard_size"],
        seed=config["seed"],
        target=config["target"],
        images=shard_images,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/compute_saliency/{model}/{explainer}/{shard}.log",
    threads: 1
    resources:
        gpu=1,
        mem_mb=saliency_mem_mb,
        runtime=saliency_runtime,
    run:
        # in a thread of Snakemake's process under force-use-threads (heatcheck.jobs): no
        # interpreter start-up per job; on a cluster, a job step of its own
        from heatcheck.jobs import compute_saliency

        compute_saliency(input, output, params, wildcards, threads, log, config)


use rule compute_saliency as compute_saliency_light with:
    # explainers that make no model pass (random, edge): no GPU and no cluster job of their own;
    # they run in Snakemake's process
    wildcard_constraints:
        explainer="|".join(LIGHT_NAMES),
    localrule: True
    resources:
        mem_mb=saliency_mem_mb,
        runtime=10,


rule blur_saliency:
    # the sparsity study (section 4.4): a Gaussian-blurred copy of a shard of maps, scored as the
    # extra explainer "{explainer}+blur"; the original is never recomputed
    input:
        source="results/{dataset}/saliency/{model}/{explainer}.shards/{shard}.json",
        array=ancient("results/{dataset}/saliency/{model}/{explainer}+blur.zarr"),
        created="results/{dataset}/saliency/{model}/{explainer}+blur.created",
    output:
        "results/{dataset}/saliency/{model}/{explainer}+blur.shards/{shard}.json",
    wildcard_constraints:
        explainer="|".join(BLURRED or ["__none__"]),
    params:
        blur=blur_params,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/blur_saliency/{model}/{explainer}/{shard}.log",
    localrule: True
    # as soon as its source shard is done: the blurred maps' score jobs are among the heavy ones,
    # and left to the end (the scheduler prefers jobs with large inputs) they would run last
    priority: 1
    run:
        # light (scipy on stored maps, no model): runs inside Snakemake's process
        from heatcheck.derived import blur_shard

        blur_shard(input.source, input.array, output[0], params.blur)


rule finalize_saliency:
    input:
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
        shards=saliency_shards,
    output:
        "results/{dataset}/saliency/{model}/{explainer}.json",
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/finalize_saliency/{model}/{explainer}.log",
    localrule: True
    # as soon as its shards are done: otherwise the scheduler, which prefers jobs with large
    # inputs, leaves these light jobs (and the figures and tables that need them) to the end
    priority: 1
    run:
        from heatcheck.shards import finalize

        finalize(input.array, input.shards, output[0])
