# The metrics' report card (issue 14; code in heatcheck.sanity and heatcheck.analysis.trust):
# explainers rerun on randomized models ({explainer}+randomized{k}) and on noisy inputs
# ({explainer}+noisy{k}), stored like the other saliency arrays (init_saliency / finalize_saliency)
# and scored by score_metric; then the report card, the randomization (Adebayo) table and figures,
# and the study's summary page that the report opens on.


use rule compute_saliency as randomized_saliency with:
    # the explainer on the model whose top k layers are re-initialised (cascading, seeded)
    wildcard_constraints:
        explainer="|".join(RANDOMIZED_NAMES),
    log:
        "results/{dataset}/logs/randomized_saliency/{model}/{explainer}/{shard}.log",


use rule compute_saliency as noisy_saliency with:
    # the explainer on noisy copy k of the images (noisy_inputs), the model unchanged
    input:
        store=ancient("results/{dataset}/images.zarr"),
        model="results/{dataset}/models/{model}.pt",
        array=ancient("results/{dataset}/saliency/{model}/{explainer}.zarr"),
        created="results/{dataset}/saliency/{model}/{explainer}.created",
        noisy=noisy_shard_file,
    wildcard_constraints:
        explainer="|".join(NOISY_NAMES),
    log:
        "results/{dataset}/logs/noisy_saliency/{model}/{explainer}/{shard}.log",


rule noisy_inputs:
    # MetaQuantus' minor perturbation: Gaussian noise redrawn (then shrunk) until the model's
    # prediction is unchanged; the noisy reruns and their scores read the same images
    input:
        store=ancient("results/{dataset}/images.zarr"),
        model="results/{dataset}/models/{model}.pt",
    output:
        "results/{dataset}/noisy/{model}/{noise_copy}.shards/{shard}.npz",
    wildcard_constraints:
        noise_copy=r"\d+",
    params:
        precision=config["passes"]["precision"],
        sigma=config["trust"]["noise"]["sigma"],
        shard_size=config["shard_size"],
        seed=config["seed"],
        images=shard_images,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/noisy_inputs/{model}/{noise_copy}/{shard}.log",
    threads: 1
    resources:
        gpu=1,
        mem_mb=noisy_mem_mb,
        runtime=noisy_runtime,
    run:
        # in a thread of Snakemake's process under force-use-threads (heatcheck.jobs)
        from heatcheck.jobs import noisy_inputs

        noisy_inputs(input, output, params, wildcards, threads, log, config)


rule report_card:
    input:
        scores="results/{dataset}/scores.parquet",
        internal="results/{dataset}/tables/internal_consistency.csv",
        inter="results/{dataset}/tables/inter_method.csv",
    output:
        report(
            "results/{dataset}/tables/report_card.csv",
            caption="../workflow/report/report_card.rst",
            category="Report card",
        ),
    params:
        boot=config["analysis"]["bootstrap"],
        level=config["analysis"]["level"],
        seed=config["seed"],
        primary=config["analysis"]["primary"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/report_card.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("report_card", input, output, params, log)


rule randomization_similarity:
    # Adebayo et al.'s Figure 4 as numbers: each map against its rerun at every cascade step
    input:
        randomization_saliency,
    output:
        report(
            "results/{dataset}/tables/randomization.csv",
            caption="../workflow/report/randomization.rst",
            category="Report card",
        ),
    params:
        boot=config["analysis"]["bootstrap"],
        level=config["analysis"]["level"],
        seed=config["seed"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/randomization_similarity.log",
    localrule: True
    run:
        from heatcheck.analysis.stages import run_stage

        run_stage("randomization_similarity", input, output, params, log)


rule plot_report_card:
    input:
        table="results/{dataset}/tables/report_card.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/report_card.png",
            caption="../workflow/report/report_card.rst",
            category="Report card",
        ),
        "results/{dataset}/figures/report_card.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_report_card.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_randomization:
    input:
        table="results/{dataset}/tables/randomization.csv",
        store="results/{dataset}/images.zarr",
        saliency=randomization_saliency,
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/randomization.png",
            caption="../workflow/report/randomization.rst",
            category="Report card",
        ),
        "results/{dataset}/figures/randomization.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_randomization.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule study_summary:
    # the page the report opens on (the Snakefile's report: directive reads it): models and
    # accuracies, the best explainer per metric, agreement and the report card of every dataset
    input:
        unpack(summary_inputs),
    output:
        "results/summary.rst",
    params:
        datasets=DATASETS,
    conda:
        "../envs/environment.yaml"
    log:
        "results/logs/study_summary.log",
    localrule: True
    run:
        from heatcheck.analysis.summary import write_summary

        write_summary(dict(input.items()), params.datasets, output[0], log[0])
