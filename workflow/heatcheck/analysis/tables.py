"""Reading score tables and writing analysis tables (what the analysis rules share)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .. import HeatcheckError
from ..store import check_exists, damaged_file, reading
from ..tables import bootstrap_ci, read_parquet_table


def read_scores(path, repair: bool = False) -> pd.DataFrame:
    """A dataset's ``scores.parquet``, checked for the columns the analyses use; an unreadable
    one, or one without those columns, is damaged, and with ``repair`` removed so that the next
    Snakemake run rewrites it (the analysis rules and figures do this)."""
    scores = read_parquet_table(path, "score table", repair)
    need = {"model", "explainer", "metric", "config", "image_index", "score", "higher_is_better", "binary"}
    missing = need - set(scores.columns)
    if missing and len(scores):
        raise damaged_file(path, "score table", f"it lacks the columns {sorted(missing)} (written by an older "
                                                f"version?)", repair)
    return scores


def read_table(path, repair: bool = False, **read_csv) -> pd.DataFrame:
    """An analysis table (CSV, as :func:`write_table` writes it) with ``pandas.read_csv``'s
    ``read_csv`` options. An empty or unparsable one, or one whose last line is cut off (every
    table ends with a line break), is damaged, and with ``repair`` removed so that the next
    Snakemake run rewrites it (the figures do this)."""
    path = check_exists(path, "table")
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(size - 1, 0))
        last = fh.read(1)
    if last != b"\n":
        problem = "it is empty" if not size else "its last line is cut off (no final line break)"
        raise damaged_file(path, "table", problem, repair)
    with reading(path, "table", repair):
        return pd.read_csv(path, **read_csv)


def write_table(table: pd.DataFrame, out_csv, logfile=None) -> None:
    """Write an analysis table as CSV (6 significant digits) and log its size."""
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False, float_format="%.6g")
    if logfile:
        with open(logfile, "a") as fh:
            fh.write(f"{out_csv}: {len(table)} rows\n")
    logging.getLogger(__name__).info("%s: %d rows", out_csv, len(table))


def non_robustness_table(scores: pd.DataFrame, out_csv) -> pd.DataFrame:
    """Mean M_non-robust per model (rows) and explainer (columns), like the second paper's Table 4."""
    s = scores[scores.metric == "masking_robustness"]
    table = s.groupby(["model", "explainer"]).score.mean().unstack("explainer")
    table.to_csv(out_csv, float_format="%.4f")
    return table


def shapley_bias_table(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Mean M_pixel (eq. 3 of the second paper) per model, explainer, side and k, with a
    bootstrap CI over images, and whether the explainer's maps are signed.

    The metric presumes maps "with both positive and negative values" (the paper's Table 2); on
    a map that is never negative (a magnitude such as ``grad`` or ``edge``, RISE's weighted mask
    sum) the bottom-k% pixels are the least relevant, not the negative evidence, so its numbers
    are not comparable with the signed maps'. Columns besides the score's: ``negative_share``
    (share of the images whose map has a negative value), ``declared_signed`` (the explainer
    class's declaration, empty where it makes none) and ``signed``: the declaration where there
    is one, else whether any map has a negative value.
    """
    cols = ["model", "explainer", "side", "k", "n", "mean", "ci_low", "ci_high", "negative_share",
            "declared_signed", "signed"]
    s = scores[scores.metric == "shapley_bias"]
    if s.empty:
        return pd.DataFrame(columns=cols)
    if "declared_signed" not in s:
        s = s.assign(declared_signed=np.nan)
    rows = []
    for (model, explainer), g in s.groupby(["model", "explainer"], sort=False):
        per_image = g.drop_duplicates("image_index")
        share = float(per_image["has_negative"].mean())
        declared = per_image["declared_signed"].dropna()
        declared = bool(declared.iloc[0]) if len(declared) else None
        signed = declared if declared is not None else share > 0
        for (side, k), h in g.groupby(["side", "k"], sort=False):
            lo, hi = bootstrap_ci(h["score"].to_numpy(), n_boot, seed, level)
            rows.append({"model": model, "explainer": explainer, "side": side, "k": k, "n": len(h),
                         "mean": h["score"].mean(), "ci_low": lo, "ci_high": hi, "negative_share": share,
                         "declared_signed": declared, "signed": signed})
    return pd.DataFrame(rows, columns=cols)
