rule prepare_dataset:
    output:
        directory("results/{dataset}/images.zarr"),
    params:
        spec=dataset_spec,
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/prepare_dataset.log",
    benchmark:
        "results/{dataset}/benchmarks/prepare_dataset.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../workflow/scripts/prepare_dataset.py"
