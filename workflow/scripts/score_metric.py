"""Rule score_metric: one metric on one shard of a saliency array."""
from heatcheck.runtime import pick_device, setup
from heatcheck.scoring import score_shard

p = snakemake.params
setup(snakemake.threads, seed=p.seed, logfile=snakemake.log[0])
score_shard(snakemake.input.store, snakemake.input.model, snakemake.input.array, snakemake.wildcards.metric,
            p.metric, int(snakemake.wildcards.shard), p.shard_size, snakemake.output[0], seed=p.seed,
            batch_size=p.batch_size, device=pick_device(),
            extras={k: snakemake.input[k] for k in ("shapley", "features", "masked") if k in snakemake.input.keys()})
