"""Reading score tables and analysis tables: damaged ones are named and removed, so that the next
run rewrites them."""

import pandas as pd
import pytest

from heatcheck import HeatcheckError
from heatcheck.analysis.tables import read_scores, read_table, write_table
from heatcheck.store import DamagedFileError


def test_table_roundtrip_and_cut_off_or_empty_tables(tmp_path):
    table = pd.DataFrame({"model": ["a", "b", "c"], "value": [0.5, float("nan"), -1.25]})
    path = tmp_path / "t.csv"
    write_table(table, path)
    pd.testing.assert_frame_equal(read_table(path), table)
    data = path.read_bytes()
    path.write_bytes(data[:-4])  # the last row cut off mid-number: pandas alone reads it as a valid row
    assert len(pd.read_csv(path)) == 3
    with pytest.raises(DamagedFileError, match=r"table .*t.csv is damaged: its last line is cut off .*; delete it"):
        read_table(path)
    assert path.exists()  # without repair nothing is removed
    with pytest.raises(DamagedFileError, match=r"its last line is cut off .*; removed it: rerun snakemake"):
        read_table(path, repair=True)
    assert not path.exists()
    path.write_bytes(b"")
    with pytest.raises(DamagedFileError, match="t.csv is damaged: it is empty"):
        read_table(path, repair=True)
    with pytest.raises(HeatcheckError, match="t.csv does not exist"):
        read_table(path)


def test_unreadable_or_foreign_score_table_is_removed(tmp_path):
    scores = pd.DataFrame({"model": ["m"], "explainer": ["e"], "metric": ["x"], "config": ["c"], "image_index": [0],
                           "score": [1.0], "higher_is_better": [True], "binary": [False]})
    path = tmp_path / "scores.parquet"
    scores.to_parquet(path)
    pd.testing.assert_frame_equal(read_scores(path), scores)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DamagedFileError, match=r"score table .*scores.parquet is damaged: unreadable .*removed it"):
        read_scores(path, repair=True)
    assert not path.exists()
    scores.drop(columns="binary").to_parquet(path)
    with pytest.raises(DamagedFileError, match=r"lacks the columns \['binary'\] \(written by an older version\?\)"):
        read_scores(path, repair=True)
    assert not path.exists()
