"""Names of derived map arrays, torch-free: map arrays made from another explainer's, stored and
scored like the originals under the name ``{explainer}+{kind}{k}``.

- ``+blur``: the maps blurred (the first paper's sparsity study; no model);
- ``+halfmasked``: the explainer rerun on four half-masked copies of each image (masking
  robustness; 4 maps per image);
- ``+randomized{k}``: the explainer rerun on the model with its top k layers re-initialised
  (Adebayo et al.'s cascading model-parameter randomization, :mod:`heatcheck.sanity`);
- ``+noisy{k}``: the explainer rerun on noisy copy k of each image, a noise that leaves the
  model's prediction unchanged (MetaQuantus' minor perturbation).

One module names and parses them all (the rules' wildcards, the saliency and scoring jobs, the
analyses), so that a new kind is added in one place.
"""

from __future__ import annotations

import re

#: the model-free control explainers (torch-free copy of ``Explainer.model_free``, checked by the tests)
CONTROLS = ("random", "edge")
#: kinds of derived map arrays, and maps per image of those with several
DERIVED_KINDS = ("blur", "halfmasked", "randomized", "noisy")
COPIES = {"halfmasked": 4}
#: kinds numbered by a step or copy k (the others take none)
NUMBERED = ("randomized", "noisy")
RANDOMIZED, NOISY = "randomized", "noisy"
_DERIVED = re.compile(r"^(?P<base>[^+]+)\+(?P<kind>" + "|".join(DERIVED_KINDS) + r")(?P<k>\d*)$")


class DerivedNameError(ValueError):
    """A ``+`` name that is not a derived map array's."""


def derived_name(explainer: str, kind: str, k: int | None = None) -> str:
    """The explainer name of a derived map array, e.g. ``gradcam+randomized3``, ``grad+noisy0``."""
    if kind not in DERIVED_KINDS:
        raise DerivedNameError(f"unknown derived map kind {kind!r}; valid: {', '.join(DERIVED_KINDS)}")
    if (k is None) == (kind in NUMBERED):
        raise DerivedNameError(f"derived map kind {kind!r} {'needs' if kind in NUMBERED else 'takes no'} a number k")
    return f"{explainer}+{kind}{'' if k is None else int(k)}"


def parse_derived(name: str, strict: bool = False) -> tuple[str, str | None, int | None]:
    """(original explainer, kind, k) of a derived name; ``(name, None, None)`` for an original.

    With ``strict``, a name with a ``+`` that is not a valid derived name (``grad+foo``,
    ``grad+randomized`` without its step) raises :class:`DerivedNameError`.
    """
    m = _DERIVED.match(name)
    if not m or (bool(m["k"]) != (m["kind"] in NUMBERED)):
        if strict and "+" in name:
            raise DerivedNameError(f"{name!r} is not a derived map array's name: expected {{explainer}}+KIND with "
                                   f"KIND one of blur, halfmasked, randomized<k>, noisy<k>")
        return name, None, None
    return m["base"], m["kind"], int(m["k"]) if m["k"] else None


def is_original(name: str) -> bool:
    """Not a derived array (the controls are originals)."""
    return "+" not in name


def is_real(name: str, controls=CONTROLS) -> bool:
    """An original (not derived) explainer that is not a control."""
    return "+" not in name and name not in controls


def copies(name: str) -> int:
    """Maps per image of the array ``name`` (4 for ``+halfmasked``, else 1)."""
    return COPIES.get(parse_derived(name, strict=True)[1], 1)
