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
