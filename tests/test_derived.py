"""Names of derived map arrays (heatcheck.derived) and their readers in the torch-free layers."""

import pytest

from heatcheck import HeatcheckError
from heatcheck.derived import (CONTROLS, DerivedNameError, copies, derived_name, is_original, is_real,
                               parse_derived)
from heatcheck.shards import split_variant


def test_names_round_trip_and_bad_names_are_refused():
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
    assert copies("grad+halfmasked") == 4 and copies("grad+randomized1") == copies("grad+noisy0") == copies("grad") == 1
    assert is_real("grad") and not is_real("grad+blur") and not is_real("random") and not is_real("edge+noisy0")
    assert is_original("random") and not is_original("grad+randomized1")
    from heatcheck.explainers import EXPLAINERS

    assert sorted(CONTROLS) == sorted(n for n in EXPLAINERS.names() if EXPLAINERS.get(n).model_free)
