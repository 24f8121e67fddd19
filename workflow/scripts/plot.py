"""Every plot rule: tables (and, for the example figures, stored maps) -> PNG + PDF.

The rule's name picks the figure; the `style` input and `dpi` param set the look."""

from heatcheck.plots import use_style
from heatcheck.runtime import setup_logging

setup_logging(snakemake.log[0])  # no model here: torch is not imported
inp, out, par = snakemake.input, snakemake.output[0], snakemake.params
use_style(inp.style, par.dpi)
order = par.get("explainers")
rule = snakemake.rule

if rule == "plot_dataset":
    from heatcheck.plots.dataset import plot_samples

    plot_samples(inp.store, inp.accuracies, out, per_class=2)
elif rule == "plot_saliency_examples":
    from heatcheck.plots.saliency import plot_examples

    plot_examples(inp.store, inp.saliency, out, par.n_images)
elif rule == "plot_blur_examples":
    from heatcheck.plots.saliency import plot_examples

    plot_examples(inp.store, inp.saliency, out, par.n_images, "Gradient maps before and after the Gaussian blur")
elif rule == "plot_shapley_bias":
    from heatcheck.analysis.tables import read_scores
    from heatcheck.plots.objectiveness import plot_bias_curves

    plot_bias_curves(inp.table, out, order)
elif rule == "plot_mutual_verification":
    from heatcheck.plots.objectiveness import plot_mutual_verification

    plot_mutual_verification(list(inp.matrices), out)
elif rule == "plot_relevance_kde":
    from heatcheck.plots.sparsity import plot_relevance_kde

    plot_relevance_kde(inp.kde, inp.stats, out, order)
elif rule == "plot_blur_study":
    from heatcheck.plots.sparsity import plot_blur_study

    plot_blur_study(inp.table, out, order)
else:
    from heatcheck.plots import reliability as rel

    if rule == "plot_average_drop_binarized":
        rel.plot_average_drop_binarized(inp.scores, inp.corr, out, order)
    elif rule == "plot_rankings":
        rel.plot_rankings(inp.rankings, inp.agreement, out, order)
    elif rule == "plot_internal_consistency":
        rel.plot_internal_consistency(inp.table, out)
    else:  # plot_inter_method, plot_curves, plot_blur_curves
        getattr(rel, rule)(inp.table, out, order)
