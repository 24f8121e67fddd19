# heatcheck: saliency maps -> metric scores -> how far the metrics can be trusted.
# See README.md. This file and rules/*.smk never import torch: parsing stays light on login nodes.
from snakemake.utils import min_version

min_version("9.0")


# No configfile: directive: Snakemake would merge config.yaml into every --configfile study.
# rules/common.smk reads the study (the --configfile files, else config.yaml) and checks it.
# The model-pass jobs (run: blocks calling heatcheck.jobs) write their wall time next to their
# log: results/{dataset}/benchmarks/{rule}/....tsv (heatcheck.jobs.timed; no benchmark: directive,
# whose sampling of Snakemake's process tree cost about 33 ms a job).
include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/saliency.smk"
include: "rules/metrics.smk"
include: "rules/analysis.smk"
include: "rules/figures.smk"
include: "rules/trust.smk"


# The report opens on the study's summary page (rule study_summary) once it exists; before, on a
# short description of the workflow.
report: summary_page()


rule all:
    input:
        all_targets(),
    default_target: True


rule figures:
    input:
        figure_targets(),
