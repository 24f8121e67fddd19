"""Figures of the report card: the metrics x checks card per model, and the model-parameter
randomization test (Adebayo et al. 2018, Figures 2 and 4)."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np

from ..analysis.trust import CHECKS, card_cells
from ..derived import parse_derived
from ..store import DatasetStore, open_saliency, saliency_name
from ..analysis.similarity import unit_range
from . import empty, ordered, save, table

#: checks whose value is an AUROC (chance 0.5): coloured as 2 AUROC - 1 on the card's [-1, 1] scale
_AUROC = ("control_separation",)


def card_text(value: float, lo: float, hi: float) -> str:
    """A card cell: the value, and its CI on a second line where there is one."""
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.2f}" + (f"\n[{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) and np.isfinite(hi) else "")


def plot_report_card(csv, out_png) -> None:
    """Per model, metrics (rows) x checks (columns), each cell the value with its 95% CI;
    colour: the value on [-1, 1] (control separation as 2 AUROC - 1, so that white is chance)."""
    t = card_cells(table(csv, keep_default_na=False, na_values=[""]))
    if t.empty:
        return empty(out_png, "no report card: no metric was scored")
    models = list(dict.fromkeys(t["model"]))
    metrics = list(dict.fromkeys(t["metric"]))
    fig, axes = plt.subplots(1, len(models), figsize=(1.25 * len(CHECKS) * len(models) + 2.5, 0.45 * len(metrics) + 2),
                             squeeze=False, layout="constrained")
    im = None
    for ax, model in zip(axes[0], models):
        g = t[t["model"] == model].set_index(["metric", "check"])
        colour = np.full((len(metrics), len(CHECKS)), np.nan)
        for i, metric in enumerate(metrics):
            for j, check in enumerate(CHECKS):
                if (metric, check) not in g.index:
                    ax.text(j, i, "-", ha="center", va="center", fontsize=6, color="grey")
                    continue
                row = g.loc[(metric, check)]
                v = float(row["value"])
                colour[i, j] = 2 * v - 1 if check in _AUROC else v
                ax.text(j, i, card_text(v, float(row["ci_low"]), float(row["ci_high"])), ha="center", va="center",
                        fontsize=5.5, color="white" if np.isfinite(v) and abs(colour[i, j]) > 0.6 else "black")
        im = ax.imshow(np.ma.masked_invalid(colour), vmin=-1, vmax=1, cmap="RdBu", aspect="auto")
        ax.set_xticks(range(len(CHECKS)), [c.replace("_", "\n") for c in CHECKS], fontsize=6)
        ax.set_yticks(range(len(metrics)), metrics, fontsize=7)
        ax.set_title(model)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="higher = more trustworthy (AUROC as 2 AUROC - 1)")
    fig.suptitle("Report card: how far each metric can be trusted (95% bootstrap CIs over images)")
    save(fig, out_png)


def plot_randomization(csv, store_path, saliency_jsons, out_png, order=None) -> None:
    """Per model: the similarity of each explainer's maps to the trained model's along the
    cascade (Spearman of |maps|, SSIM; step 0 = the trained model), and the maps of the first
    image at every step (|map| scaled to [0, 1])."""
    t = table(csv, keep_default_na=False, na_values=[""])
    if t.empty:
        return empty(out_png, "no randomized reruns")
    models = list(dict.fromkeys(t["model"]))
    store = DatasetStore(store_path)
    fig = plt.figure(figsize=(9, 0.2 + sum(2.3 + 1.0 * t[t["model"] == m]["explainer"].nunique() for m in models)),
                     layout="constrained")
    subs = np.atleast_1d(fig.subfigures(len(models), 1, height_ratios=[
        2.3 + 1.0 * t[t["model"] == m]["explainer"].nunique() for m in models]))
    markers = {saliency_name(p): p for p in saliency_jsons}
    for sub, model in zip(subs, models):
        g = t[t["model"] == model]
        explainers = ordered(g["explainer"], order)
        steps = sorted(g["step"].unique())
        layers = dict(zip(g["step"], g["layer"]))
        top, bottom = sub.subfigures(2, 1, height_ratios=[2.3, 1.0 * len(explainers)])
        axes = top.subplots(1, 2)
        for ax, measure in zip(axes, ("spearman_abs", "ssim")):
            for e in explainers:
                h = g[(g["explainer"] == e) & (g["measure"] == measure)].sort_values("step")
                x = np.r_[0, h["step"]]
                ax.plot(x, np.r_[1.0, h["value"]], marker="o", ms=3, label=e)
                ax.fill_between(h["step"], h["ci_low"], h["ci_high"], alpha=0.15)
            ax.set_xticks([0, *steps], ["trained", *[f"{k}: {layers[k]}" for k in steps]], rotation=30, ha="right",
                          fontsize=6)
            ax.set_ylim(-0.1 if measure == "ssim" else -1.05, 1.05)
            ax.axhline(0, color="grey", lw=0.5)
            ax.set_ylabel("Spearman of |maps|" if measure == "spearman_abs" else "SSIM")
        axes[1].legend(fontsize=6, loc="lower left")
        top.suptitle(f"{model}: similarity to the trained model's maps as layers are re-initialised from the top",
                     fontsize=8)
        grid = np.atleast_2d(bottom.subplots(len(explainers), len(steps) + 2, squeeze=False))
        image = np.asarray(store.split("eval").images[0]).transpose(1, 2, 0)
        for r, e in enumerate(explainers):
            names = [e] + [f"{e}+randomized{k}" for k in steps]
            row = grid[r]
            row[0].imshow(image.squeeze(), interpolation="nearest")
            row[0].set_ylabel(e, fontsize=6)
            for c, name in enumerate(names, start=1):
                if (model, name) in markers:
                    with open(markers[(model, name)]) as fh:
                        m = np.asarray(open_saliency(json.load(fh)["path"])[0:1])
                    row[c].imshow(unit_range(m)[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                if r == 0:
                    row[c].set_title("trained" if c == 1 else f"step {parse_derived(name)[2]}", fontsize=6)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle("Model-parameter randomization (Adebayo et al. 2018)", fontsize=9)
    save(fig, out_png)
