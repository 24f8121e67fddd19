"""Numeric precision, memory layout and compilation of every model pass.

One place applies the config's ``precision`` (fp32, bf16, fp16), ``channels_last`` and
``compile`` settings to a loaded model, so that every pass an explainer or metric makes goes
through them: the model's own ``forward`` is wrapped (in a subclass made on the fly), which keeps its
modules, hooks and attribute names (Grad-CAM's layer lookup, zennit's canonizers, guided
backprop's ReLU hooks) exactly as they are. Lower precision runs under ``torch.autocast`` and
the logits come back as float32, so that softmax, sorting and areas downstream stay in fp32.
With the defaults (fp32, contiguous, no compile) the model is returned untouched: results are
bit-identical to a plain model.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from . import HeatcheckError

#: precision name -> autocast dtype (None: plain fp32, no autocast)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def prepare_model(model: nn.Module, precision: str = "fp32", channels_last: bool = False,
                  compile: bool = False) -> nn.Module:
    """Apply the pass settings to ``model`` (in place) and return it.

    Parameters
    ----------
    model : nn.Module
        A classifier in eval mode, already on its device.
    precision : {"fp32", "bf16", "fp16"}
        Autocast dtype of every forward (and hence backward) pass; fp32 = no autocast.
    channels_last : bool
        Store weights and feed inputs in NHWC layout (faster convolutions on recent GPUs).
    compile : bool
        Compile the forward with ``torch.compile`` (one-off compile time per process).

    Returns
    -------
    nn.Module
        The same module object, with its ``forward`` wrapped where a setting asks for it.
    """
    if precision not in PRECISIONS:
        raise HeatcheckError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    if dtype is None and not channels_last and not compile:
        return model
    if channels_last:
        model.to(memory_format=torch.channels_last)
    base = type(model)
    # a subclass rather than an instance attribute: deep copies of the model (re-initialised
    # copies for the randomization test) keep calling their own weights
    inner = torch.compile(base.forward) if compile else base.forward

    def forward(self, x, *args, **kwargs):
        if channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if dtype is None:
            return inner(self, x, *args, **kwargs)
        device_type = x.device.type
        with torch.autocast(device_type=device_type, dtype=dtype):
            out = inner(self, x, *args, **kwargs)
        return out.float()

    model.__class__ = type(base.__name__, (base,), {
        "forward": forward, "__module__": base.__module__, "heatcheck_base": base,
        "heatcheck_passes": {"precision": precision, "channels_last": bool(channels_last), "compile": bool(compile)}})
    return model


@contextlib.contextmanager
def full_precision(model: nn.Module):
    """Run ``model`` as the plain fp32 module inside the block (for explainers that declare
    ``full_precision``: LRP's and DeepSHAP's rules compare outputs exactly or trace the model)."""
    base = getattr(type(model), "heatcheck_base", None)
    if base is None:
        yield model
        return
    patched = type(model)
    model.__class__ = base
    try:
        yield model
    finally:
        model.__class__ = patched
