# Figures: local CPU rules that read tables (and, for example figures, stored maps) only, so
# `snakemake figures` or `--forcerun plot_x` redraws in seconds. Each rule reads the style file
# (config figures.style) as an input: editing it redraws the figures and nothing else.


rule plot_dataset:
    input:
        store="results/{dataset}/images.zarr",
        accuracies=accuracy_files,
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/samples.png",
            caption="../workflow/report/samples.rst",
            category="Data and models",
        ),
        "results/{dataset}/figures/samples.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_dataset.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_saliency_examples:
    input:
        store="results/{dataset}/images.zarr",
        saliency=dataset_saliency,
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/saliency_examples.png",
            caption="../workflow/report/saliency_examples.rst",
            category="Saliency",
        ),
        "results/{dataset}/figures/saliency_examples.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
        n_images=config["figures"]["examples"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_saliency_examples.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_curves:
    input:
        table="results/{dataset}/tables/mean_curves.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/curves.png",
            caption="../workflow/report/curves.rst",
            category="Scores",
        ),
        "results/{dataset}/figures/curves.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_curves.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_internal_consistency:
    input:
        table="results/{dataset}/tables/internal_consistency.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/internal_consistency.png",
            caption="../workflow/report/internal_consistency.rst",
            category="Reliability",
        ),
        "results/{dataset}/figures/internal_consistency.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_internal_consistency.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_inter_method:
    input:
        table="results/{dataset}/tables/inter_method.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/inter_method.png",
            caption="../workflow/report/inter_method.rst",
            category="Reliability",
        ),
        "results/{dataset}/figures/inter_method.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_inter_method.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_average_drop_binarized:
    input:
        scores="results/{dataset}/tables/average_drop_binarized.csv",
        corr="results/{dataset}/tables/average_drop_binarized_corr.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/average_drop_binarized.png",
            caption="../workflow/report/average_drop_binarized.rst",
            category="Reliability",
        ),
        "results/{dataset}/figures/average_drop_binarized.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_average_drop_binarized.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_rankings:
    input:
        rankings="results/{dataset}/tables/rankings.csv",
        agreement="results/{dataset}/tables/agreement.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/rankings.png",
            caption="../workflow/report/rankings.rst",
            category="Reliability",
        ),
        "results/{dataset}/figures/rankings.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_rankings.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_relevance_kde:
    input:
        kde="results/{dataset}/tables/relevance_kde.csv",
        stats="results/{dataset}/tables/sparsity.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/relevance_kde.png",
            caption="../workflow/report/relevance_kde.rst",
            category="Sparsity",
        ),
        "results/{dataset}/figures/relevance_kde.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_relevance_kde.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_blur_examples:
    input:
        store="results/{dataset}/images.zarr",
        saliency=blur_example_saliency,
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/blur_examples.png",
            caption="../workflow/report/blur_examples.rst",
            category="Sparsity",
        ),
        "results/{dataset}/figures/blur_examples.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
        n_images=config["figures"]["examples"],
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_blur_examples.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_blur_study:
    input:
        table="results/{dataset}/tables/blur_study.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/blur_study.png",
            caption="../workflow/report/blur_study.rst",
            category="Sparsity",
        ),
        "results/{dataset}/figures/blur_study.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_blur_study.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_blur_curves:
    input:
        table="results/{dataset}/tables/mean_curves.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/blur_curves.png",
            caption="../workflow/report/blur_curves.rst",
            category="Sparsity",
        ),
        "results/{dataset}/figures/blur_curves.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_blur_curves.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_shapley_bias:
    input:
        table="results/{dataset}/tables/shapley_bias.csv",
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/shapley_bias.png",
            caption="../workflow/report/shapley_bias.rst",
            category="Objectiveness",
        ),
        "results/{dataset}/figures/shapley_bias.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_shapley_bias.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)


rule plot_mutual_verification:
    input:
        matrices=mutual_verification_matrices,
        style=FIGURE_STYLE,
    output:
        report(
            "results/{dataset}/figures/mutual_verification.png",
            caption="../workflow/report/mutual_verification.rst",
            category="Objectiveness",
        ),
        "results/{dataset}/figures/mutual_verification.pdf",
    params:
        dpi=config["figures"]["dpi"],
        explainers=list(config["explainers"]),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_mutual_verification.log",
    localrule: True
    run:
        # in a reused worker process (heatcheck.jobs.plot): no interpreter start-up per figure
        from heatcheck.jobs import plot

        plot(rule, input, output, params, log)

