rule plot_dataset:
    input:
        store="results/{dataset}/images.zarr",
        accuracies=accuracy_files,
    output:
        report(
            "results/{dataset}/figures/samples.png",
            caption="../workflow/report/samples.rst",
            category="Data and models",
        ),
        "results/{dataset}/figures/samples.pdf",
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_dataset.log",
    localrule: True
    script:
        "../workflow/scripts/plot_dataset.py"


rule plot_saliency_examples:
    input:
        store="results/{dataset}/images.zarr",
        saliency=dataset_saliency,
    output:
        report(
            "results/{dataset}/figures/saliency_examples.png",
            caption="../workflow/report/saliency_examples.rst",
            category="Saliency",
        ),
        "results/{dataset}/figures/saliency_examples.pdf",
    params:
        n_images=4,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_saliency_examples.log",
    localrule: True
    script:
        "../workflow/scripts/plot_saliency_examples.py"


rule plot_shapley_bias:
    input:
        "results/{dataset}/scores.parquet",
    output:
        report(
            "results/{dataset}/figures/shapley_bias.png",
            caption="../workflow/report/shapley_bias.rst",
            category="Objectiveness",
        ),
        "results/{dataset}/figures/shapley_bias.pdf",
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_shapley_bias.log",
    localrule: True
    script:
        "../workflow/scripts/plot_objectiveness.py"


rule non_robustness_table:
    input:
        "results/{dataset}/scores.parquet",
    output:
        report(
            "results/{dataset}/tables/non_robustness.csv",
            caption="../workflow/report/non_robustness.rst",
            category="Objectiveness",
        ),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/non_robustness_table.log",
    localrule: True
    script:
        "../workflow/scripts/plot_objectiveness.py"


rule plot_mutual_verification:
    input:
        mutual_verification_matrices,
    output:
        report(
            "results/{dataset}/figures/mutual_verification.png",
            caption="../workflow/report/mutual_verification.rst",
            category="Objectiveness",
        ),
        "results/{dataset}/figures/mutual_verification.pdf",
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/plot_mutual_verification.log",
    localrule: True
    script:
        "../workflow/scripts/plot_objectiveness.py"
