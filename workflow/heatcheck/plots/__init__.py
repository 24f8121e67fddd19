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
