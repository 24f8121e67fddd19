"""The GPU benchmark's reduced CPU mode keeps working (it is meant to run unattended on a GPU).

No timing is asserted (speed is measured by the benchmarks, not by tests): the run must finish,
measure every method that makes model passes without an error, and count what it ran.
"""

import json
import subprocess
import sys

from conftest import ROOT


def test_bench_gpu_quick_mode_measures_every_method(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py"), "--quick", "--precisions", "fp32", "--side", "32",
                           "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["quick"] and res["raw"]["fp32/contiguous"] > 0
    rows = res["methods"]["fp32/contiguous"]
    errors = {name: row["error"] for name, row in rows.items() if "error" in row}
    assert not errors, errors
    from heatcheck.explainers import EXPLAINERS

    measured = {n for n, row in rows.items() if row["kind"] == "explainer"}
    assert measured == {n for n in EXPLAINERS.names() if not EXPLAINERS.get(n).model_free}
    for name, row in rows.items():  # every measured method (those with declared passes) ran forward passes
        assert row["forward_images"] > 0 and row["ratio_to_raw"] > 0, (name, row)
    # RISE's forwards are its masks, per image: what was run is what is declared
    rise = rows["rise"]
    assert rise["forward_images"] == res["images_per_method"] * rise["params"]["masks"], rise
