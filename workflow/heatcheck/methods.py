"""What an explainer or metric class declares, torch-free: the single source of its facts.

A method class (:class:`heatcheck.explainers.Explainer`, :class:`heatcheck.metrics.Metric`, built
in or a user's plugin) declares

- ``params``: its parameters, each a :class:`Param` (name, type, default, range, one line);
- :meth:`Method.passes`: forward and backward passes per image from its parameters and the image
  side;
- ``needs``: what it needs from the model, the data or other stages (:data:`NEEDS`);
- ``higher_is_better`` (metrics): its direction.

Everything else reads these: the config's JSON schema (:meth:`Method.schema`, so validation and
defaults), the rules' extra inputs, the job resources and the cost report (:meth:`Method.passes`),
the README's method tables (:mod:`heatcheck.docs`) and the class's own computation (its
``self.params``, filled with the same defaults by :meth:`Method.fill`). A default changed in the
declaration changes all of them together.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


#: what a method may need, and what each means; ``needs_<name>`` class flags are derived from
#: ``needs`` (``cls.needs_layer``), so code may ask either way
NEEDS = {
    "gradients": "backpropagates to the input",
    "layer": "a spatial feature layer of the model",
    "gap_fc": "global average pooling + one linear layer",
    "module_hooks": "hooks on the model's modules (no TorchScript)",
    "background": "a background set of training images",
    "boxes": "object boxes (or masks)",
    "shapley": "the images' sampled Shapley values",
    "features": "the feature layer's scale alpha over all images",
    "reruns": "the explainers rerun on half-masked images",
}

_TYPES = {"integer": int, "number": (int, float), "boolean": bool, "string": str, "array": list}


@dataclass(frozen=True)
class Param:
    """One parameter of a method: ``explainers.<name>.<param>`` / ``metrics.<name>.<param>``.

    Parameters
    ----------
    name : str
        The config key.
    type : str
        JSON-schema type: ``integer``, ``number``, ``boolean``, ``string`` or ``array``; ignored
        where ``choices`` are given.
    default
        Filled in when the key is not given (validation and the class's own ``params``).
    description : str
        One line for the schema and the README.
    minimum, maximum, exclusive_minimum, exclusive_maximum : float, optional
        Bounds of a number (of the items, for arrays see ``items``).
    choices : tuple, optional
        The valid values.
    nullable : bool
        ``null`` is valid too (usually: "scaled from the image side").
    items : dict, optional
        JSON schema of an array's items.
    min_items : int, optional
        Fewest items of an array.
    unique : bool
        An array may not repeat a value.
    """

    name: str
    type: str = "number"
    default: Any = None
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    choices: tuple | None = None
    nullable: bool = False
    items: dict | None = None
    min_items: int | None = None
    unique: bool = False

    def __post_init__(self):
        if self.choices is None and self.type not in _TYPES:
            raise TypeError(f"Param {self.name!r}: type {self.type!r} is not one of {', '.join(_TYPES)}")

    def schema(self) -> dict:
        """The JSON schema of the value, with its default and description."""
        out: dict = {}
        if self.choices is not None:
            out["enum"] = list(self.choices) + ([None] if self.nullable and None not in self.choices else [])
        else:
            out["type"] = [self.type, "null"] if self.nullable else self.type
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum),
                           ("exclusiveMinimum", self.exclusive_minimum),
                           ("exclusiveMaximum", self.exclusive_maximum), ("items", self.items),
                           ("minItems", self.min_items)):
            if value is not None:
                out[key] = copy.deepcopy(value)
        if self.unique:
            out["uniqueItems"] = True
        out["default"] = copy.deepcopy(self.default)
        if self.description:
            out["description"] = self.description
        return out

    def range_text(self) -> str:
        """The valid values in a few characters (README tables): ``>= 1``, ``(0, 1)``, ``a | b``."""
        if self.choices is not None:
            return " \\| ".join(map(str, self.choices))
        src = self.items if self.type == "array" and self.items else {
            "minimum": self.minimum, "maximum": self.maximum, "exclusiveMinimum": self.exclusive_minimum,
            "exclusiveMaximum": self.exclusive_maximum}
        if "enum" in src:
            return "list of " + " \\| ".join(map(str, src["enum"]))
        lo, hi = src.get("minimum"), src.get("maximum")
        xlo, xhi = src.get("exclusiveMinimum"), src.get("exclusiveMaximum")
        if (lo is not None or xlo is not None) and (hi is not None or xhi is not None):
            text = f"{'[' if lo is not None else '('}{lo if lo is not None else xlo}, " \
                   f"{hi if hi is not None else xhi}{']' if hi is not None else ')'}"
        elif lo is not None:
            text = f">= {lo}"
        elif xlo is not None:
            text = f"> {xlo}"
        elif hi is not None:
            text = f"<= {hi}"
        elif xhi is not None:
            text = f"< {xhi}"
        else:
            text = self.type if self.type != "array" else f"list of {(self.items or {}).get('type', 'values')}"
        if self.type == "array" and (lo is not None or xlo is not None or hi is not None or xhi is not None):
            text = f"list in {text}"
        return text + (", null" if self.nullable else "")


class Method:
    """Torch-free declaration shared by explainers and metrics (see the module's docstring).

    Subclasses set the class attributes below; :meth:`passes` is a classmethod of the parameters
    (filled with defaults) and the image side.
    """

    #: the config name (set by the registry for built-ins; a plugin's config entry names it)
    name: str = ""
    #: the parameters, in the order the README lists them
    params: tuple[Param, ...] = ()
    #: keys of :data:`NEEDS`
    needs: tuple[str, ...] = ()
    #: direction of a metric's score (None for explainers)
    higher_is_better: bool | None = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        unknown = [n for n in cls.needs if n not in NEEDS]
        if unknown:
            raise TypeError(f"{cls.__qualname__}.needs names {unknown}; valid: {', '.join(NEEDS)}")
        for need in NEEDS:
            setattr(cls, f"needs_{need}", need in cls.needs)
        names = [p.name for p in cls.params]
        if len(set(names)) != len(names):
            raise TypeError(f"{cls.__qualname__}.params declares a parameter twice: {names}")

    @classmethod
    def defaults(cls) -> dict:
        """Every parameter's default."""
        return {p.name: copy.deepcopy(p.default) for p in cls.params}

    @classmethod
    def fill(cls, params: dict | None) -> dict:
        """``params`` (a config entry, validated or given by hand) with the defaults of the
        parameters it does not set; ``class`` (a plugin's import path) is not a parameter."""
        given = {k: v for k, v in (params or {}).items() if k != "class"}
        return {**cls.defaults(), **given}

    @classmethod
    def passes(cls, params: dict, side: int) -> tuple[float, float]:
        """Forward and backward passes per image (per map, for metrics) with ``params`` (filled)
        on ``side``-px images. A backward pass counts as one forward in the totals."""
        return 0.0, 0.0

    @classmethod
    def schema(cls) -> dict:
        """The JSON schema of the method's config entry: its parameters, nothing else (``null``
        means all defaults)."""
        return {"type": ["object", "null"], "additionalProperties": False,
                "properties": {p.name: p.schema() for p in cls.params},
                **({"description": cls.summary()} if cls.summary() else {})}

    @classmethod
    def limits(cls, params: dict, side: int) -> list[tuple[str, int, int, str, str]]:
        """Size parameters to check against ``side``-px images before any job: (parameter,
        value, largest allowed, what that is, why); a parameter left at null at the value it
        takes there."""
        return []

    @classmethod
    def summary(cls) -> str:
        """The first line of the class's docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""

    @classmethod
    def needs_text(cls) -> str:
        return ", ".join(cls.needs) or "-"

