"""Derived map arrays are one concept (heatcheck.derived), and data flows one way."""

import ast
from pathlib import Path

import pytest

from heatcheck import HeatcheckError
from heatcheck.derived import (DERIVED_KINDS, copies, derived_name, derived_pattern, is_derived, parse_derived,
                               source, split_variant)

PACKAGE = Path(__file__).resolve().parents[1] / "workflow" / "heatcheck"


def test_names_parse_back():
    from heatcheck.derived import KINDS

    for kind in DERIVED_KINDS:
        for k in ((0, 3) if KINDS[kind].numbered else (None,)):
            name = derived_name("integrated_gradients", kind, k)
            assert parse_derived(name) == ("integrated_gradients", kind, k)
            assert is_derived(name) and source(name) == "integrated_gradients"
    assert parse_derived("grad") == ("grad", None, None) and not is_derived("grad")
    assert copies("rise+halfmasked") == 4 and copies("grad+blur") == copies("grad") == 1
    with pytest.raises(ValueError, match="unknown derived map kind 'shuffled'"):
        derived_name("grad", "shuffled")
    with pytest.raises(HeatcheckError, match="unknown saliency variant in 'grad\\+shuffled'"):
        split_variant("grad+shuffled")


def test_patterns_match_exactly_the_names_of_their_kind():
    import re

    assert re.fullmatch(derived_pattern("grad", "blur"), "grad+blur")
    assert not re.fullmatch(derived_pattern("grad", "blur"), "gradXblur")
    assert re.fullmatch(derived_pattern("gradcam", "randomized"), "gradcam+randomized12")
    assert not re.fullmatch(derived_pattern("gradcam", "randomized"), "gradcam+randomized")


def _imports(path: Path) -> set[str]:
    """Module names and imported names of a source file (``from .x import y`` gives x and x.y)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = "." * node.level + (node.module or "")
            out |= {mod} | {f"{mod}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_no_data_flows_backwards():
    """The saliency stage never imports the metrics; the analyses never write saliency arrays."""
    saliency = _imports(PACKAGE / "saliency.py")
    assert not [m for m in saliency if m.lstrip(".").startswith("metrics")], saliency
    writers = {"write_saliency_shard", "create_saliency", "resize_saliency", "finalize_saliency", "blur_shard"}
    for path in (PACKAGE / "analysis").glob("*.py"):
        assert not {m.rsplit(".", 1)[-1] for m in _imports(path)} & writers, path.name


def test_names_round_trip_and_bad_names_are_refused():
    from heatcheck.derived import DerivedNameError

    for base, kind, k in (("gradcam", "randomized", 3), ("integrated_gradients", "noisy", 0), ("grad", "blur", None),
                          ("lrp", "halfmasked", None)):
        assert parse_derived(derived_name(base, kind, k), strict=True) == (base, kind, k)
    for bad in (("grad", "randomized", None), ("grad", "blur", 2), ("grad", "shuffled", 1)):
        with pytest.raises(DerivedNameError):
            derived_name(*bad)
    for name in ("grad+randomized", "grad+blur2", "grad+foo", "grad+noisy1+blur"):
        assert parse_derived(name) == (name, None, None)
        with pytest.raises(DerivedNameError):
            parse_derived(name, strict=True)
    with pytest.raises(HeatcheckError, match="grad\\+foo"):
        split_variant("grad+foo")
    assert split_variant("rise+randomized12") == ("rise", "randomized") and split_variant("rise") == ("rise", None)


def test_copies_and_what_is_real():
    from heatcheck.analysis.trust import CONTROLS, is_real
    from heatcheck.derived import is_original
    from heatcheck.explainers import EXPLAINERS

    assert copies("grad+halfmasked") == 4 and copies("grad+randomized1") == copies("grad+noisy0") == copies("grad") == 1
    assert is_real("grad") and not is_real("grad+blur") and not is_real("random") and not is_real("edge+noisy0")
    assert is_original("random") and not is_original("grad+randomized1")
    assert sorted(CONTROLS) == sorted(n for n in EXPLAINERS.names() if EXPLAINERS.get(n).model_free)
