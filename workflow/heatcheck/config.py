"""The study's config: read strictly, validated against its JSON schema, with defaults and
readable errors.

Torch-free: the Snakefile calls :func:`load_study` and :func:`check_config` before any job starts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

from . import HeatcheckError
from .archs import ARCHS
from .costs import blur_kernel, image_side, shapley_cell, shapley_players
from .derived import BLUR, NOISY, RANDOMIZED, derived_name
from .metric_configs import config_keys, primary_choices, subset_size
from .model_specs import check_models
from .plugins import GROUPS, entry_points, is_plugin, method_class, registry

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"
#: the study when no config file is given (read from the working directory, where Snakemake's
#: own ``configfile:`` directive would look)
DEFAULT_STUDY = "config.yaml"
_MERGE_TAG = "tag:yaml.org,2002:merge"


#: the config sections whose entries are method classes (:mod:`heatcheck.methods`)
METHOD_SECTIONS = ("explainers", "metrics")


def load_schema(config: dict | None = None) -> dict:
    """The config's JSON schema: the static file's (datasets, models, analysis, ...) with the
    ``explainers`` and ``metrics`` sections generated from the classes' declarations
    (:meth:`heatcheck.methods.Method.schema`): every built-in, and the plugins ``config`` names
    (a ``class:`` import path or an installed entry point), whose entries also take ``class``."""
    schema = load_yaml(SCHEMA_PATH)
    for section in METHOD_SECTIONS:
        builtins = registry(section)[0]
        props = {name: builtins.get(name).schema() for name in builtins.names()}
        entries = (config or {}).get(section)
        for name, params in (entries.items() if isinstance(entries, dict) else ()):
            if is_plugin(section, name, params):  # other unknown names: the schema lists the valid ones
                props[name] = _plugin_schema(section, name, params)
        sub = schema["properties"][section]
        sub["properties"] = props
        sub["additionalProperties"] = False
    # the sparsity study's blurred copies are scored by the metrics that score one map at a time
    # (not those that compare explainers or need the explainer rerun on other images)
    metrics = schema["properties"]["metrics"]["properties"]
    blur = schema["properties"]["analysis"]["properties"]["blur"]["properties"]["metrics"]
    blur["items"] = {"enum": [m for m in metrics if _scores_one_map(m, (config or {}).get("metrics", {}).get(m))]}
    return schema


def _scores_one_map(metric: str, params) -> bool:
    cls = method_class("metrics", metric, params if isinstance(params, dict) else None)
    return cls.per_explainer and not cls.needs_reruns


def _plugin_schema(section: str, name: str, params) -> dict:
    """A plugin entry's schema: its class's declaration, plus the ``class`` key naming it."""
    out = method_class(section, name, params if isinstance(params, dict) else None).schema()
    out["properties"]["class"] = {"type": "string", "description": "import path of the class"}
    return out


def load_yaml(path) -> object:
    """Parse the YAML file ``path``, refusing what plain YAML loaders let through.

    A key given twice in one mapping is an error (PyYAML, and so Snakemake, silently keep the
    last one: a study would lose an explainer's parameters without a word), and so are syntax
    errors and a file with no content; each message names the file and the line.

    Raises
    ------
    HeatcheckError
        Naming the file, the line and, for a duplicate, the full key (``explainers.grad``).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise HeatcheckError(f"cannot read config file {path}: {e}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise HeatcheckError(f"config file {path}, line 1: the file is empty (nothing but blank lines and "
                                 f"comments); a study needs at least datasets and models")
        _refuse_duplicate_keys(node, path, (), set())
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark, begun = e.problem_mark or e.context_mark, e.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = e.problem or e.context
        if e.problem and e.context:
            what += f" ({e.context}" + (f" begun at line {begun.line + 1})" if begun else ")")
        raise HeatcheckError(f"config file {path}{where}: invalid YAML: {what}") from None
    except yaml.YAMLError as e:  # e.g. a character YAML does not allow: the message has the position
        raise HeatcheckError(f"config file {path}: invalid YAML: {e}") from None
    finally:
        loader.dispose()


def _refuse_duplicate_keys(node, path, where: tuple, seen_nodes: set) -> None:
    if id(node) in seen_nodes:  # an alias of an anchored node already checked
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == _MERGE_TAG:  # "<<: *anchor" merges keys that the mapping may override
                _refuse_duplicate_keys(value, path, where, seen_nodes)
                continue
            name = key.value if isinstance(key, yaml.ScalarNode) else "<complex key>"
            full = ".".join((*where, str(name)))
            if name in first:
                raise HeatcheckError(
                    f"config file {path}, line {key.start_mark.line + 1}: key {full} appears twice in the "
                    f"same mapping (first at line {first[name]}); give each key once")
            first[name] = key.start_mark.line + 1
            _refuse_duplicate_keys(value, path, (*where, str(name)), seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, path, (*where, str(i)), seen_nodes)


def load_study(paths, overrides=None) -> dict:
    """The study: the config files ``paths`` read with :func:`load_yaml`, merged in order (a
    later file's keys replace or, for mappings, extend an earlier file's), then ``overrides``
    merged on top the same way (Snakemake's ``--config key=value``). Nothing else is merged in:
    the study is exactly what its files say.

    Parameters
    ----------
    paths : sequence of path-like
        The study's config files (one is usual).
    overrides : mapping, optional
        Values from the command line, e.g. ``{"max_eval": 4}``.

    Returns
    -------
    dict
        The unvalidated config (pass it to :func:`check_config`).
    """
    study: dict = {}
    for path in paths:
        data = load_yaml(path)
        if not isinstance(data, dict):
            raise HeatcheckError(
                f"config file {path}: the top level must be a mapping of keys (datasets, models, "
                f"explainers, metrics, ...), got {type(data).__name__} {data!r:.60}")
        _merge(study, data)
    return _merge(study, dict(overrides or {}))


def _merge(base: dict, extra) -> dict:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(dict(value) if isinstance(value, Mapping) else value)
    return base


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
        msg = f"unknown config key {names}; valid keys here: {', '.join(allowed) or '(none)'}"
        if list(error.absolute_path) in ([s] for s in METHOD_SECTIONS):  # a method's name
            section = error.absolute_path[0]
            msg += (f"; or a plugin: an entry with class: 'package.module:Class' (or 'file.py:Class'), or the "
                    f"name of an installed entry point of group {GROUPS[section]} (installed: "
                    f"{', '.join(entry_points(section)) or 'none'})")
        return msg
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
    if v == "uniqueItems":
        dup = next(x for i, x in enumerate(error.instance) if x in error.instance[:i])
        return (f"config key {where} lists {dup!r} more than once ({error.instance}); each value may "
                f"appear once (a repeat would score or run the same thing twice)")
    if v in _BOUNDS:
        why = error.schema.get("description")
        return (f"config key {where} = {error.instance!r} must be {_BOUNDS[v]} {error.validator_value}"
                + (f" ({why})" if why else ""))
    return f"config key {where}: {error.message}"


_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


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
    validator = _Validator(load_schema(config))
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        # prefer the deepest error along the first offending path: it names the precise key
        best = jsonschema.exceptions.best_match(errors)
        raise HeatcheckError("invalid configuration: " + _describe(best))
    _cross_check(config)
    return config


def metric_class(config: dict, metric: str) -> type:
    """The class of ``metrics.<metric>`` (built in or a plugin)."""
    return method_class("metrics", metric, config["metrics"][metric])


def explainer_class(config: dict, explainer: str) -> type:
    """The class of ``explainers.<explainer>`` (built in or a plugin)."""
    return method_class("explainers", explainer, config["explainers"][explainer])


def metrics_needing(config: dict, need: str) -> list[str]:
    """The study's metrics whose classes declare ``need`` (:data:`heatcheck.methods.NEEDS`)."""
    return [m for m in config.get("metrics", {}) if need in metric_class(config, m).needs]


def box_metrics(config: dict) -> list[str]:
    """The study's metrics that need object boxes (masks too, where there are any)."""
    return metrics_needing(config, "boxes")


def shapley_settings(config: dict) -> dict:
    """The settings of the study's Shapley values (``compute_shapley``): ``metrics.shapley_bias``'s
    (its samples, cell, antithetic, output), its class's defaults where the study does not score
    it but another metric needs the values; keys sorted (:func:`canonical`: they are a job's params)."""
    from .metrics.objectiveness import ShapleyBias

    return canonical(ShapleyBias.fill(config.get("metrics", {}).get("shapley_bias")))


def curve_metrics(config: dict) -> list[str]:
    """The study's metrics that keep curves besides their scores (``has_curves``): merged into
    ``curves/{metric}/...zarr`` by merge_curves."""
    return [m for m in config.get("metrics", {}) if metric_class(config, m).has_curves]


def _cross_check(config: dict) -> None:
    _check_declarations(config)
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
    _check_metric_settings(config)
    _check_primary(config)
    _check_datasets(config)
    _check_trust(config)
    for dname, dspec in config["datasets"].items():
        _check_sizes(config, dname, image_side(dspec))


def _check_declarations(config: dict) -> None:
    """Every method entry's class must answer its declaration (passes and limits for each
    dataset's side): a plugin's mistakes stop here, naming the entry, not in a job."""
    sides = sorted({image_side(d) for d in config["datasets"].values()})
    for section in METHOD_SECTIONS:
        for name, params in config.get(section, {}).items():
            cls = method_class(section, name, params)
            filled = cls.fill(params)
            for side in sides:
                try:
                    fwd, bwd = cls.passes(filled, side)
                    float(fwd), float(bwd), list(cls.limits(filled, side))
                    if section == "metrics" and cls.per_explainer:
                        [cls.config_key(c) for c in cls.configs(filled)]
                except Exception as exc:  # a plugin's declaration that does not answer
                    raise HeatcheckError(
                        f"config key {section}.{name}: {cls.__module__}.{cls.__qualname__}'s declaration fails for "
                        f"{side}-px images with parameters {filled} ({type(exc).__name__}: {exc}); a method class "
                        f"declares passes(params, side) -> (forward, backward) per image") from None


def _check_names(key: str, names, valid) -> None:
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise HeatcheckError(
            f"config key {key} names {', '.join(map(repr, unknown))}, not under explainers; valid "
            f"choices: {', '.join(valid) or '(none)'}")


def _check_metric_settings(config: dict) -> None:
    """Settings that make a metric score nothing, or name what the study does not have."""
    metrics, explainers = config.get("metrics", {}), config.get("explainers", {})
    for m, params in metrics.items():
        if metric_class(config, m).per_explainer and not config_keys(m, params):
            raise HeatcheckError(f"config key metrics.{m} scores no configuration with its parameters "
                                 f"{params}; keep at least one (average_drop: real: true, or percentiles)")
    if "masking_robustness" in metrics:
        chosen = metrics["masking_robustness"]["explainers"]
        if chosen is not None:
            _check_names("metrics.masking_robustness.explainers", chosen, list(explainers))
            if not chosen:
                raise HeatcheckError("config key metrics.masking_robustness.explainers is empty: the metric "
                                     "would score nothing; name explainers, null for all, or remove the metric")
    if "mutual_verification" in metrics and len(explainers) < 2:
        raise HeatcheckError(f"config key metrics.mutual_verification compares explainers with each other, "
                             f"but the study has {len(explainers)} ({', '.join(explainers) or 'none'}); "
                             f"add explainers or remove the metric")
    sb = metrics.get("shapley_bias")
    if sb and sb["antithetic"] and sb["samples"] % 2:
        raise HeatcheckError(f"config key metrics.shapley_bias.samples = {sb['samples']} must be even with "
                             f"antithetic: true (the walks come in (pi, reversed pi) pairs)")


def _check_primary(config: dict) -> None:
    """``analysis.primary`` must name a metric of the study and one of its configurations."""
    metrics = config.get("metrics", {})
    primary = config["analysis"]["primary"]
    for metric, choice in primary.items():
        if metric not in metrics:
            raise HeatcheckError(
                f"config key analysis.primary.{metric} names a metric the study does not score; valid "
                f"choices: {', '.join(metrics) or '(none)'}")
        choices = primary_choices(metric, metrics[metric], list(config.get("explainers", {})))
        primary[metric] = str(choice)  # a tau written as a number (0.05) names configuration "0.05"
        if primary[metric] not in choices:
            raise HeatcheckError(
                f"config key analysis.primary.{metric} = {choice!r} is not a configuration of {metric} "
                f"with its parameters; valid choices: {', '.join(choices)}")


def _check_datasets(config: dict) -> None:
    for dname, spec in config["datasets"].items():
        if spec["kind"] == "imagenet" and spec["size"] > spec["resize"]:
            raise HeatcheckError(
                f"config key datasets.{dname}.size = {spec['size']} is larger than datasets.{dname}.resize "
                f"= {spec['resize']}: the centre crop must fit in the resized image")
        if spec["kind"] == "shapes" and spec["distractors"][0] > spec["distractors"][1]:
            raise HeatcheckError(
                f"config key datasets.{dname}.distractors = {spec['distractors']} must be [min, max] with "
                f"min <= max")


def _size_limits(config: dict, side: int) -> list[tuple[str, int, int, str, str]]:
    """(key, value, largest allowed, what that is, why) of each size parameter of the study for
    images of ``side`` pixels (each method class's :meth:`~heatcheck.methods.Method.limits`); a
    parameter left at null is checked at the value it takes there."""
    out = []
    for section in METHOD_SECTIONS:
        for name, params in config.get(section, {}).items():
            cls = method_class(section, name, params)
            out += [(f"{section}.{name}.{key}", *rest) for key, *rest in cls.limits(cls.fill(params), side)]
    if blur_explainers(config):
        out.append(("analysis.blur.kernel", blur_kernel(config["analysis"]["blur"]["kernel"], side), side,
                    "the image side", ""))
    return out


def _check_sizes(config: dict, dname: str, side: int) -> None:
    """Size parameters against the image side of dataset ``dname``, known from the config alone
    (without this, a window larger than the image fails its jobs only after training)."""
    for key, value, limit, what, why in _size_limits(config, side):
        if value > limit:
            raise HeatcheckError(
                f"config key {key} = {value} is larger than {what} ({limit}) of the images of dataset "
                f"{dname!r} ({side}x{side} px)" + (f": {why}" if why else ""))
    sb = config.get("metrics", {}).get("shapley_bias")
    if sb:
        cell, players = shapley_cell(sb, side), shapley_players(sb, side)
        for k in sb["ks"]:
            if subset_size(k, players) == players:
                raise HeatcheckError(
                    f"config key metrics.shapley_bias.ks: k = {k} takes all {players} players of dataset "
                    f"{dname!r} ({side}x{side} px in {cell}-px cells): its top and bottom sets are the same; "
                    f"use smaller ks or a smaller cell")


def _check_box_metrics(config: dict) -> None:
    """A metric that needs boxes must not meet a dataset that can never have any (its kind's
    facts say why; ``imagenet`` without ``boxes`` may still find ILSVRC XMLs next to the images,
    and keeps the skip-with-a-warning of a box-less store)."""
    from .data import DATASETS, kind_facts

    for metric in box_metrics(config):
        for dname, dspec in config["datasets"].items():
            why = kind_facts(dspec).no_boxes
            if why:
                with_boxes = [k for k in DATASETS.names() if DATASETS.get(k).no_boxes is None]
                raise HeatcheckError(
                    f"config key metrics.{metric} needs object boxes, but dataset {dname!r} "
                    f"(datasets.{dname}.kind = {dspec['kind']!r}) has none: {why}; remove {metric} "
                    f"from metrics, or study it on a dataset with boxes (kinds {', '.join(with_boxes)})")


def blur_explainers(config: dict) -> list[str]:
    """Explainers whose maps get a blurred copy ``{explainer}+blur`` (validated config)."""
    chosen = config.get("analysis", {}).get("blur", {}).get("explainers")
    if chosen is None:  # the sparse pixel-level maps, by their classes' declaration (``sparse``)
        return [e for e in config.get("explainers", {}) if explainer_class(config, e).sparse]
    _check_names("analysis.blur.explainers", chosen, list(config.get("explainers", {})))
    return list(chosen)


def metric_explainers(config: dict, metric: str, model: str | None = None) -> list[str]:
    """What metric ``metric`` scores (validated config): the configured explainers (those listed
    under the metric's ``explainers`` where it has that key: masking_robustness reruns them), then
    the blurred copies ``{explainer}+blur`` of the sparsity study for its metrics, then, for a
    ``model``, the report card's reruns on its randomized versions and on noisy inputs
    (:func:`trust_arrays`) where the metric scores them (:data:`TRUST_SKIPS`)."""
    chosen = config["metrics"][metric].get("explainers")
    originals = [e for e in config.get("explainers", {}) if chosen is None or e in chosen]
    blurred = config.get("analysis", {}).get("blur", {}).get("metrics", [])
    derived = [] if model is None else [
        name for kind, names in trust_arrays(config, model).items() if metric not in TRUST_SKIPS[kind]
        for name in names]
    return originals + [derived_name(e, BLUR) for e in blur_explainers(config) if metric in blurred] + derived


# --- the report card's reruns (heatcheck.analysis.trust) ---------------------------------------

#: metrics that do not score the reruns of each kind, and why: masking robustness needs the
#: half-masked reruns of the very array it scores; Shapley bias compares with Shapley values of
#: the clean images, sampled once per model (a noisy image would need its own)
TRUST_SKIPS = {RANDOMIZED: ("masking_robustness", "mutual_verification"),
               NOISY: ("masking_robustness", "mutual_verification", "shapley_bias")}
_TRUST_SECTIONS = {RANDOMIZED: "randomization", NOISY: "noise"}


def trust_explainers(config: dict, kind: str) -> list[str]:
    """Explainers rerun for the report card's check ``kind`` (``randomized`` or ``noisy``):
    ``trust.<section>.explainers``, or every explainer but the model-free controls."""
    section = _TRUST_SECTIONS[kind]
    chosen = config.get("trust", {}).get(section, {}).get("explainers")
    explainers = list(config.get("explainers", {}))
    if chosen is None:
        return [e for e in explainers if not explainer_class(config, e).model_free]
    _check_names(f"trust.{section}.explainers", chosen, explainers)
    return list(chosen)


def randomization_steps(config: dict, model: str) -> list[int]:
    """Steps k of the cascading randomization of ``model``: 1 .. ``trust.randomization.layers``,
    or 1 .. its architecture's layers with parameters (``archs.ARCHS[arch]["layers"]``)."""
    layers = config.get("trust", {}).get("randomization", {}).get("layers")
    if layers is None:
        arch = config["models"][model].get("arch")
        if arch not in ARCHS:
            raise HeatcheckError(f"config key trust.randomization.layers must be given: model {model!r} is not a "
                                 f"built-in architecture, so its layers are known only once it is loaded")
        layers = ARCHS[arch]["layers"]
    return list(range(1, int(layers) + 1))


def noise_copies(config: dict) -> list[int]:
    """Copies k of the noise check: 0 .. ``trust.noise.draws`` - 1."""
    return list(range(int(config.get("trust", {}).get("noise", {}).get("draws", 0))))


def trust_arrays(config: dict, model: str) -> dict[str, list[str]]:
    """The derived map arrays of ``model`` the report card needs, by kind: ``{e}+randomized{k}``
    for each step, ``{e}+noisy{k}`` for each copy (none where no metric would score them)."""
    if not any(m not in TRUST_SKIPS[RANDOMIZED] for m in config.get("metrics", {})):
        return {RANDOMIZED: [], NOISY: []}
    steps = randomization_steps(config, model) if trust_explainers(config, RANDOMIZED) else []
    noisy = trust_explainers(config, NOISY)
    return {RANDOMIZED: [derived_name(e, RANDOMIZED, k) for e in trust_explainers(config, RANDOMIZED)
                         for k in steps],
            # the noise check ranks explainers: with fewer than 2 it has nothing to rank
            NOISY: [derived_name(e, NOISY, k) for e in noisy for k in noise_copies(config)] if len(noisy) >= 2 else []}


def _check_trust(config: dict) -> None:
    """Names in the trust section, the layers of each model's cascade, and enough explainers for
    the noise check to rank."""
    for model in config["models"]:
        arch = config["models"][model].get("arch")
        layers = config["trust"]["randomization"]["layers"]
        if trust_explainers(config, RANDOMIZED) and layers is not None and arch in ARCHS \
                and layers > ARCHS[arch]["layers"]:
            raise HeatcheckError(f"config key trust.randomization.layers = {layers} is more than the "
                                 f"{ARCHS[arch]['layers']} layers with parameters of model {model!r} ({arch})")
        trust_arrays(config, model)
    noisy = trust_explainers(config, NOISY)
    if noise_copies(config) and len(noisy) == 1 and config["trust"]["noise"]["explainers"] is not None:
        raise HeatcheckError(f"config key trust.noise.explainers names one explainer ({noisy[0]}); the noise "
                             f"check compares rankings of explainers: name at least 2, or set trust.noise.draws: 0")


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
    for section in ("analysis", "trust"):
        if section in config:
            config[section] = canonical(config[section])
    return config


def study(config: dict) -> list[tuple[str, str]]:
    """The (dataset, model) pairs of a validated config, in config order."""
    return [(d, m) for d, spec in config["datasets"].items() for m in spec["models"]]
