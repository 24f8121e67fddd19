# A checkpoint: how many eval images (hence shards) a dataset has is known only once it is read.
checkpoint prepare_dataset:
    output:
        store=directory("results/{dataset}/images.zarr"),
        summary="results/{dataset}/images.json",
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
