"""Figures of the metric checks: correlation heatmaps (first paper, Tables 3, 4, 7, A2-A5 as
pictures), the ranking chart, and the insertion/deletion curves (Figures 2, 4, A3-A5).
Correlations share one colour scale, [-1, 1], in every panel."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..derived import BLUR, derived_name, is_derived, parse_derived
from . import empty, heatmap, ordered, save, table


def _colorbar(fig, axes, im, label: str) -> None:
    if im is not None:
        fig.colorbar(im, ax=np.ravel(axes).tolist(), shrink=0.8, label=label)


def plot_internal_consistency(csv, out_png) -> None:
    """Per (model, metric): Spearman between every two configurations, averaged over explainers."""
    t = table(csv, keep_default_na=False, na_values=[""])
    t = t[t["explainer"] == "mean"]
    if t.empty:
        return empty(out_png, "no metric has two or more configurations")
    models = list(dict.fromkeys(t["model"]))
    metrics = list(dict.fromkeys(t["metric"]))
    fig, axes = plt.subplots(len(models), len(metrics), figsize=(2.6 * len(metrics) + 1, 2.5 * len(models) + 0.6),
                             squeeze=False, layout="constrained")
    im = None
    for r, model in enumerate(models):
        for c, metric in enumerate(metrics):
            ax = axes[r, c]
            g = t[(t["model"] == model) & (t["metric"] == metric)]
            configs = list(dict.fromkeys(list(g["config_a"]) + list(g["config_b"])))
            m = pd.DataFrame(np.eye(len(configs)), index=configs, columns=configs)
            for _, row in g.iterrows():
                m.loc[row["config_a"], row["config_b"]] = m.loc[row["config_b"], row["config_a"]] = row["value"]
            if not configs:
                ax.axis("off")
                continue
            im = heatmap(ax, m.values, configs, configs, -1, 1, annotate=len(configs) <= 8)
            ax.set_title(f"{model}: {metric}")
    _colorbar(fig, axes, im, "Spearman, mean over explainers")
    fig.suptitle("Internal consistency: do a metric's configurations rank images alike?")
    save(fig, out_png)


def _pair_matrix(t: pd.DataFrame, model: str, order) -> tuple[np.ndarray, list[str], list[str]]:
    g = t[t["model"] == model]
    g = g.assign(pair=g["metric_a"] + " & " + g["metric_b"])
    explainers = ordered([e for e in g["explainer"] if not is_derived(e)], order)
    pairs = list(dict.fromkeys(g["pair"]))
    m = g.pivot_table(index="pair", columns="explainer", values="value", dropna=False).reindex(
        index=pairs, columns=explainers)
    return m.values, pairs, explainers


def plot_inter_method(csv, out_png, order=None) -> None:
    """Per model: every metric pair (rows) by explainer (columns), sign-aligned so that positive
    means the two metrics agree on which images are explained well (the paper's Table 4)."""
    t = table(csv, keep_default_na=False, na_values=[""])
    if t.empty:
        return empty(out_png, "fewer than two metrics: no inter-method correlations")
    models = list(dict.fromkeys(t["model"]))
    n_pairs = t.assign(p=t["metric_a"] + t["metric_b"])["p"].nunique()
    n_expl = t["explainer"].nunique()
    fig, axes = plt.subplots(1, len(models), figsize=(0.55 * n_expl * len(models) + 4, 0.28 * n_pairs + 2),
                             squeeze=False, layout="constrained")
    im = None
    for ax, model in zip(axes[0], models):
        v, rows, cols = _pair_matrix(t, model, order)
        im = heatmap(ax, v, rows, cols, -1, 1)
        ax.set_title(model)
        if ax is not axes[0, 0]:
            ax.set_yticklabels([])
    _colorbar(fig, axes, im, "aligned correlation over images (+ = agree)")
    fig.suptitle("Inter-method reliability (Spearman; point-biserial with the pointing game)")
    save(fig, out_png)


def plot_average_drop_binarized(a2_csv, a3_csv, out_png, order=None) -> None:
    """Supplement C: mean Average Drop per binarization threshold (Table A2, left) and each
    threshold's aligned correlation with insertion, deletion and the pointing game (Table A3)."""
    a2 = table(a2_csv)
    a3 = table(a3_csv, keep_default_na=False, na_values=[""])
    if a2.empty:
        return empty(out_png, "average_drop was not scored")
    models = list(dict.fromkeys(a2["model"]))
    others = [m for m in ("insertion", "deletion", "pointing_game") if m in set(a3["metric_b"])] or \
        list(dict.fromkeys(a3["metric_b"]))[:3]
    configs = list(dict.fromkeys(a2["config"]))
    fig, axes = plt.subplots(len(models), 1 + len(others),
                             figsize=(0.5 * len(configs) * (1 + len(others)) + 4, 3.0 * len(models) + 0.6),
                             squeeze=False, layout="constrained")
    im_score = im_corr = None
    for r, model in enumerate(models):
        g = a2[a2["model"] == model]
        expl = ordered([e for e in g["explainer"] if not is_derived(e)], order)
        m = g.pivot_table(index="explainer", columns="config", values="mean").reindex(index=expl, columns=configs)
        im_score = heatmap(axes[r, 0], m.values, expl, configs, 0, 1, cmap="viridis")
        axes[r, 0].set_title(f"{model}: Average Drop (lower = better)")
        for c, other in enumerate(others, start=1):
            h = a3[(a3["model"] == model) & (a3["metric_b"] == other)]
            m = h.pivot_table(index="explainer", columns="config_a", values="value").reindex(index=expl,
                                                                                             columns=configs)
            im_corr = heatmap(axes[r, c], m.values, expl, configs, -1, 1)
            axes[r, c].set_title(f"vs {other}")
            axes[r, c].set_yticklabels([])
    if im_score is not None:
        fig.colorbar(im_score, ax=axes[:, 0].tolist(), shrink=0.8, label="mean Average Drop")
    _colorbar(fig, axes[:, 1:], im_corr, "aligned correlation (+ = agree)")
    fig.suptitle("Binarized Average Drop: real-valued maps and per-image percentile thresholds")
    save(fig, out_png)


def plot_rankings(rankings_csv, agreement_csv, out_png, order=None) -> None:
    """Per model: each metric's ranking of the explainers (1 = best, by mean score), with
    Kendall's W and Krippendorff's alpha of the per-image rankings in the title."""
    rk = table(rankings_csv)
    ag = table(agreement_csv, keep_default_na=False, na_values=[""])
    if rk.empty:
        return empty(out_png, "no rankings: no metric scored any explainer")
    models = list(dict.fromkeys(rk["model"]))
    n_expl = rk["explainer"].nunique()
    n_metr = rk["metric"].nunique()
    fig, axes = plt.subplots(1, len(models), figsize=(0.55 * n_expl * len(models) + 3, 0.35 * n_metr + 2.2),
                             squeeze=False, layout="constrained")
    im = None
    for ax, model in zip(axes[0], models):
        g = rk[rk["model"] == model]
        expl = ordered(g["explainer"], order)
        metrics = list(dict.fromkeys(g["metric"]))
        m = g.pivot_table(index="metric", columns="explainer", values="rank").reindex(index=metrics, columns=expl)
        im = heatmap(ax, m.values, metrics, expl, 1, max(2, len(expl)), cmap="viridis_r", fmt="{:.3g}")
        a = ag[ag["model"] == model].set_index("statistic")
        title = [model]
        for stat, label in (("kendalls_w", "W"), ("krippendorff_alpha", "alpha")):
            if stat in a.index and np.isfinite(a.loc[stat, "value"]):
                title.append(f"{label} = {a.loc[stat, 'value']:.2f} [{a.loc[stat, 'ci_low']:.2f}, "
                             f"{a.loc[stat, 'ci_high']:.2f}]")
        ax.set_title("\n".join(title))
        if ax is not axes[0, 0]:
            ax.set_yticklabels([])
    _colorbar(fig, axes, im, "rank (1 = best)")
    fig.suptitle("Explainer rankings per metric, and how far the metrics agree")
    save(fig, out_png)


def _curve_axes(rows, cols, title_fn, draw, ylabel: str, out_png, suptitle: str) -> None:
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.4 * len(cols) + 1.8, 2.0 * len(rows) + 0.8),
                             squeeze=False, sharex=True, sharey=True,
                             layout="constrained")
    for r, rkey in enumerate(rows):
        for c, ckey in enumerate(cols):
            ax = axes[r, c]
            draw(ax, rkey, ckey)
            ax.set_title(title_fn(rkey, ckey))
            ax.set_ylim(0, 1)
            if r == len(rows) - 1:
                ax.set_xlabel("fraction of pixels")
            if c == 0:
                ax.set_ylabel(ylabel)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right center")
    fig.suptitle(suptitle)
    save(fig, out_png)


def plot_curves(csv, out_png, order=None) -> None:
    """Mean insertion and deletion curves (rows: model x metric; columns: configurations), one
    line per explainer: the paper's Figures 2 and A3-A5."""
    t = table(csv)
    t = t[~t["explainer"].map(is_derived)]
    if t.empty:
        return empty(out_png, "no insertion or deletion curves")
    rows = list(dict.fromkeys(zip(t["model"], t["metric"])))
    cols = list(dict.fromkeys(t["config"]))
    explainers = ordered(t["explainer"], order)
    colors = dict(zip(explainers, plt.cm.tab10(np.linspace(0, 1, 10))[:len(explainers)] if len(explainers) <= 10
                      else plt.cm.tab20(np.linspace(0, 1, len(explainers)))))

    def draw(ax, rkey, cfg):
        g = t[(t["model"] == rkey[0]) & (t["metric"] == rkey[1]) & (t["config"] == cfg)]
        for e in explainers:
            h = g[g["explainer"] == e]
            if len(h):
                ax.plot(h["fraction"], h["mean"], color=colors[e], label=e)

    _curve_axes(rows, cols, lambda r, c: f"{r[0]} {r[1]}: {c}", draw, "p(target)", out_png,
                "Insertion (higher = better) and deletion (lower = better), mean over images")


def plot_blur_curves(csv, out_png, order=None) -> None:
    """Insertion and deletion of the blurred gradient maps (dashed) against the originals
    (solid), mean+pixel configuration where scored: the paper's Figure 4."""
    t = table(csv)
    blurred = [parse_derived(e)[0] for e in t["explainer"].unique() if parse_derived(e)[1] == BLUR]
    t = t[t["explainer"].isin(blurred + [derived_name(e, BLUR) for e in blurred])]
    if t.empty:
        return empty(out_png, "no blurred maps were scored with insertion or deletion")
    cfg = "mean+pixel" if "mean+pixel" in set(t["config"]) else t["config"].iloc[0]
    t = t[t["config"] == cfg]
    rows = list(dict.fromkeys(t["model"]))
    cols = list(dict.fromkeys(t["metric"]))
    blurred = ordered(blurred, order)
    colors = dict(zip(blurred, plt.cm.tab10(np.arange(len(blurred)) % 10)))

    def draw(ax, model, metric):
        g = t[(t["model"] == model) & (t["metric"] == metric)]
        for e in blurred:
            for name, ls in ((e, "-"), (derived_name(e, BLUR), "--")):
                h = g[g["explainer"] == name]
                if len(h):
                    ax.plot(h["fraction"], h["mean"], ls, color=colors[e], label=name)

    _curve_axes(rows, cols, lambda r, c: f"{r}: {c} ({cfg})", draw, "p(target)", out_png,
                "Blurring sparse gradient maps: original (solid) and blurred (dashed)")
