"""Reading score tables and writing analysis tables (what the analysis rules share)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from .. import HeatcheckError


def read_scores(path) -> pd.DataFrame:
    """A dataset's ``scores.parquet``, checked for the columns the analyses use."""
    scores = pd.read_parquet(path)
    need = {"model", "explainer", "metric", "config", "image_index", "score", "higher_is_better", "binary"}
    missing = need - set(scores.columns)
    if missing and len(scores):
        raise HeatcheckError(f"score table {path} lacks columns {sorted(missing)} (written by an older version?)")
    return scores


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
