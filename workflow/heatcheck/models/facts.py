"""What only a built model can tell: its output, the layer Grad-CAM / CAM / feature metrics use,
whether it ends in global average pooling + one linear layer, and which explainers apply.

:func:`model_facts` runs once per model in the ``load_model`` / ``train_model`` job (one forward
of two images with hooks on every module); the facts go into the checkpoint (so that every later
job finds the same layers) and the model's JSON (so that ``init_saliency``, torch-free, refuses
an explainer that cannot apply before any saliency job of that model starts).
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from .. import HeatcheckError

#: model -> {"layer": name or None, "fc": name or None}, for models whose facts are known
_STRUCTURE: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def set_structure(model: nn.Module, layer: str | None, fc: str | None) -> None:
    """Record the feature layer and the GAP linear layer of ``model`` (by module name)."""
    _STRUCTURE[model] = {"layer": layer, "fc": fc}


def structure(model: nn.Module) -> dict | None:
    """What :func:`set_structure` recorded for ``model`` (None: nothing)."""
    return _STRUCTURE.get(model)


def _is_map(t) -> bool:
    return isinstance(t, torch.Tensor) and t.ndim == 4 and t.shape[-1] * t.shape[-2] > 1


def _trace_calls(model: nn.Module, x: torch.Tensor):
    """Forward ``x`` with a hook on every submodule: (output, {name: calls}, [(name, input,
    output)] in order of completion)."""
    calls: dict[str, int] = {}
    events: list[tuple[str, object, object]] = []
    handles = []
    for name, m in model.named_modules():
        if not name:
            continue

        def hook(mod, inp, out, name=name):
            calls[name] = calls.get(name, 0) + 1
            events.append((name, inp[0] if inp else None, out))

        try:
            handles.append(m.register_forward_hook(hook))
        except RuntimeError:  # TorchScript submodules take no Python hooks
            pass
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    return out, calls, events


def _known_layer(model: nn.Module) -> str | None:
    """The papers' Grad-CAM layer of the architectures they used: the last residual stage of a
    ResNet, the last ReLU of a VGG/AlexNet/LeNet ``features`` block."""
    names = {id(m): n for n, m in model.named_modules()}
    for attr in ("layer4", "layer3"):
        if isinstance(getattr(model, attr, None), nn.Module):
            return names[id(getattr(model, attr))]
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential):
        relus = [m for m in features if isinstance(m, nn.ReLU)]
        if relus:
            return names[id(relus[-1])]
    return None


def find_layer(model: nn.Module, calls: dict, events: list) -> str | None:
    """The feature layer: a known architecture's (:func:`_known_layer`), else the last module to
    finish that outputs a spatial map (N, C, h, w), h * w > 1, and runs once per forward (hooks on
    a module run several times could not tell the calls apart); None if there is none."""
    known = _known_layer(model)
    if known is not None:
        return known
    maps = [n for n, _, out in events if _is_map(out) and calls.get(n) == 1]
    return maps[-1] if maps else None


def find_gap_fc(modules: dict, calls: dict, events: list, out: torch.Tensor, layer: str | None) -> str | None:
    """The linear layer CAM weighs the feature maps with: the last ``nn.Linear`` run once, whose
    output is the model's output and whose input is the spatial mean of ``layer``'s output
    (global average pooling, flattening and eval-mode dropout in between); None otherwise."""
    if layer is None:
        return None
    feats = next((o for n, _, o in events if n == layer), None)
    if not _is_map(feats):
        return None
    pooled = feats.mean((2, 3))
    for name, inp, o in reversed(events):
        if not isinstance(modules.get(name), nn.Linear):
            continue
        if calls.get(name) == 1 and isinstance(o, torch.Tensor) and o.shape == out.shape and torch.equal(o, out):
            if isinstance(inp, torch.Tensor) and inp.shape == pooled.shape and \
                    torch.allclose(inp, pooled, rtol=1e-4, atol=1e-5):
                return name
    return None


def model_facts(model: nn.Module, side: int, num_classes: int, what: str, layer: str | None = None,
                explainers: bool = True) -> dict:
    """Probe ``model`` once and record its structure (:func:`set_structure`).

    Parameters
    ----------
    model : the model in eval mode, on the CPU
    side : image side it is given (before any resize of its own)
    num_classes : the outputs it must have (the dataset's classes)
    what : how messages name the model entry
    layer : the configured feature layer (``models.<name>.layer``), or None to find it
    explainers : also say which registered explainers cannot apply, and why

    Returns
    -------
    dict
        ``num_classes``, ``layer``, ``gap_fc`` (the linear layer's name or None), ``torchscript``
        and ``refused`` (explainer -> reason).

    Raises
    ------
    HeatcheckError
        Naming ``what``: the forward fails, the output is not (N, num_classes), ``layer`` is
        not a module of the model.
    """
    x = torch.rand(2, 3, side, side)
    try:
        out, calls, events = _trace_calls(model, x)
    except Exception as exc:  # the user's forward failed
        raise HeatcheckError(f"{what}: the forward of a (2, 3, {side}, {side}) batch fails "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, num_classes):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise HeatcheckError(f"{what}: the output for 2 images is {shape}; it must be (N, classes) = "
                             f"(2, {num_classes}), the dataset's classes")
    modules = dict(model.named_modules())
    if layer is not None:
        if layer not in modules or not layer:
            raise HeatcheckError(f"{what}: layer {layer!r} (key layer) is not a module of the model; some valid "
                                 f"names: {', '.join([n for n in modules if n][-12:])}")
        if calls.get(layer, 0) > 1:
            raise HeatcheckError(f"{what}: layer {layer!r} (key layer) runs {calls[layer]} times per forward; hooks "
                                 f"cannot tell its calls apart: name a module that runs once")
    else:
        layer = find_layer(model, calls, events)
    fc = find_gap_fc(modules, calls, events, out, layer)
    set_structure(model, layer, fc)
    facts = {"num_classes": int(num_classes), "layer": layer, "gap_fc": fc,
             "torchscript": isinstance(model, torch.jit.ScriptModule)}
    if explainers:
        facts["refused"] = refusals(model, x)
    return facts


def refusals(model: nn.Module, sample: torch.Tensor) -> dict[str, str]:
    """Explainer name -> why it cannot explain ``model``, for every registered explainer that
    cannot (each class's :meth:`~heatcheck.explainers.base.Explainer.refusal`)."""
    from ..explainers import EXPLAINERS

    out = {}
    for name in EXPLAINERS.names():
        why = EXPLAINERS.get(name).refusal(model, sample)
        if why:
            out[name] = why
    return out
