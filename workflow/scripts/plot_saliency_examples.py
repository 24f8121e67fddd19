"""Rule plot_saliency_examples: Figure 1 (images and each explainer's map, per model)."""
from heatcheck.plots.saliency import plot_examples
from heatcheck.runtime import setup

setup(1, logfile=snakemake.log[0])
plot_examples(snakemake.input.store, snakemake.input.saliency, snakemake.output[0], snakemake.params.n_images)
