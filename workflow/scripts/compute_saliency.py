"""Rule compute_saliency: explain one shard of eval images, write its slice of the array."""
from heatcheck.runtime import pick_device, setup
from heatcheck.saliency import compute_shard

p = snakemake.params
setup(snakemake.threads, seed=p.seed, logfile=snakemake.log[0])
compute_shard(snakemake.input.store, snakemake.input.model, snakemake.input.array, snakemake.wildcards.explainer,
              p.explainer, int(snakemake.wildcards.shard), p.shard_size, seed=p.seed, batch_size=p.batch_size,
              target=p.target, device=pick_device(), report_path=snakemake.output[0])
