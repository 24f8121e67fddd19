"""Config checks of ``models:`` entries and what the rules need from them, torch-free.

An entry names where its model comes from with exactly one key of :data:`ORIGINS`: a built-in
``arch`` (trained here, or torchvision's ImageNet weights), a ``torchvision`` or ``timm``
architecture by name with a local ``weights`` file, a ``factory`` function, or a ``torchscript``
file. Everything but a trained built-in is loaded by the ``load_model`` rule, never trained.
What only the built model can tell (its layers, whether CAM or LRP apply) is found by
``load_model`` once per model and written to ``models/{model}.json``
(:func:`heatcheck.models.facts.model_facts`), which ``init_saliency`` reads before any saliency
job of that model starts.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from . import HeatcheckError
from .archs import ARCHS
from .plugins import is_file as is_file_factory, split_import as split_factory  # noqa: F401  (re-exported)

#: the keys that say where a model comes from (exactly one per entry)
ORIGINS = ("arch", "torchvision", "timm", "factory", "torchscript")


def origin(spec: dict) -> tuple[str, str]:
    """(key, value) of the one :data:`ORIGINS` key of a model entry."""
    return next((k, spec[k]) for k in ORIGINS if spec.get(k) is not None)


def model_label(spec: dict) -> str:
    """A short name of what the entry builds: ``resnet8``, ``torchvision:resnet18``, ..."""
    key, value = origin(spec)
    return value if key == "arch" else f"{key}:{value}"


def model_files(spec: dict) -> list[str]:
    """Local files a model entry is built from (inputs of ``load_model``: a changed file reloads)."""
    files = [spec[k] for k in ("weights", "torchscript") if spec.get(k)]
    if spec.get("factory"):
        where, _ = split_factory(spec["factory"])
        if is_file_factory(where):
            files.append(where)
    return files


def check_model(name: str, spec: dict) -> None:
    """Refuse a ``models.<name>`` entry that cannot be built, naming the key; resolve ``source``.

    Raises
    ------
    HeatcheckError
        No or several origin keys, a user model set to train, a missing file, a malformed
        factory, timm not installed, a built-in without pretrained weights set to pretrained.
    """
    key = f"models.{name}"
    given = [k for k in ORIGINS if spec.get(k) is not None]
    if len(given) != 1:
        raise HeatcheckError(
            f"config key {key} needs exactly one of {', '.join(ORIGINS)} (where the model comes from); "
            f"it has {', '.join(given) or 'none'}")
    kind, value = given[0], spec[given[0]]
    if spec.get("source") is None:
        spec["source"] = "train" if kind == "arch" else "pretrained"
    if kind != "arch" and spec["source"] == "train":
        raise HeatcheckError(f"config key {key}.source = 'train': a {kind} model is loaded, not trained "
                             f"(only built-in architectures, key arch, are trained here); use source: pretrained")
    if kind == "arch" and spec["source"] == "pretrained" and not ARCHS[value]["torchvision"]:
        raise HeatcheckError(
            f"config key {key}.source = 'pretrained' needs a torchvision architecture; {value!r} has no "
            f"pretrained weights (valid: {', '.join(a for a, i in ARCHS.items() if i['torchvision'])}); "
            f"use source: train, or torchvision: <name> with a weights file")
    if kind in ("torchvision", "timm") and not spec.get("weights"):
        raise HeatcheckError(f"config key {key}.weights: a {kind} architecture needs a local weights file "
                             f"(state dict); heatcheck never downloads")
    if kind == "timm" and importlib.util.find_spec("timm") is None:
        raise HeatcheckError(f"config key {key}.timm = {value!r} needs the timm package: "
                             f"pip install 'heatcheck[timm]' (or pip install timm)")
    if kind == "factory":
        try:
            split_factory(value)
        except ValueError:
            raise HeatcheckError(f"config key {key}.factory = {value!r} must be 'path/to/file.py:function' "
                                 f"or 'package.module:function'") from None
    for k in ("weights", "torchscript"):
        if spec.get(k) and not Path(spec[k]).expanduser().is_file():
            raise HeatcheckError(f"config key {key}.{k}: file {spec[k]} does not exist")
    if kind == "factory":
        where, _ = split_factory(value)
        if is_file_factory(where) and not Path(where).expanduser().is_file():
            raise HeatcheckError(f"config key {key}.factory: file {where} does not exist")
    if (spec.get("mean") is None) != (spec.get("std") is None):
        raise HeatcheckError(f"config key {key}: give both mean and std (the model's input normalization), "
                             "or neither (the dataset's)")
    if spec["source"] == "train" and (spec.get("mean") is not None or spec.get("size") is not None):
        raise HeatcheckError(f"config key {key}: mean, std and size describe a loaded model's input; a model "
                             "trained here takes the dataset's images and normalization")


def check_models(config: dict) -> None:
    """:func:`check_model` on every entry, then what needs the datasets too: a model trained on a
    dataset without a train split, an explainer that needs global average pooling (CAM) on a built-in without + one linear
    layer (user models: checked by ``init_saliency`` from the facts ``load_model`` writes)."""
    from .data import kind_facts
    from .plugins import method_class

    gap_fc_explainers = [e for e, p in config.get("explainers", {}).items()
                         if method_class("explainers", e, p).needs_gap_fc]
    for name, spec in config["models"].items():
        check_model(name, spec)
    for dname, dspec in config["datasets"].items():
        facts = kind_facts(dspec)
        for m in dspec.get("models", config["models"]):
            spec = config["models"].get(m)
            if spec is None:
                continue  # named by a dataset but not defined: the caller's check says so
            if spec["source"] == "train" and facts.n_train == 0:
                raise HeatcheckError(
                    f"config key models.{m}.source = 'train', but dataset {dname!r} (kind "
                    f"{dspec['kind']!r}) has no train split; load a trained model instead (source: "
                    f"pretrained, torchvision, timm, factory or torchscript), or remove {m!r} from "
                    f"datasets.{dname}.models")
            for e in gap_fc_explainers:
                if spec.get("arch") and not ARCHS[spec["arch"]]["gap_fc"]:
                    raise HeatcheckError(
                        f"config key explainers.{e} is not applicable to model {m!r} "
                        f"(arch {spec['arch']!r}): {e} needs global average pooling followed by one "
                        f"linear layer; use gradcam, or remove {m!r} from datasets.{dname}.models")
