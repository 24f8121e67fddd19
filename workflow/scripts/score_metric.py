"""Rule score_metric: one metric on one shard of a saliency array."""
from heatcheck.runtime import pick_device, setup
from heatcheck.scoring import score_shard

p = snakemake.params
setup(snakemake.threads, seed=p.seed, logfile=snakemake.log[0])
# batch_size from the config, not params: it does not change the scores, so must not rerun them
score_shard(snakemake.input.store, snakemake.input.model, snakemake.input.saliency, snakemake.wildcards.metric,
            p.metric, snakemake.output[0], seed=p.seed, batch_size=snakemake.config["batch_size"],
            device=pick_device(),
            extras={k: snakemake.input[k] for k in ("shapley", "features", "masked") if k in snakemake.input.keys()})
