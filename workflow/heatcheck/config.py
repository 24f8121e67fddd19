"""Validation of config.yaml against its JSON schema, with defaults and readable errors.

Torch-free: the Snakefile calls :func:`check_config` before any job starts.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from . import HeatcheckError
from .model_specs import check_models

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"


def load_schema() -> dict:
    with open(SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


def _with_defaults(cls):
    """A validator class that fills ``default`` values of ``properties`` while validating."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _allowed_keys(schema: dict) -> list[str]:
    keys = set(schema.get("properties", {}))
    for sub in schema.get("allOf", []):
        keys |= set(sub.get("then", {}).get("properties", {}))
    return sorted(keys)


def _describe(error: jsonschema.ValidationError) -> str:
    """One line that names the offending key and, where there are any, the valid choices."""
    where = _key(error.absolute_path)
    v = error.validator
    if v == "additionalProperties":
        allowed = _allowed_keys(error.schema)
        extra = sorted(set(error.instance) - set(allowed))
        names = ", ".join(f"{where}.{k}" if error.absolute_path else k for k in extra)
        return f"unknown config key {names}; valid keys here: {', '.join(allowed) or '(none)'}"
    if v == "enum":
        return (f"config key {where} = {error.instance!r} is not a valid choice; "
                f"valid choices: {', '.join(map(str, error.validator_value))}")
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"config key {where} must be of type {want}, got {error.instance!r} ({type(error.instance).__name__})"
    if v == "required":
        return f"config key {where}: {error.message}"
    if v == "propertyNames":
        return f"config key {where}: name {error.instance!r} must be lowercase letters, digits and _"
    return f"config key {where}: {error.message}"


def check_config(config: dict) -> dict:
    """Validate ``config`` in place, fill schema defaults, and cross-check names.

    Parameters
    ----------
    config : dict
        The parsed config.yaml (Snakemake's ``config``).

    Returns
    -------
    dict
        The same object, with defaults filled in.

    Raises
    ------
    HeatcheckError
        On the first problem, naming the config key and listing the valid choices.
    """
    for key in ("explainers", "metrics"):
        section = config.get(key)
        if isinstance(section, dict):  # "grad:" with nothing after it means default parameters
            for name, params in section.items():
                if params is None:
                    section[name] = {}
    validator = _Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        # prefer the deepest error along the first offending path: it names the precise key
        best = jsonschema.exceptions.best_match(errors)
        raise HeatcheckError("invalid configuration: " + _describe(best))
    _cross_check(config)
    return config


#: metrics that need object boxes (torch-free copy of ``Metric.needs_boxes``, checked by the tests)
BOX_METRICS = ("pointing_game",)


def _cross_check(config: dict) -> None:
    _check_box_metrics(config)
    blur_explainers(config)
    models = config["models"]
    for dname, dspec in config["datasets"].items():
        dspec.setdefault("models", sorted(models))
        for m in dspec["models"]:
            if m not in models:
                raise HeatcheckError(
                    f"config key datasets.{dname}.models names {m!r}, which is not defined under "
                    f"models; valid choices: {', '.join(sorted(models))}")
    check_models(config)


def _check_box_metrics(config: dict) -> None:
    """A metric that needs boxes must not meet a dataset that can never have any (its kind's
    facts say why; ``imagenet`` without ``boxes`` may still find ILSVRC XMLs next to the images,
    and keeps the skip-with-a-warning of a box-less store)."""
    from .data import DATASETS, kind_facts

    for metric in (m for m in config.get("metrics", {}) if m in BOX_METRICS):
        for dname, dspec in config["datasets"].items():
            why = kind_facts(dspec).no_boxes
            if why:
                with_boxes = [k for k in DATASETS.names() if DATASETS.get(k).no_boxes is None]
                raise HeatcheckError(
                    f"config key metrics.{metric} needs object boxes, but dataset {dname!r} "
                    f"(datasets.{dname}.kind = {dspec['kind']!r}) has none: {why}; remove {metric} "
                    f"from metrics, or study it on a dataset with boxes (kinds {', '.join(with_boxes)})")


#: explainers blurred by default in the sparsity study: the sparse gradient maps (section 4.4)
GRADIENT_MAPS = ("grad", "gradient_x_input", "guided_backprop", "integrated_gradients", "smoothgrad")


def blur_explainers(config: dict) -> list[str]:
    """Explainers whose maps get a blurred copy ``{explainer}+blur`` (validated config)."""
    chosen = config.get("analysis", {}).get("blur", {}).get("explainers")
    if chosen is None:
        return [e for e in config.get("explainers", {}) if e in GRADIENT_MAPS]
    unknown = [e for e in chosen if e not in config.get("explainers", {})]
    if unknown:
        raise HeatcheckError(
            f"config key analysis.blur.explainers names {', '.join(map(repr, unknown))}, not under "
            f"explainers; valid choices: {', '.join(config.get('explainers', {})) or '(none)'}")
    return list(chosen)


def metric_explainers(config: dict, metric: str) -> list[str]:
    """What metric ``metric`` scores (validated config): the configured explainers (those listed
    under the metric's ``explainers`` where it has that key: masking_robustness reruns them), then
    the blurred copies ``{explainer}+blur`` of the sparsity study for its metrics."""
    chosen = config["metrics"][metric].get("explainers")
    originals = [e for e in config.get("explainers", {}) if chosen is None or e in chosen]
    blurred = config.get("analysis", {}).get("blur", {}).get("metrics", [])
    return originals + [f"{e}+blur" for e in blur_explainers(config) if metric in blurred]


def canonical(value):
    """``value`` with every dict's keys sorted, recursively: Snakemake compares a job's params by
    their text, so without this, reordering keys in config.yaml would rerun the whole study."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


def canonical_params(config: dict) -> dict:
    """Sort the parameters of every dataset, model, explainer and metric (their order of
    appearance, which the figures follow, is kept), and of the analysis section."""
    for section in ("datasets", "models", "explainers", "metrics"):
        for name, params in config.get(section, {}).items():
            config[section][name] = canonical(params)
    if "analysis" in config:
        config["analysis"] = canonical(config["analysis"])
    return config


def study(config: dict) -> list[tuple[str, str]]:
    """The (dataset, model) pairs of a validated config, in config order."""
    return [(d, m) for d, spec in config["datasets"].items() for m in spec["models"]]
