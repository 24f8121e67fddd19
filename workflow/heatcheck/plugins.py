"""Which class a config entry of ``explainers`` or ``metrics`` names: a built-in, a class given by
import path, or one an installed package registers. Torch-free (unless a user's module imports it).

``explainers: {mine: {class: "mypkg.attr:MyExplainer", ...}}`` (or ``"path/to/file.py:MyExplainer"``,
a file path relative to the working directory, where Snakemake runs) names a class directly; an
installed distribution may register classes under the entry-point groups ``heatcheck.explainers``
and ``heatcheck.metrics``, the entry point's name being the config name. A built-in name wins over
an entry point of the same name. Jobs resolve the class again from the same config entry (its
``class`` string travels in the params), never from an object of the Snakemake process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import threading
from importlib import metadata
from pathlib import Path

from . import HeatcheckError

#: entry-point group of each section
GROUPS = {"explainers": "heatcheck.explainers", "metrics": "heatcheck.metrics"}


def split_import(text: str) -> tuple[str, str]:
    """``"path/to/file.py:Name"`` or ``"package.module:Name"`` -> (module or file, name)."""
    where, sep, name = str(text).rpartition(":")
    if not sep or not where or not name.isidentifier():
        raise ValueError(text)
    return where, name


#: held while a user file is imported (see import_object)
_FILE_IMPORT = threading.RLock()


def is_file(where: str) -> bool:
    """Whether an import path's module part is a file (``.py`` or a path) rather than a module."""
    return where.endswith(".py") or "/" in where or "\\" in where


def import_object(text: str, what: str, noun: str = "factory", kind: str = "function"):
    """The object ``Name`` of ``"module:Name"`` / ``"file.py:Name"`` (a file relative to the working
    directory). A file is imported once per process, under a name made from its full path.

    Raises
    ------
    HeatcheckError
        Naming ``what`` (the config key): a malformed path, a missing file, a module that does
        not import (with its exception), a missing attribute.
    """
    try:
        where, name = split_import(text)
    except ValueError:
        raise HeatcheckError(f"{what} = {text!r} must be 'path/to/file.py:Name' or 'package.module:Name'") from None
    try:
        if is_file(where):
            path = Path(where).expanduser()
            if not path.is_file():
                raise HeatcheckError(f"{what}: {noun} file {path} does not exist (relative paths are from the working "
                                     f"directory, {Path.cwd()})")
            mod_name = f"heatcheck_{noun}_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]}"
            # jobs run as threads of one process: the first imports the file, the others wait for
            # it (a module in sys.modules is only half defined while its code runs)
            with _FILE_IMPORT:
                module = sys.modules.get(mod_name)
                if module is None:
                    spec = importlib.util.spec_from_file_location(mod_name, path)
                    module = importlib.util.module_from_spec(spec)
                    sys.modules[mod_name] = module  # dataclasses and pickling look modules up by name
                    try:
                        spec.loader.exec_module(module)
                    except BaseException:
                        del sys.modules[mod_name]
                        raise
        else:
            module = importlib.import_module(where)
    except HeatcheckError:
        raise
    except Exception as exc:  # any failure while importing user code
        raise HeatcheckError(f"{what}: {noun} module {where} does not import ({type(exc).__name__}: {exc})") from None
    obj = getattr(module, name, None)
    if obj is None:
        raise HeatcheckError(f"{what}: {where} has no {kind} {name!r}")
    return obj


def entry_points(section: str) -> dict:
    """Name -> entry point of the installed distributions' ``heatcheck.<section>`` group."""
    return {ep.name: ep for ep in metadata.entry_points(group=GROUPS[section])}


def registry(section: str):
    """The built-in registry and base class of ``explainers`` or ``metrics``."""
    if section == "explainers":
        from .explainers import EXPLAINERS, Explainer
        return EXPLAINERS, Explainer
    from .metrics import METRICS, Metric
    return METRICS, Metric


def method_class(section: str, name: str, params: dict | None = None) -> type:
    """The class of config entry ``<section>.<name>`` with ``params``.

    Parameters
    ----------
    section : ``explainers`` or ``metrics``
    name : the config name (also the wildcard and file stem)
    params : the entry; its ``class`` key, if any, is the import path of the class

    Raises
    ------
    HeatcheckError
        Naming the config key: the class does not import or is not a subclass of the section's
        base class, or the name is neither built in, nor an entry point, nor given a ``class``.
    """
    builtins, base = registry(section)
    key = f"config key {section}.{name}"
    where = (params or {}).get("class") if isinstance(params, dict) else None
    if where is not None:
        if not isinstance(where, str):
            raise HeatcheckError(f"{key}.class must be a string 'package.module:Class' or 'file.py:Class', got {where!r}")
        cls = import_object(where, f"{key}.class", noun="plugin", kind="class")
        origin = f"{key}.class = {where!r}"
    elif name in builtins:
        return builtins.get(name)
    else:
        found = entry_points(section).get(name)
        if found is None:
            raise HeatcheckError(
                f"unknown {key}: not a built-in {section[:-1]} (valid: {', '.join(builtins.names())}), not an "
                f"entry point of group {GROUPS[section]} (installed: {', '.join(entry_points(section)) or 'none'}), "
                f"and no class: given")
        try:
            cls = found.load()
        except Exception as exc:  # the distribution's module failed
            raise HeatcheckError(f"{key}: entry point {found.value!r} (group {GROUPS[section]}) does not load "
                                 f"({type(exc).__name__}: {exc})") from None
        origin = f"{key} (entry point {found.value!r})"
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise HeatcheckError(f"{origin} is {cls!r}, not a subclass of heatcheck.{section}.{base.__name__}; "
                             f"a plugin subclasses it and declares params, passes, needs"
                             + (" and higher_is_better" if section == "metrics" else ""))
    return cls


def is_builtin(section: str, name: str, params: dict | None) -> bool:
    """Whether the entry is a built-in (no ``class`` key and a registered name)."""
    return not (isinstance(params, dict) and "class" in params) and name in registry(section)[0]


def is_plugin(section: str, name: str, params: dict | None) -> bool:
    """Whether the entry names a plugin: a ``class`` key, or an installed entry point's name."""
    return not is_builtin(section, name, params) and (
        (isinstance(params, dict) and "class" in params) or name in entry_points(section))
