"""The study's summary page, the page the HTML report opens on (Snakemake's global report text,
reStructuredText rendered by docutils after Jinja2): per dataset, the models and their
accuracies, the best explainer per metric, how far the metrics agree, and the report card, each
linking to its figure in the report. Torch-free; reads tables only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..store import written
from .tables import read_table
from .trust import CHECKS, card_cells


#: Snakemake's report shows this page in a view that centres its content vertically, so a page
#: taller than the window would begin above its top edge, out of reach; and in a column too
#: narrow for the card's seven columns. The selectors name that view's classes only.
LAYOUT = [".. raw:: html", "", "   <style>",
          "   div.grow.h-screen.overflow-auto { align-items: flex-start; justify-content: flex-start; }",
          "   div.grow div.prose.max-w-lg { max-width: 56rem; }", "   </style>"]


def _dataset(path) -> str:
    """``results/{dataset}/...`` -> dataset."""
    parts = Path(path).parts
    return parts[parts.index("results") + 1] if "results" in parts else parts[0]


def _clean(text) -> str:
    """A table cell: nothing Jinja2 (which renders the page first) or docutils would read as markup."""
    return str(text).replace("{", "(").replace("}", ")").replace("|", "/").replace("*", "x").replace("`", "'")


def _num(v, lo=np.nan, hi=np.nan, digits: int = 2) -> str:
    if not np.isfinite(v):
        return "n/a"
    ci = f" [{lo:.{digits}f}, {hi:.{digits}f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
    return f"{v:.{digits}f}{ci}"


def list_table(header: list[str], rows: list[list[str]], widths: str = "auto") -> list[str]:
    """An rst ``list-table``."""
    out = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        out += [f"   * - {_clean(row[0])}"] + [f"     - {_clean(c)}" for c in row[1:]]
    return out + [""]


def link(target: str) -> str:
    """A link to the report's entry for file ``target`` (its name), where the report has it (the
    Jinja2 test runs when Snakemake renders the page; a plain name otherwise)."""
    return ('{% if files|selectattr("target", "equalto", "' + target + '")|list %}`' + target + '`_'
            '{% else %}``' + target + '``{% endif %}')


def models_section(accuracy_files) -> list[str]:
    rows = []
    for path in accuracy_files:
        with open(path) as fh:
            r = json.load(fh)
        acc = r.get("accuracy")
        rows.append([r.get("model", Path(path).stem), r.get("arch") or r.get("source", ""),
                     "n/a" if acc is None else f"{100 * acc:.1f}% of {r.get('n_eval', '?')} eval images",
                     "n/a" if r.get("chance") is None else f"{100 * r['chance']:.1f}%"])
    return list_table(["model", "architecture", "held-out accuracy", "chance"], rows)


def best_section(rankings: pd.DataFrame) -> list[str]:
    """Per metric, the best explainer (rank 1) of each model with its mean score and CI."""
    models = list(dict.fromkeys(rankings["model"]))
    rows = []
    for metric, g in rankings.groupby("metric", sort=False):
        row = [metric, "higher" if bool(g["higher_is_better"].iloc[0]) else "lower"]
        for model in models:
            h = g[g["model"] == model]
            if h.empty:
                row.append("-")
                continue
            b = h.loc[h["rank"].idxmin()]
            row.append(f"{b['explainer']} {_num(b['mean'], b['ci_low'], b['ci_high'])}")
        rows.append(row)
    return list_table(["metric", "better", *models], rows)


def agreement_section(agreement: pd.DataFrame) -> list[str]:
    names = {"kendalls_w": "Kendall's W (mean-score rankings)", "krippendorff_alpha": "Krippendorff's alpha (per image)"}
    models = list(dict.fromkeys(agreement["model"]))
    rows = [[names.get(stat, stat), *[_num(*agreement[(agreement["model"] == m) & (agreement["statistic"] == stat)][
        ["value", "ci_low", "ci_high"]].iloc[0]) if len(agreement[(agreement["model"] == m)
                                                               & (agreement["statistic"] == stat)]) else "-"
        for m in models]] for stat in dict.fromkeys(agreement["statistic"])]
    return list_table(["statistic", *models], rows)


def card_section(card: pd.DataFrame) -> list[str]:
    cells = card_cells(card)
    out = []
    for model, g in cells.groupby("model", sort=False):
        g = g.set_index(["metric", "check"])
        rows = [[metric, *[_num(*g.loc[(metric, c), ["value", "ci_low", "ci_high"]]) if (metric, c) in g.index else "-"
                           for c in CHECKS]] for metric in dict.fromkeys(g.index.get_level_values(0))]
        out += [f"*{model}*", ""] + list_table(["metric", *[c.replace("_", " ") for c in CHECKS]], rows)
    return out


def write_summary(inputs: dict, datasets: list[str], out_rst, logfile=None) -> str:
    """Write the summary page of the study (``results/summary.rst``).

    Parameters
    ----------
    inputs : dict
        ``accuracies`` (``models/{model}.json`` of every model), and where the study makes them
        ``rankings``, ``agreement`` and ``report_card`` tables (any datasets' files, told apart
        by their ``results/{dataset}/`` folder).
    datasets : list of str
        The datasets, in the config's order.
    """
    files = {k: [str(p) for p in (v if isinstance(v, (list, tuple)) else [v])] for k, v in inputs.items()}
    title = "Summary of the study"
    lines = [title, "=" * len(title), "", *LAYOUT, "",
             "How good are the explanations, and how far can the metrics that grade them be trusted? Per "
             "dataset: the models, the best explainer by each metric (mean score over images, 95% bootstrap "
             "CI), how far the metrics agree on the ranking of the explainers, and the report card (higher = "
             "more trustworthy; see the README for how to read it). The figures and tables are in the menu "
             "on the left.", ""]
    for d in datasets:
        of = {k: [p for p in v if _dataset(p) == d] for k, v in files.items()}
        lines += [f"Dataset ``{d}``", "-" * (len(d) + 12), "", f"**Models** ({link('samples.png')})", ""]
        lines += models_section(of.get("accuracies", []))
        if of.get("rankings"):
            lines += [f"**Best explainer per metric** ({link('rankings.png')})", ""]
            lines += best_section(read_table(of["rankings"][0], keep_default_na=False, na_values=[""]))
        if of.get("agreement"):
            lines += [f"**How far the metrics agree** on the ranking of the explainers ({link('agreement.csv')}, "
                      f"{link('inter_method.png')}; 1 = complete agreement)", ""]
            lines += agreement_section(read_table(of["agreement"][0], keep_default_na=False, na_values=[""]))
        if of.get("report_card"):
            lines += [f"**Report card** ({link('report_card.png')}, {link('report_card.csv')}; "
                      f"randomization test: {link('randomization.png')})", ""]
            lines += card_section(read_table(of["report_card"][0], keep_default_na=False, na_values=[""]))
    text = "\n".join(lines) + "\n"
    with written(out_rst, "w") as fh:
        fh.write(text)
    if logfile:
        with open(logfile, "a") as fh:
            fh.write(f"summary page {out_rst}: {len(datasets)} datasets, {len(lines)} lines\n")
    return text
