"""Rule mutual_verification: eq. (6) for every pair of explainers of one model."""
from heatcheck.runtime import setup
from heatcheck.scoring import mutual_verification_tables

setup(snakemake.threads, logfile=snakemake.log[0])
w = snakemake.wildcards
mutual_verification_tables(dict(snakemake.input.items()), w.dataset, w.model, snakemake.output.matrix,
                           snakemake.output.table)
