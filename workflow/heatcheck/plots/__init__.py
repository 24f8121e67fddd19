"""Figures. Every plot reads files of earlier stages only and writes PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, out_png) -> None:
    """Save ``fig`` as ``out_png`` and the PDF beside it."""
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=150, bbox_inches="tight")
    fig.savefig(out_png.with_suffix(".pdf"), bbox_inches="tight")
    plt.close(fig)
