"""The metrics' report card: how far each metric can be trusted, from the long-format score table
(:mod:`heatcheck.tables`) and the reliability tables (:mod:`.reliability`). Torch-free.

Five checks, each a number per (model, metric, configuration) oriented so that **higher means
more trustworthy**, with a 95% percentile bootstrap CI over images (:func:`heatcheck.tables.bootstrap_ci`
of per-image values):

(a) :func:`control_separation` - does the metric prefer real explainers to the ``random`` and
    ``edge`` controls? Per image, the share of (real explainer, control) pairs in which the real
    explainer scores better (ties count 1/2): the AUROC of real vs control scores compared within
    images. 1 = always prefers the real explainers, 0.5 = cannot tell them apart.
(b) :func:`randomization_reactivity` - does the metric punish maps of a randomized model
    (Adebayo et al. 2018)? Per image, the mean over explainers of the sign of (score of the map
    of the trained model - score of ``{explainer}+randomized{k}``), in the metric's direction:
    the paired rank-biserial correlation. 1 = always scores the randomized map worse, 0 = does not
    react (a metric that ignores the map), -1 = prefers the randomized maps.
(c) :func:`noise_resilience` - is the metric's ranking of the explainers stable under an input
    noise that leaves the model's predictions unchanged (MetaQuantus' minor perturbation)?
    Per image, Kendall's tau-b between the explainers' scores on the clean image and on the noisy
    copy ``{explainer}+noisy{k}`` (averaged over copies k). 1 = same order.
(d) :func:`ground_truth_agreement` - does the metric rank the explainers as relevance rank
    accuracy does (CLEVR-XAI, against the object masks)? Per image, Kendall's tau-b between the
    two metrics' scores of the explainers.
(e) :func:`reliability` - internal consistency (its configurations agree, first paper's Table 3)
    and inter-method agreement, read from ``internal_consistency.csv`` and ``inter_method.csv``.

Why per image, not over the explainers' mean scores: a mean-score ranking averages the metric's
per-image verdicts before comparing them, so a metric whose verdicts on each image flip at
random under a perturbation still looks stable once enough images are averaged; the question is
whether the metric's judgement of an explanation survives. Per-image values also give the CI
over images directly. Kendall's tau-b (not Spearman) because the rankings are short (about ten
explainers), have ties (binary metrics such as the pointing game), and tau-b's value has a
direct reading: the share of concordant minus discordant explainer pairs.

Derived map arrays are named ``{explainer}+{kind}{k}`` (:func:`derived_name`); the controls and
the derived copies are never "real explainers".
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from ..derived import DERIVED_KINDS, NOISY, RANDOMIZED, derived_name, parse_derived  # noqa: F401  (re-exported)
from ..explainers import EXPLAINERS
from ..tables import bootstrap_ci
from .reliability import NOT_CONFIGURATIONS, collapse_seeds, primary_table

#: the model-free control explainers (their classes' ``model_free`` declaration)
CONTROLS = tuple(n for n in EXPLAINERS.names() if EXPLAINERS.get(n).model_free)
#: the reference of the ground-truth check
REFERENCE = "relevance_rank"
COLUMNS = ["model", "metric", "config", "check", "detail", "value", "ci_low", "ci_high", "n", "reason"]


def is_real(name: str, controls=CONTROLS) -> bool:
    """An original (not derived) explainer that is not a control."""
    return parse_derived(name)[1] is None and name not in controls


# --------------------------------------------------------------------------------------------
# per-image statistics


def preference(better, worse) -> np.ndarray:
    """Per row (image), the mean over columns (pairs) of ``1[b > w] + 1/2 1[b == w]``, pairs with
    a missing value left out; NaN for a row without any pair. Inputs are oriented scores
    (higher = better), shape (images, pairs)."""
    d = np.asarray(better, dtype=float) - np.asarray(worse, dtype=float)
    ok = np.isfinite(d)
    h = np.where(ok, (np.sign(np.where(ok, d, 0)) + 1) / 2, 0.0)
    n = ok.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, h.sum(1) / n, np.nan)


def kendall_rows(a, b) -> np.ndarray:
    """Kendall's tau-b between rows of ``a`` and ``b`` (images x items), per row: items missing in
    either are left out; NaN where a row has no untied pair in ``a`` or in ``b``.

    tau-b = sum_{i<j} s^a_ij s^b_ij / sqrt(sum (s^a_ij)^2 sum (s^b_ij)^2), s_ij = sign(x_i - x_j):
    scipy's ``kendalltau`` (variant b) on each row.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    i, j = np.triu_indices(a.shape[1], 1)
    ok = np.isfinite(a[:, i]) & np.isfinite(a[:, j]) & np.isfinite(b[:, i]) & np.isfinite(b[:, j])
    sa = np.where(ok, np.sign(np.nan_to_num(a[:, i] - a[:, j])), 0.0)
    sb = np.where(ok, np.sign(np.nan_to_num(b[:, i] - b[:, j])), 0.0)
    den = np.sqrt((sa * sa).sum(1) * (sb * sb).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (sa * sb).sum(1) / np.where(den > 0, den, 1), np.nan)


# --------------------------------------------------------------------------------------------
# table plumbing


def _one_score(scores: pd.DataFrame, primary: dict | None, all_configs: bool) -> pd.DataFrame:
    """One score per (model, explainer, metric, config, image): seeds averaged, and the primary
    configuration of each metric unless ``all_configs``."""
    s = collapse_seeds(scores)
    return s if all_configs else primary_table(s, primary, collapsed=True)


def _oriented(g: pd.DataFrame) -> pd.DataFrame:
    """image_index x explainer scores of one (model, metric, config), higher = better."""
    wide = g.pivot_table(index="image_index", columns="explainer", values="score", aggfunc="mean")
    return wide * (1.0 if bool(g["higher_is_better"].iloc[0]) else -1.0)


def _row(key, check: str, detail: str, per_image: np.ndarray | None, n_boot: int, seed: int, level: float,
         reason: str = "") -> dict:
    v = np.asarray(per_image if per_image is not None else [], dtype=float)
    v = v[np.isfinite(v)]
    model, metric, config = key
    if not len(v):
        return {"model": model, "metric": metric, "config": config, "check": check, "detail": detail,
                "value": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0,
                "reason": reason or "no image with a defined value"}
    lo, hi = bootstrap_ci(v, n_boot, seed, level)
    return {"model": model, "metric": metric, "config": config, "check": check, "detail": detail,
            "value": float(v.mean()), "ci_low": lo, "ci_high": hi, "n": len(v), "reason": reason}


def _groups(s: pd.DataFrame):
    for key, g in s.groupby(["model", "metric", "config"], sort=False):
        yield key, _oriented(g)


# --------------------------------------------------------------------------------------------
# (a)-(d)


def control_separation(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                       primary: dict | None = None, all_configs: bool = False,
                       controls=CONTROLS) -> pd.DataFrame:
    """(a) Within-image AUROC of the real explainers' scores against each control's (``detail``
    = the control) and against both (``all``); 1 = the metric always prefers real explainers."""
    rows = []
    for key, wide in _groups(_one_score(scores, primary, all_configs)):
        real = [e for e in wide.columns if is_real(e, controls)]
        present = [c for c in controls if c in wide.columns]
        if not real or not present:
            why = "no real explainer scored" if not real else f"no control ({', '.join(controls)}) scored"
            rows.append(_row(key, "control_separation", "all", None, n_boot, seed, level, why))
            continue
        r = wide[real].to_numpy()
        per_control = {}
        for c in present:
            per_control[c] = preference(r, np.repeat(wide[[c]].to_numpy(), len(real), 1))
            rows.append(_row(key, "control_separation", c, per_control[c], n_boot, seed, level))
        pooled = preference(np.tile(r, len(present)), np.repeat(wide[present].to_numpy(), len(real), 1))
        rows.append(_row(key, "control_separation", "all", pooled, n_boot, seed, level))
    return pd.DataFrame(rows, columns=COLUMNS)


def _copies(wide: pd.DataFrame, kind: str, controls) -> dict[int, list[tuple[str, str]]]:
    """(original, derived) column pairs of each copy/step k of ``kind``, real explainers only."""
    out: dict[int, list[tuple[str, str]]] = {}
    for col in wide.columns:
        base, kd, k = parse_derived(col)
        if kd == kind and base in wide.columns and is_real(base, controls):
            out.setdefault(-1 if k is None else k, []).append((base, col))
    return dict(sorted(out.items()))


def randomization_reactivity(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                             primary: dict | None = None, all_configs: bool = False,
                             controls=CONTROLS) -> pd.DataFrame:
    """(b) Per randomization step k (``detail`` = ``step k``): the paired rank-biserial correlation
    of the trained model's maps' scores against ``{explainer}+randomized{k}``'s, per image averaged
    over the real explainers; 1 = the metric always punishes the randomized maps."""
    rows = []
    for key, wide in _groups(_one_score(scores, primary, all_configs)):
        steps = _copies(wide, RANDOMIZED, controls)
        if not steps:
            rows.append(_row(key, "randomization_reactivity", "", None, n_boot, seed, level,
                             "no +randomized maps scored"))
        for k, pairs in steps.items():
            orig = wide[[o for o, _ in pairs]].to_numpy()
            rand = wide[[d for _, d in pairs]].to_numpy()
            rows.append(_row(key, "randomization_reactivity", f"step {k}", 2 * preference(orig, rand) - 1,
                             n_boot, seed, level))
    return pd.DataFrame(rows, columns=COLUMNS)


def noise_resilience(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                     primary: dict | None = None, all_configs: bool = False,
                     controls=CONTROLS) -> pd.DataFrame:
    """(c) Per image, Kendall's tau-b between the real explainers' scores on the clean image and
    on each noisy copy ``{explainer}+noisy{k}``, averaged over the copies; 1 = same ranking."""
    rows = []
    for key, wide in _groups(_one_score(scores, primary, all_configs)):
        copies = _copies(wide, NOISY, controls)
        taus = [kendall_rows(wide[[o for o, _ in p]].to_numpy(), wide[[d for _, d in p]].to_numpy())
                for p in copies.values() if len(p) >= 2]
        if not taus:
            rows.append(_row(key, "noise_resilience", "", None, n_boot, seed, level,
                             "no +noisy maps of at least 2 real explainers scored"))
            continue
        stack = np.stack(taus)  # (copies, images)
        ok = np.isfinite(stack)
        count = ok.sum(0)
        per_image = np.where(count > 0, np.where(ok, stack, 0).sum(0) / np.maximum(count, 1), np.nan)
        rows.append(_row(key, "noise_resilience", f"{len(taus)} noisy copies", per_image, n_boot, seed, level))
    return pd.DataFrame(rows, columns=COLUMNS)


def ground_truth_agreement(scores: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                           primary: dict | None = None, all_configs: bool = False,
                           reference: str = REFERENCE, controls=CONTROLS) -> pd.DataFrame:
    """(d) Per image, Kendall's tau-b between the metric's and the ``reference`` metric's
    (relevance rank accuracy) scores of the real explainers; 1 = the same ranking as the ground
    truth. The reference enters with its primary configuration (or the mean of its configurations)."""
    s = _one_score(scores, primary, all_configs)
    ref_rows = primary_table(s[s["metric"] == reference], primary, collapsed=True)
    refs = {m: _oriented(g) for m, g in ref_rows.groupby("model", sort=False)}
    rows = []
    for key, wide in _groups(s[s["metric"] != reference]):
        ref = refs.get(key[0])
        if ref is None:
            rows.append(_row(key, "ground_truth_agreement", reference, None, n_boot, seed, level,
                             f"{reference} not scored for this model"))
            continue
        real = [e for e in wide.columns if is_real(e, controls) and e in ref.columns]
        images = wide.index.intersection(ref.index)
        if len(real) < 2 or not len(images):
            rows.append(_row(key, "ground_truth_agreement", reference, None, n_boot, seed, level,
                             f"fewer than 2 real explainers scored by both this metric and {reference}"))
            continue
        tau = kendall_rows(wide.loc[images, real].to_numpy(), ref.loc[images, real].to_numpy())
        rows.append(_row(key, "ground_truth_agreement", reference, tau, n_boot, seed, level))
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------------------------
# (e)


def reliability(internal: pd.DataFrame | None, inter: pd.DataFrame | None, controls=CONTROLS) -> pd.DataFrame:
    """(e) From the reliability tables, per (model, metric):

    - ``internal_consistency``: the weakest pair of its configurations, from the rows averaged over
      explainers (``explainer == "mean"``), with that pair's CI; ``detail`` names the pair and how
      many pairs there are. A metric with one configuration has no row.
    - ``inter_method``: the mean sign-aligned correlation with the other metrics over the real
      explainers. It is a mean of table rows, whose resamples the table does not keep: no CI
      (``reason`` says so); ``detail`` counts the rows whose CI lies above 0.

    ``config`` is ``all``: both are properties of the metric, not of one configuration.
    """
    rows = []
    if internal is not None and len(internal):
        for (model, metric), g in internal[internal["explainer"] == "mean"].groupby(["model", "metric"], sort=False):
            g = g[np.isfinite(g["value"])]
            if not len(g):
                continue
            w = g.loc[g["value"].idxmin()]
            rows.append({"model": model, "metric": metric, "config": "all", "check": "internal_consistency",
                         "detail": f"{w['config_a']} vs {w['config_b']} (lowest of {len(g)} pairs)",
                         "value": float(w["value"]), "ci_low": w["ci_low"], "ci_high": w["ci_high"],
                         "n": int(w["n"]), "reason": ""})
    if inter is not None and len(inter):
        t = inter[inter["explainer"].map(lambda e: is_real(e, controls))]
        both = pd.concat([t.rename(columns={"metric_a": "metric"}), t.rename(columns={"metric_b": "metric"})])
        for (model, metric), g in both.groupby(["model", "metric"], sort=False):
            g = g[np.isfinite(g["value"])]
            if not len(g):
                continue
            above = int((g["ci_low"] > 0).sum())
            rows.append({"model": model, "metric": metric, "config": "all", "check": "inter_method",
                         "detail": f"mean of {len(g)} (explainer, metric) pairs; {above} with CI above 0",
                         "value": float(g["value"].mean()), "ci_low": np.nan, "ci_high": np.nan, "n": len(g),
                         "reason": "mean over rows of inter_method.csv (per-row CIs there)"})
    return pd.DataFrame(rows, columns=COLUMNS)


def trust_report(scores: pd.DataFrame, internal: pd.DataFrame | None = None, inter: pd.DataFrame | None = None,
                 n_boot: int = 1000, seed: int = 0, level: float = 0.95, primary: dict | None = None,
                 all_configs: bool = False, reference: str = REFERENCE, controls=CONTROLS) -> pd.DataFrame:
    """All five checks in one long table (columns :data:`COLUMNS`), higher = more trustworthy."""
    kw = {"n_boot": n_boot, "seed": seed, "level": level, "primary": primary, "all_configs": all_configs,
          "controls": controls}
    # metrics whose "configurations" name other explainers (mutual verification's pairs) grade
    # pairs of explainers, not maps: no card of their own
    scores = scores[~scores["metric"].isin(NOT_CONFIGURATIONS)]
    if inter is not None and len(inter):
        inter = inter[~inter["metric_a"].isin(NOT_CONFIGURATIONS) & ~inter["metric_b"].isin(NOT_CONFIGURATIONS)]
    parts = [control_separation(scores, **kw), randomization_reactivity(scores, **kw), noise_resilience(scores, **kw),
             ground_truth_agreement(scores, reference=reference, **kw), reliability(internal, inter, controls)]
    return pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=COLUMNS)


#: the report card's columns, in order: one cell per (model, metric) and check
CHECKS = ("control_separation", "randomization_reactivity", "noise_resilience", "ground_truth_agreement",
          "internal_consistency", "inter_method")


def card_cells(report: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, metric, check) of a :func:`trust_report` table, the one the figure and
    the summary show: control separation against both controls (``all``), randomization
    reactivity at the deepest step scored (the most randomized model), the others as they are."""
    t = report[report["check"].isin(CHECKS)].copy()
    t["_step"] = t["detail"].str.extract(r"^step (-?\d+)$", expand=False).astype(float)
    keep = (t["check"] != "control_separation") | (t["detail"] == "all")
    t = t[keep].sort_values("_step", kind="stable", na_position="first")
    t = t.drop_duplicates(["model", "metric", "check"], keep="last").drop(columns="_step")
    t["_c"] = t["check"].map({c: i for i, c in enumerate(CHECKS)})
    order = {m: i for i, m in enumerate(dict.fromkeys(report["metric"]))}
    t["_m"] = t["metric"].map(order)
    return t.sort_values(["model", "_m", "_c"], kind="stable").drop(columns=["_c", "_m"]).reset_index(drop=True)
