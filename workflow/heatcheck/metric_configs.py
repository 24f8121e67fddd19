"""What a metric's parameters expand into, torch-free: its configurations and their names.

The built-in metric classes declare their configurations with these (``Metric.configs``,
``Metric.config_key``), so the ``config`` column of the score tables, the analyses that average
the uniform-baseline seeds and the config check of ``analysis.primary`` (run by the Snakefile,
which never imports torch) read one declaration. Parameters are filled with the classes'
declared defaults (``Metric.fill``) before they get here.
"""

from __future__ import annotations

import itertools
import math
import re

#: the k (percent of players) of eq. (3) of the second paper evaluated by default
DEFAULT_KS = (10, 30, 50, 70, 90)
#: the tau of eq. (4) evaluated by default (paper: 0.05 in the text, 0.1 in the supplement)
DEFAULT_TAUS = (0.05, 0.1)
#: the halves of eq. (5), in the order of ``heatcheck.metrics.objectiveness.half_masks``
HALVES = ("left", "right", "top", "bottom")
#: the uniform-baseline seed at the end of an insertion/deletion configuration name
#: (``uniform+pixel+s2``); the analyses average the seeds into ``uniform+pixel``
SEED_SUFFIX = re.compile(r"\+s\d+$")


def default_key(cfg: dict) -> str:
    """A short name of a configuration: its axis values joined by ``+`` (``default`` if none)."""
    return "+".join(str(v) for v in cfg.values()) or "default"


def average_drop(params: dict) -> list[dict]:
    """``real`` (the map itself), then the map binarized at each of ``percentiles``."""
    real = [{"binarize": "real"}] if params["real"] else []
    return real + [{"binarize": f"p{int(q) if float(q).is_integer() else q}"} for q in params["percentiles"]]


def pixel_perturbation(params: dict) -> list[dict]:
    """Insertion / deletion: granularity x baseline, the uniform baseline once per seed."""
    out = []
    for gran, base in itertools.product(params["granularities"], params["baselines"]):
        seeds = range(int(params["uniform_seeds"])) if base == "uniform" else [0]
        out += [{"baseline": base, "granularity": gran, "seed": s} for s in seeds]
    return out


def pixel_perturbation_key(cfg: dict) -> str:
    """``mean+pixel``, ``uniform+region+s2``: the seed only where there are several."""
    key = f"{cfg['baseline']}+{cfg['granularity']}"
    return key + (f"+s{cfg['seed']}" if cfg["baseline"] == "uniform" else "")


def shapley_bias_ks(params: dict) -> list:
    return list(params["ks"])


def shapley_bias(params: dict) -> list[dict]:
    """Side (top, bottom) x k in ``ks``."""
    return [{"side": side, "k": k} for side in ("top", "bottom") for k in shapley_bias_ks(params)]


def unexplainable_features_taus(params: dict) -> list[float]:
    return [float(t) for t in params["taus"]]


def unexplainable_features(params: dict) -> list[dict]:
    return [{"tau": t} for t in unexplainable_features_taus(params)]


def masking_robustness(params: dict) -> list[dict]:
    return [{"half": h} for h in HALVES]


def average_drop_primary(params: dict, choice: str) -> dict:
    """Average Drop scoring ``real`` or one percentile ``p{q}`` alone."""
    return {**params, "real": choice == "real", "percentiles": [] if choice == "real" else [float(choice[1:])]}


def pixel_perturbation_primary(params: dict, choice: str) -> dict:
    """Insertion / deletion scoring one baseline x granularity pair (all its uniform seeds)."""
    baseline, granularity = choice.split("+")[:2]
    return {**params, "baselines": [baseline], "granularities": [granularity]}


def unexplainable_features_primary(params: dict, choice: str) -> dict:
    return {**params, "taus": [float(choice)]}


def primary_config(metric: str, params: dict | None = None, overrides: dict | None = None) -> str:
    """The configuration standing for ``metric`` where it is one column among others: the
    ``analysis.primary`` override, else its class's declaration (``Metric.primary``: ``mean``,
    the mean over its configurations, unless the class names one)."""
    if metric in (overrides or {}):
        return str(overrides[metric])
    from . import HeatcheckError
    from .plugins import method_class

    try:
        return str(method_class("metrics", metric, params or {}).primary)
    except HeatcheckError:  # a plugin's table read without its config entry: the mean
        return "mean"


def primary_params(metric: str, params: dict, overrides: dict | None = None) -> dict:
    """``params`` reduced to what scores the metric's primary configuration
    (:func:`primary_config`), the only one the report card reads of the maps rerun for it: the
    same configuration names, a fraction of the passes (insertion/deletion 1 of 6 baseline x
    granularity pairs), as the metric's class declares (``Metric.primary_params``). A metric
    whose primary is the mean of its configurations keeps them all.
    """
    from .plugins import method_class

    choice = primary_config(metric, params, overrides)
    keys = [SEED_SUFFIX.sub("", k) for k in config_keys(metric, params)]
    if choice == "mean" or choice not in keys:
        return dict(params)
    return method_class("metrics", metric, params).primary_params(dict(params), choice)


def config_keys(metric: str, params: dict, explainers=()) -> list[str]:
    """Names of the configurations metric ``metric`` scores with ``params`` (the ``config`` column
    of its score table; its class's declaration); for a metric that compares explainers
    (``per_explainer`` false: mutual verification), the ``explainers`` it compares with."""
    from .plugins import method_class

    cls = method_class("metrics", metric, params)
    if not cls.per_explainer:
        return list(explainers)
    return [cls.config_key(c) for c in cls.configs(cls.fill(params))]


def primary_choices(metric: str, params: dict, explainers=()) -> list[str]:
    """What ``analysis.primary`` may name for ``metric``: ``mean`` (over its configurations) or
    one configuration, the uniform-baseline seeds averaged (``uniform+pixel``)."""
    keys = [SEED_SUFFIX.sub("", k) for k in config_keys(metric, params, explainers)]
    return ["mean", *dict.fromkeys(keys)]


def subset_size(k: float, n_players: int) -> int:
    """``|S| = round(k / 100 * P)`` of eq. (3), half up, at least 1 and at most P."""
    return int(min(n_players, max(1, math.floor(float(k) * n_players / 100.0 + 0.5))))
