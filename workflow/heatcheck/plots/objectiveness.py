"""Figures and tables of the second paper: bias curves (its Figure 3), the non-robustness table
(its Table 4) and mutual-verification heatmaps (its Figure 4)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from . import empty, ordered, save
from . import table as checked_table


#: line style of the explainers whose maps are signed, and of those whose maps are not (the
#: bias metric presumes signed maps: their curves are drawn, but set apart)
BIAS_STYLE = {True: {"ls": "-", "marker": "o"}, False: {"ls": "--", "marker": "x"}}


def plot_bias_curves(table, out_png, order=None) -> None:
    """M_pixel against k, top-k (upper row) and bottom-k (lower row), one line per explainer,
    one column per model, from :func:`heatcheck.analysis.tables.shapley_bias_table` (a CSV path
    or the frame). Lower is less biased. Explainers whose maps are not signed (``signed`` False)
    are dashed and labelled "(unsigned)": the metric presumes signed maps."""
    t = checked_table(table) if not isinstance(table, pd.DataFrame) else table
    if t.empty:
        return empty(out_png, "no shapley_bias scores")
    models = sorted(t.model.unique())
    explainers = ordered(t.explainer, order)
    palette = plt.cm.tab10 if len(explainers) <= 10 else plt.cm.tab20
    fig, axes = plt.subplots(2, len(models), figsize=(4.6 * len(models) + 1.5, 7.4), squeeze=False, sharey="row")
    for c, model in enumerate(models):
        for r, side in enumerate(("top", "bottom")):
            ax = axes[r, c]
            part = t[(t.model == model) & (t.side == side)]
            for i, expl in enumerate(explainers):
                g = part[part.explainer == expl].sort_values("k")
                if g.empty:
                    continue
                signed = bool(g.signed.iloc[0])
                ax.plot(g.k.astype(float), g["mean"], ms=3, color=palette(i % palette.N),
                        label=expl if signed else f"{expl} (unsigned)", **BIAS_STYLE[signed])
            ax.set_title(f"{model}: {side}-k% pixels", fontsize=9)
            ax.set_xlabel("k (% of pixels sampled)")
            ax.set_ylabel("bias M_pixel (lower is better)")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    note = "" if t.signed.all() else "\ndashed: maps without negative values, outside the metric's premise (paper, Table 2)"
    fig.suptitle("Bias of attribution maps against sampled Shapley values (second paper, eq. 3)" + note, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    save(fig, out_png)


def plot_mutual_verification(matrix_csvs, out_png) -> None:
    """One heatmap per model of the mean distance between normalized maps (shared colour scale)."""
    mats = {Path(p).stem: checked_table(p, index_col=0) for p in matrix_csvs}
    vmax = max(float(m.values.max()) for m in mats.values()) if mats else 1.0
    fig, axes = plt.subplots(1, max(1, len(mats)), figsize=(5.2 * max(1, len(mats)), 4.8), squeeze=False)
    im = None
    for ax, (model, m) in zip(axes[0], mats.items()):
        im = ax.imshow(m.values, vmin=0, vmax=vmax, cmap="viridis")
        ax.set_xticks(range(len(m.columns)), m.columns, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(m.index)), m.index, fontsize=7)
        for i in range(len(m.index)):
            for j in range(len(m.columns)):
                ax.text(j, i, f"{m.values[i, j]:.2f}", ha="center", va="center", fontsize=5,
                        color="white" if m.values[i, j] < 0.6 * vmax else "black")
        ax.set_title(model, fontsize=9)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="M_mutual (lower = agree more)")
    fig.suptitle("Mutual verification between explainers (second paper, eq. 6)", fontsize=10)
    save(fig, out_png)
