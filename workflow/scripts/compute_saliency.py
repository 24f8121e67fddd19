"""Rule compute_saliency: explain one shard of eval images, write its slice of the array."""
from heatcheck.runtime import pick_device, setup
from heatcheck.saliency import compute_shard

p, config = snakemake.params, snakemake.config
setup(snakemake.threads, seed=p.seed, logfile=snakemake.log[0])
# batch_size and max_eval come from the config, not params: a batch size does not change the
# maps (so must not rerun them), and max_eval changes which shards exist, not what one holds
compute_shard(snakemake.input.store, snakemake.input.model, snakemake.input.array, snakemake.wildcards.explainer,
              p.explainer, int(snakemake.wildcards.shard), p.shard_size, max_eval=config["max_eval"], seed=p.seed,
              batch_size=config["batch_size"], target=p.target, device=pick_device(), report_path=snakemake.output[0])
