"""heatcheck.compare: score differences and ranking agreement of two runs."""

import numpy as np
import pandas as pd
import pytest

from heatcheck import HeatcheckError
from heatcheck.compare import compare_rankings, compare_runs, compare_scores


def _scores(values: dict[str, list[float]], metric="deletion") -> pd.DataFrame:
    rows = [{"model": "m", "explainer": e, "metric": metric, "config": "mean+pixel", "image_id": f"i{i}", "score": v}
            for e, vs in values.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows)


def _rankings(means: dict[str, tuple[float, float, float]], higher=True) -> pd.DataFrame:
    return pd.DataFrame([{"model": "m", "metric": "insertion", "explainer": e, "higher_is_better": higher,
                          "mean": m, "ci_low": lo, "ci_high": hi} for e, (m, lo, hi) in means.items()])


def test_score_differences_are_measured_against_the_reference_spread():
    ref = _scores({"a": [0.0, 1.0, 2.0, 3.0]})
    other = _scores({"a": [0.0, 1.1, 2.0, 3.0]})
    row = compare_scores(ref, other).iloc[0]
    assert row["n"] == 4 and row["unmatched"] == 0
    assert row["max_abs_diff"] == pytest.approx(0.1)
    assert row["rel_diff"] == pytest.approx(0.1 / np.std([0, 1, 2, 3]))
    assert row["spearman"] == pytest.approx(1.0)


def test_scores_in_one_run_only_are_counted_as_unmatched():
    row = compare_scores(_scores({"a": [0.0, 1.0, 2.0]}), _scores({"a": [0.0, 1.0]})).iloc[0]
    assert row["n"] == 2 and row["unmatched"] == 1


def test_a_flip_inside_the_reference_cis_is_a_tie_not_a_disagreement():
    ref = _rankings({"a": (0.50, 0.40, 0.60), "b": (0.48, 0.38, 0.58), "c": (0.10, 0.05, 0.15)})
    other = _rankings({"a": (0.47, 0.4, 0.6), "b": (0.49, 0.4, 0.6), "c": (0.11, 0.05, 0.15)})
    row = compare_rankings(ref, other).iloc[0]
    assert row["flips"] == 1 and row["flipped"] == "a/b"
    assert row["separated_flips"] == 0 and bool(row["agree"]) and not bool(row["same_order"])


def test_a_flip_of_separated_explainers_is_a_disagreement_in_either_direction():
    ref = _rankings({"a": (0.9, 0.85, 0.95), "c": (0.1, 0.05, 0.15)}, higher=False)
    other = _rankings({"a": (0.05, 0, 0.1), "c": (0.5, 0.4, 0.6)}, higher=False)
    row = compare_rankings(ref, other).iloc[0]
    assert row["separated_flips"] == 1 and row["separated"] == "a/c" and not bool(row["agree"])
    assert row["kendall_tau"] == pytest.approx(-1.0)


def test_identical_runs_agree(tmp_path):
    for run in ("x", "y"):
        (tmp_path / run / "shapes" / "tables").mkdir(parents=True)
        _scores({"a": [0.0, 1.0, 2.0], "b": [1.0, 2.0, 4.0]}).to_parquet(tmp_path / run / "shapes" / "scores.parquet")
        _rankings({"a": (1, 0, 2), "b": (2.3, 2, 3)}).to_csv(tmp_path / run / "shapes" / "tables" / "rankings.csv")
    out = compare_runs(tmp_path / "x", tmp_path / "y")["shapes"]
    assert out["scores"][0]["max_abs_diff"] == 0 and out["rankings"][0]["same_order"]


def test_a_folder_without_results_is_named(tmp_path):
    with pytest.raises(HeatcheckError, match=str(tmp_path)):
        compare_runs(tmp_path, tmp_path)
