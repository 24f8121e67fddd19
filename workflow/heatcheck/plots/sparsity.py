"""Figures of the sparsity study (first paper, section 4.4): relevance KDEs (Figure 3) and the
effect of blurring on the scores (Tables 5, 6, A1); the blurred maps themselves (Figure A1) are
drawn by :func:`heatcheck.plots.saliency.plot_examples`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..derived import is_derived, parse_derived
from . import empty, ordered, save, table

#: the configuration shown for each metric in the blur bar chart
SHOWN = {"insertion": "mean+pixel", "deletion": "mean+pixel", "average_drop": "real"}


def plot_relevance_kde(kde_csv, stats_csv, out_png, order=None) -> None:
    """KDE of post-processed relevance values, one panel per model, one line per explainer
    (blurred copies dashed); the legend gives each map set's mean Gini index (1 = sparse)."""
    kde = table(kde_csv, keep_default_na=False, na_values=[""])
    st = table(stats_csv)
    if kde.empty:
        return empty(out_png, "no saliency maps")
    models = list(dict.fromkeys(kde["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models) + 1.5, 3.4), squeeze=False, sharey=True,
                             layout="constrained")
    explainers = ordered(kde["explainer"], order)
    base = ordered([e for e in explainers if not is_derived(e)], order)
    colors = dict(zip(base, plt.cm.tab10(np.arange(len(base)) % 10)))
    for ax, model in zip(axes[0], models):
        for e in explainers:
            g = kde[(kde["model"] == model) & (kde["explainer"] == e)]
            s = st[(st["model"] == model) & (st["explainer"] == e)]
            if g.empty or not np.isfinite(g["density"]).any():
                continue
            gi = f" (Gini {s['gini'].iloc[0]:.2f})" if len(s) else ""
            ax.plot(g["relevance"], g["density"], "--" if is_derived(e) else "-",
                    color=colors.get(parse_derived(e)[0], "k"), label=e + gi)
        ax.set_yscale("log")
        ax.set_xlabel("relevance (ReLU, min-max per map)")
        ax.set_title(model)
        ax.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    axes[0, 0].set_ylabel("density (log scale)")
    fig.suptitle("Relevance distribution per explainer: sparse maps pile up at 0")
    save(fig, out_png)


def plot_blur_study(csv, out_png, order=None) -> None:
    """Mean score of each blurred explainer and its original, per model (rows) and metric
    (columns); a star marks a difference whose bootstrap CI excludes zero in the metric's favour."""
    t = table(csv)
    if t.empty:
        return empty(out_png, "no blurred maps were scored")
    t = t[t.apply(lambda r: r["config"] == SHOWN.get(r["metric"], r["config"]), axis=1)]
    t = t.drop_duplicates(["model", "explainer", "metric"])
    models = list(dict.fromkeys(t["model"]))
    metrics = list(dict.fromkeys(t["metric"]))
    fig, axes = plt.subplots(len(models), len(metrics), figsize=(2.6 * len(metrics) + 1, 2.4 * len(models) + 0.8),
                             squeeze=False, layout="constrained")
    for r, model in enumerate(models):
        for c, metric in enumerate(metrics):
            ax = axes[r, c]
            g = t[(t["model"] == model) & (t["metric"] == metric)].set_index("explainer")
            expl = ordered(g.index, order)
            x = np.arange(len(expl))
            ax.bar(x - 0.2, g.loc[expl, "original"], 0.4, label="original")
            ax.bar(x + 0.2, g.loc[expl, "blurred"], 0.4, label="blurred")
            for i, e in enumerate(expl):
                if g.loc[e, "improved"]:
                    ax.text(i + 0.2, g.loc[e, "blurred"], "*", ha="center", va="bottom")
            ax.set_xticks(x, expl, rotation=45, ha="right")
            better = "higher" if g["higher_is_better"].iloc[0] else "lower"
            ax.set_title(f"{model}: {metric} ({better} = better)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper")
    fig.suptitle("Blurring sparse maps (* = significant improvement, 95% bootstrap CI)")
    save(fig, out_png)
