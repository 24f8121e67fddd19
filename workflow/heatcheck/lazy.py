"""Modules imported on first use, so that the method classes can be imported without torch.

The Snakefile, the config check and the cost report read the explainer and metric classes'
declarations (:mod:`heatcheck.methods`) on a login node; the classes' own modules compute with
torch. They name torch through these stand-ins, which import the real module the first time an
attribute is read (``torch.zeros``), i.e. when a job computes. Nothing may use torch while a
module is being imported (no ``nn.Module`` base class, no ``@torch.no_grad()`` decorator at
class or module level): :func:`no_grad` is the decorator to use instead.
"""

from __future__ import annotations

import functools
import importlib


class LazyModule:
    """A stand-in for the module ``name``: the first attribute read imports it.

    Unlike :class:`importlib.util.LazyLoader`, nothing is put in ``sys.modules`` before that, so
    ``"torch" in sys.modules`` still tells whether torch was used.
    """

    def __init__(self, name: str):
        self.__dict__["_name"] = name
        self.__dict__["_module"] = None

    def _load(self):
        module = self.__dict__["_module"]
        if module is None:
            module = self.__dict__["_module"] = importlib.import_module(self.__dict__["_name"])
        return module

    def __getattr__(self, attr):
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_name']!r}>"


torch = LazyModule("torch")
nn = LazyModule("torch.nn")
F = LazyModule("torch.nn.functional")
fx = LazyModule("torch.fx")


def no_grad(fn):
    """``@torch.no_grad()`` without importing torch when the function is defined."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch.no_grad():
            return fn(*args, **kwargs)

    return wrapper


def cached(fn):
    """A function of no arguments called once: for module-level objects built from torch
    (classes with an ``nn.Module`` base, sets of torch functions), made on first use."""
    return functools.cache(fn)
