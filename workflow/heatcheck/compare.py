"""How far two runs of one study agree: their scores image by image, and their explainer rankings.

Used to check that a setting which should not change the science (``passes: {precision: bf16}``,
another machine, another batch size) leaves the scores within a tolerance and the rankings
unchanged::

    python -m heatcheck.compare results_fp32/ results_bf16/ [--json out.json]

Two rankings of a metric "agree" when no pair of explainers whose means the reference run
separates (their 95% bootstrap CIs do not overlap) is ordered the other way in the second run;
pairs within each other's CI are ties at the study's size, and their order is reported but not
held against the second run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from . import HeatcheckError

#: the columns that identify one score
KEY = ["model", "explainer", "metric", "config", "image_id"]


def compare_scores(ref: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Per (model, metric): how far ``other``'s scores are from ``ref``'s, image by image.

    Returns one row per (model, metric) with ``n`` matched scores, ``max_abs_diff``, ``scale``
    (the reference scores' standard deviation), ``rel_diff`` = max_abs_diff / scale, and
    ``spearman`` of the matched scores. Scores in only one run are counted in ``unmatched``.
    """
    merged = ref[KEY + ["score"]].merge(other[KEY + ["score"]], on=KEY, how="outer", suffixes=("_ref", "_other"),
                                        indicator=True)
    rows = []
    for (model, metric), g in merged.groupby(["model", "metric"], sort=True):
        both = g[(g["_merge"] == "both") & g["score_ref"].notna() & g["score_other"].notna()]
        a, b = both["score_ref"].to_numpy(float), both["score_other"].to_numpy(float)
        diff = float(np.max(np.abs(a - b))) if len(a) else np.nan
        scale = float(np.std(a)) if len(a) > 1 else np.nan
        rho = float(stats.spearmanr(a, b).statistic) if len(a) > 2 and np.std(a) > 0 and np.std(b) > 0 else np.nan
        rows.append({"model": model, "metric": metric, "n": len(a), "unmatched": int((g["_merge"] != "both").sum()),
                     "max_abs_diff": diff, "scale": scale,
                     "rel_diff": diff / scale if scale and np.isfinite(scale) and scale > 0 else np.nan,
                     "spearman": rho})
    return pd.DataFrame(rows)


def compare_rankings(ref: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """Per (model, metric): whether ``other``'s explainer ranking keeps ``ref``'s order.

    ``ref`` and ``other`` are ``tables/rankings.csv`` tables. Returns per (model, metric):
    ``kendall_tau`` of the two mean rankings, ``flips`` (explainer pairs ordered the other way),
    ``separated_flips`` (those of them whose reference CIs do not overlap: real changes),
    ``same_order`` (no flip at all) and ``agree`` (no separated flip), with the flipped pairs
    named.
    """
    rows = []
    for (model, metric), g in ref.groupby(["model", "metric"], sort=True):
        h = other[(other["model"] == model) & (other["metric"] == metric)].set_index("explainer")
        g = g.set_index("explainer")
        common = [e for e in g.index if e in h.index]
        sign = 1.0 if bool(g["higher_is_better"].iloc[0]) else -1.0
        flips, separated = [], []
        for a, b in itertools.combinations(common, 2):
            d_ref = sign * (g.at[a, "mean"] - g.at[b, "mean"])
            d_other = sign * (h.at[a, "mean"] - h.at[b, "mean"])
            if d_ref * d_other < 0:
                flips.append(f"{a}/{b}")
                apart = g.at[a, "ci_low"] > g.at[b, "ci_high"] or g.at[b, "ci_low"] > g.at[a, "ci_high"]
                if apart:
                    separated.append(f"{a}/{b}")
        x, y = g.loc[common, "mean"].to_numpy(float), h.loc[common, "mean"].to_numpy(float)
        tau = float(stats.kendalltau(x, y).statistic) if len(common) > 1 else np.nan
        rows.append({"model": model, "metric": metric, "explainers": len(common),
                     "missing": len(set(g.index) ^ set(h.index)), "kendall_tau": tau, "flips": len(flips),
                     "separated_flips": len(separated), "same_order": not flips, "agree": not separated,
                     "flipped": " ".join(flips), "separated": " ".join(separated)})
    return pd.DataFrame(rows)


def _dataset_dirs(results: Path) -> dict[str, Path]:
    found = {p.parent.name: p.parent for p in sorted(Path(results).glob("*/scores.parquet"))}
    if not found:
        raise HeatcheckError(f"no <dataset>/scores.parquet under {results}: not a finished heatcheck results folder")
    return found


def compare_runs(ref: Path, other: Path) -> dict:
    """Scores and rankings of every dataset two results folders share (``results/`` of two runs)."""
    a, b = _dataset_dirs(ref), _dataset_dirs(other)
    out = {}
    for name in sorted(set(a) & set(b)):
        scores = compare_scores(pd.read_parquet(a[name] / "scores.parquet"), pd.read_parquet(b[name] / "scores.parquet"))
        entry = {"scores": scores.to_dict("records")}
        ra, rb = a[name] / "tables" / "rankings.csv", b[name] / "tables" / "rankings.csv"
        if ra.exists() and rb.exists():
            entry["rankings"] = compare_rankings(pd.read_csv(ra), pd.read_csv(rb)).to_dict("records")
        out[name] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m heatcheck.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("reference", type=Path, help="results folder of the reference run")
    ap.add_argument("other", type=Path, help="results folder of the run to compare")
    ap.add_argument("--json", type=Path, help="write the comparison here")
    args = ap.parse_args(argv)
    try:
        result = compare_runs(args.reference, args.other)
    except HeatcheckError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, entry in result.items():
        print(f"== {name}: scores")
        print(pd.DataFrame(entry["scores"]).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        if "rankings" in entry:
            print(f"== {name}: rankings")
            cols = ["model", "metric", "kendall_tau", "flips", "separated_flips", "agree", "flipped"]
            print(pd.DataFrame(entry["rankings"])[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
