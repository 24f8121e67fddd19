"""Rule finalize_saliency: check every shard is in, mark the saliency array complete."""
from heatcheck.runtime import setup
from heatcheck.saliency import finalize

setup(1, logfile=snakemake.log[0])
finalize(snakemake.input.array, snakemake.input.shards, snakemake.output[0])
