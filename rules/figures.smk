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
