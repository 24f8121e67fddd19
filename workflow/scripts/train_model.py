"""Rules train_model / load_model: a model config entry -> checkpoint + accuracy JSON."""
from heatcheck.models.train import import_pretrained, train_model
from heatcheck.runtime import pick_device, setup

spec = snakemake.params.spec
setup(snakemake.threads, seed=spec["seed"], logfile=snakemake.log[0])
run = train_model if spec["source"] == "train" else import_pretrained
run(snakemake.input[0], spec, snakemake.output.model, snakemake.output.report, pick_device(),
    name=snakemake.wildcards.model)
