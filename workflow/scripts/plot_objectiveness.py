"""Rules plot_shapley_bias, non_robustness_table, plot_mutual_verification."""
import pandas as pd

from heatcheck.plots import objectiveness as ob
from heatcheck.runtime import setup

setup(1, logfile=snakemake.log[0])
rule = snakemake.rule
if rule == "plot_mutual_verification":
    ob.plot_mutual_verification(list(snakemake.input), snakemake.output[0])
else:
    scores = pd.read_parquet(snakemake.input[0])
    if rule == "plot_shapley_bias":
        ob.plot_bias_curves(scores, snakemake.output[0])
    else:
        ob.non_robustness_table(scores, snakemake.output[0])
