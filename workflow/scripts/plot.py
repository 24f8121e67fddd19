"""Every plot rule: tables (and, for the example figures, stored maps) -> PNG + PDF.

The rule's name picks the figure (:func:`heatcheck.plots.draw`); the `style` input and `dpi`
param set the look. The built-in plot rules call :func:`heatcheck.jobs.plot` from a ``run:``
block instead (no interpreter start-up per figure); this script serves ``script:`` rules."""

from heatcheck.jobs import plain
from heatcheck.plots import draw
from heatcheck.runtime import setup_logging

setup_logging(snakemake.log[0])  # no model here: torch is not imported
draw(snakemake.rule, plain(snakemake.input), snakemake.output[0], plain(snakemake.params))
