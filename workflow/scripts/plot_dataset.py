"""Rule plot_dataset: dataset store + model accuracies -> sample figure (PNG + PDF)."""
from heatcheck.plots.dataset import plot_samples
from heatcheck.runtime import setup

setup(1, logfile=snakemake.log[0])
plot_samples(snakemake.input.store, snakemake.input.accuracies, snakemake.output[0], per_class=2)
