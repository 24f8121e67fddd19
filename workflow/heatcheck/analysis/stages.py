"""The analysis rules' bodies: score tables in, analysis tables out (one call per rule, so the
rules stay declarative). Torch-free: these run inside Snakemake's own process."""

from __future__ import annotations

from ..derived import NOISY, RANDOMIZED, parse_derived
from ..store import saliency_name
from .tables import non_robustness_table, read_scores, shapley_bias_table, write_table


def _boot(params) -> tuple:
    return params.boot, params.seed, params.level


def run_stage(name: str, input, output, params, log) -> None:
    """Run analysis rule ``name`` with Snakemake's ``input``, ``output``, ``params`` and ``log``."""
    logfile = log[0] if len(log) else None
    if name == "sparsity":
        from .sparsity import sparsity_tables

        maps = {saliency_name(p): p for p in input}
        kde, stats = sparsity_tables(maps, params.points, params.max_values, params.seed)
        write_table(kde, output.kde, logfile)
        write_table(stats, output.stats, logfile)
        return
    if name == "mean_curves":
        from .curves import mean_curves

        write_table(mean_curves(list(input)), output[0], logfile)
        return
    if name == "randomization_similarity":
        from .similarity import randomization_table

        write_table(randomization_table(list(input), *_boot(params)), output[0], logfile)
        return
    scores = read_scores(input[0], repair=True)
    if name == "report_card":
        from .tables import read_table
        from .trust import trust_report

        internal, inter = (read_table(p, repair=True, keep_default_na=False, na_values=[""])
                           for p in (input.internal, input.inter))
        write_table(trust_report(scores, internal, inter, *_boot(params), primary=params.primary), output[0],
                    logfile)
        return
    # the report card's reruns are not explainers of their own: every other analysis leaves them out
    scores = scores[~scores["explainer"].map(lambda e: parse_derived(e)[1] in (RANDOMIZED, NOISY))]
    if name == "non_robustness_table":
        non_robustness_table(scores, output[0])
        return
    if name == "shapley_bias_table":
        write_table(shapley_bias_table(scores, *_boot(params)), output[0], logfile)
        return
    from . import rankings as rk
    from . import reliability as rel

    if name == "internal_consistency":
        write_table(rel.internal_consistency(scores, *_boot(params)), output[0], logfile)
    elif name == "blur_study":
        write_table(rel.blur_study(scores, *_boot(params)), output[0], logfile)
    elif name == "inter_method":
        write_table(rel.inter_method(scores, *_boot(params), params.primary), output[0], logfile)
    elif name == "binarized_average_drop":
        a2, a3 = rel.binarized_average_drop(scores, *_boot(params), params.primary)
        write_table(a2, output.scores, logfile)
        write_table(a3, output.corr, logfile)
    elif name == "rankings":
        write_table(rk.rankings(scores, *_boot(params), params.primary), output.rankings, logfile)
        write_table(rk.agreement(scores, *_boot(params), params.primary), output.agreement, logfile)
    else:
        raise ValueError(f"unknown analysis rule {name!r}")
