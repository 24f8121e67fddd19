"""Rule compute_shapley: sampled Shapley values of one shard of eval images."""
from heatcheck.runtime import pick_device, setup
from heatcheck.scoring import shapley_shard

p, config = snakemake.params, snakemake.config
setup(snakemake.threads, seed=p.seed, logfile=snakemake.log[0])
# batch_size and max_eval from the config, not params (see compute_saliency.py)
shapley_shard(snakemake.input.store, snakemake.input.model, p.shapley, int(snakemake.wildcards.shard), p.shard_size,
              snakemake.output[0], max_eval=config["max_eval"], seed=p.seed, batch_size=config["batch_size"],
              target=p.target, device=pick_device())
