"""The README's generated parts: the method tables (from the classes' declarations) and the
plugin example (from :mod:`heatcheck.example_methods`). Torch-free.

    python -m heatcheck.docs            # rewrite them in README.md
    python -m heatcheck.docs --check    # exit 1 if README.md is out of date (the tests do this)

Each part sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` lines.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE = Path(__file__).resolve().with_name("example_methods.py")
#: image sides at which the tables give the passes per image
SIDES = (32, 224)


def _value(v) -> str:
    return "null" if v is None else json.dumps(v) if isinstance(v, (list, bool)) else str(v)


def _params(cls) -> str:
    if not cls.params:
        return "-"
    return "<br>".join(f"`{p.name}` = {_value(p.default)} ({p.range_text()})"
                       + (": " + p.description.replace("|", "\\|") if p.description else "") for p in cls.params)


def _passes(cls) -> str:
    out = []
    for side in SIDES:
        fwd, bwd = cls.passes(cls.defaults(), side)
        out.append(f"{side} px: {fwd:g}" + (f" + {bwd:g} bwd" if bwd else ""))
    return "<br>".join(out) if len({o.split(': ')[1] for o in out}) > 1 else out[0].split(": ")[1]


def explainer_table() -> str:
    """Markdown table of every built-in explainer's declaration."""
    from .explainers import EXPLAINERS

    rows = ["| name | parameters (default, range) | passes per image at the defaults | needs | maps |",
            "| --- | --- | --- | --- | --- |"]
    for name in EXPLAINERS.names():
        cls = EXPLAINERS.get(name)
        sign = {True: "signed", False: "never negative", None: "either"}[cls.signed]
        rows.append(f"| `{name}` | {_params(cls)} | {_passes(cls)} | {cls.needs_text()} | {sign} |")
    return "\n".join(rows)


def metric_table() -> str:
    """Markdown table of every built-in metric's declaration."""
    from .metrics import METRICS

    rows = ["| name | parameters (default, range) | forward passes per map at the defaults | needs | better |",
            "| --- | --- | --- | --- | --- |"]
    for name in METRICS.names():
        cls = METRICS.get(name)
        rows.append(f"| `{name}` | {_params(cls)} | {_passes(cls)} | {cls.needs_text()} | "
                    f"{'higher' if cls.higher_is_better else 'lower'} |")
    return "\n".join(rows)


def example() -> str:
    """The plugin example, as a Python code block."""
    return "```python\n" + EXAMPLE.read_text().strip() + "\n```"


PARTS = {"explainers": explainer_table, "metrics": metric_table, "plugin-example": example}


def render(text: str) -> str:
    """``text`` (the README) with every generated part replaced by its current content."""
    for name, make in PARTS.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n)(?:.*?\n)?(<!-- /generated:{name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- generated:{name} --> ... <!-- /generated:{name} --> block")
        text = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m heatcheck.docs", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date, change nothing")
    ap.add_argument("--readme", default=str(README))
    args = ap.parse_args(argv)
    path = Path(args.readme)
    old = path.read_text(encoding="utf-8")
    new = render(old)
    if args.check:
        if new != old:
            print(f"{path} is out of date: run python -m heatcheck.docs", file=sys.stderr)
            return 1
        return 0
    if new != old:
        path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
