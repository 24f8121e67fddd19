rule train_model:
    input:
        # ancient, with the digest of what the model depends on as a param: more eval images
        # rewrite the store but do not retrain the model
        ancient("results/{dataset}/images.zarr"),
    output:
        model="results/{dataset}/models/{model}.pt",
        report="results/{dataset}/models/{model}.json",
    params:
        spec=model_spec,
        data=model_data,
    wildcard_constraints:
        model="|".join(TRAINED),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/train_model/{model}.log",
    # one thread: a study's models train side by side (small nets gain little from a second
    # thread, and their later jobs start as soon as each one is trained)
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=120,
    run:
        # in a worker process (heatcheck.jobs.train_model): training seeds the global generators
        from heatcheck.jobs import train_model

        train_model(input, output, params, wildcards, threads, log, config)


rule load_model:
    input:
        # ancient, with the digest of what the model depends on as a param: more eval images
        # rewrite the store but do not retrain the model
        ancient("results/{dataset}/images.zarr"),
        # the weights, factory and TorchScript files it is built from: a changed one reloads
        model_source_files,
    output:
        model="results/{dataset}/models/{model}.pt",
        report="results/{dataset}/models/{model}.json",
    params:
        spec=model_spec,
        data=model_data,
    wildcard_constraints:
        model="|".join(PRETRAINED),
    conda:
        "../envs/environment.yaml"
    log:
        "results/{dataset}/logs/load_model/{model}.log",
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    run:
        # in a worker process (heatcheck.jobs.train_model): training seeds the global generators
        from heatcheck.jobs import train_model

        train_model(input, output, params, wildcards, threads, log, config)
