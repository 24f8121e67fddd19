"""The README's method tables and plugin example are generated from the declarations."""

import dataclasses

from heatcheck import docs


def test_readme_is_up_to_date():
    assert docs.main(["--check"]) == 0, "README.md is out of date: run python -m heatcheck.docs"


def test_a_changed_declaration_makes_the_readme_out_of_date(monkeypatch, tmp_path):
    from heatcheck.explainers.perturbation import RISE

    readme = tmp_path / "README.md"
    readme.write_text(docs.README.read_text())
    assert "`masks` = 5000 (>= 1)" in readme.read_text()
    params = tuple(dataclasses.replace(p, default=7) if p.name == "masks" else p for p in RISE.params)
    monkeypatch.setattr(RISE, "params", params)
    assert docs.main(["--check", "--readme", str(readme)]) == 1
    assert docs.main(["--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "`masks` = 7 (>= 1)" in text and "| `rise` |" in text and docs.main(["--check", "--readme", str(readme)]) == 0
