"""Figures. Every plot reads files of earlier stages only and writes PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

_DPI = {"dpi": 150}


def table(csv, **read_csv):
    """An analysis table a figure draws (:func:`heatcheck.analysis.tables.read_table`): a damaged
    one is removed, so that the next Snakemake run rewrites it before redrawing the figure."""
    from ..analysis.tables import read_table

    return read_table(csv, repair=True, **read_csv)


def use_style(style=None, dpi: int = 150) -> None:
    """Apply a matplotlib style file (the plot rules' ``style`` input) and the PNG resolution."""
    if style:
        plt.style.use(str(style))
    _DPI["dpi"] = int(dpi)


def save(fig, out_png) -> None:
    """Save ``fig`` as ``out_png`` and the PDF beside it."""
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=_DPI["dpi"], bbox_inches="tight")
    fig.savefig(out_png.with_suffix(".pdf"), bbox_inches="tight")
    plt.close(fig)


def draw(rule: str, inputs: dict, out_png, params: dict) -> None:
    """Draw the figure of plot rule ``rule`` (its name picks the figure) from the rule's named
    ``inputs`` and ``params`` (plain mappings: the ``style`` input and ``dpi`` param set the
    look) into ``out_png`` and the PDF beside it.

    Starts from matplotlib's defaults, so that figures drawn one after another in one process
    (:func:`heatcheck.jobs.plot`) look as if each had a process of its own.
    """
    from types import SimpleNamespace

    matplotlib.rc_file_defaults()
    inp, par = SimpleNamespace(**inputs), SimpleNamespace(**params)
    use_style(inputs.get("style"), params.get("dpi", 150))
    order = params.get("explainers")
    if rule == "plot_dataset":
        from .dataset import plot_samples

        plot_samples(inp.store, inp.accuracies, out_png, per_class=2)
    elif rule == "plot_saliency_examples":
        from .saliency import plot_examples

        plot_examples(inp.store, inp.saliency, out_png, par.n_images)
    elif rule == "plot_blur_examples":
        from .saliency import plot_examples

        plot_examples(inp.store, inp.saliency, out_png, par.n_images, "Gradient maps before and after the Gaussian blur")
    elif rule == "plot_shapley_bias":
        from .objectiveness import plot_bias_curves

        plot_bias_curves(inp.table, out_png, order)
    elif rule == "plot_mutual_verification":
        from .objectiveness import plot_mutual_verification

        plot_mutual_verification(list(inp.matrices), out_png)
    elif rule == "plot_relevance_kde":
        from .sparsity import plot_relevance_kde

        plot_relevance_kde(inp.kde, inp.stats, out_png, order)
    elif rule == "plot_report_card":
        from .trust import plot_report_card

        plot_report_card(inp.table, out_png)
    elif rule == "plot_randomization":
        from .trust import plot_randomization

        plot_randomization(inp.table, inp.store, inp.saliency, out_png, order)
    elif rule == "plot_blur_study":
        from .sparsity import plot_blur_study

        plot_blur_study(inp.table, out_png, order)
    else:
        from . import reliability as rel

        if rule == "plot_average_drop_binarized":
            rel.plot_average_drop_binarized(inp.scores, inp.corr, out_png, order)
        elif rule == "plot_rankings":
            rel.plot_rankings(inp.rankings, inp.agreement, out_png, order)
        elif rule == "plot_internal_consistency":
            rel.plot_internal_consistency(inp.table, out_png)
        else:  # plot_inter_method, plot_curves, plot_blur_curves
            getattr(rel, rule)(inp.table, out_png, order)


def ordered(names, order=None) -> list[str]:
    """``names`` in the config's order (``order``), unknown names after, each once."""
    names = list(dict.fromkeys(names))
    order = [o for o in (order or []) if o in names]
    return order + [n for n in names if n not in order]


def heatmap(ax, values, rows, cols, vmin: float, vmax: float, cmap: str = "RdBu_r", fmt: str = "{:.2f}",
            annotate: bool = True):
    """An annotated heatmap (values written in the cells if ``annotate``); NaN cells are blank."""
    v = np.asarray(values, dtype=float)
    im = ax.imshow(np.ma.masked_invalid(v), vmin=vmin, vmax=vmax, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i in range(v.shape[0] if annotate else 0):
        for j in range(v.shape[1]):
            x = v[i, j]
            if np.isfinite(x):
                r, g, b, _ = im.cmap(im.norm(x))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # white text on dark cells
                ax.text(j, i, fmt.format(x), ha="center", va="center", fontsize=6,
                        color="white" if dark else "black")
            else:
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=5, color="grey")
    return im


def empty(out_png, message: str) -> None:
    """A figure that says why there is nothing to draw (the rule still has its output)."""
    fig, ax = plt.subplots(figsize=(4, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    save(fig, out_png)
