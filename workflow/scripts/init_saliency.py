"""Rule init_saliency: create the empty (NaN) saliency array that shard jobs fill."""
from heatcheck.runtime import setup
from heatcheck.saliency import init_saliency

setup(1, logfile=snakemake.log[0])
init_saliency(snakemake.input.store, snakemake.input.model, snakemake.output[0], snakemake.wildcards.explainer,
              snakemake.params.explainer, snakemake.params.shard_size, snakemake.params.max_eval)
