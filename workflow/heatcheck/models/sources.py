"""Models from outside the registry: torchvision or timm architectures by name, factories, and
TorchScript files, each with local weights; nothing is downloaded.

:func:`build_user_model` builds one from a ``models.<name>`` entry (the ``load_model`` rule);
the checkpoint keeps its :func:`builder` so that later jobs rebuild the same module
(:func:`rebuild`) and load the checkpoint's state dict into it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .. import HeatcheckError
from ..model_specs import is_file_factory, origin, split_factory
from ..plugins import import_object


def builder(spec: dict) -> dict:
    """What :func:`rebuild` needs to build the entry's module again (stored in the checkpoint)."""
    key, value = origin(spec)
    out = {key: value}
    if key == "factory":
        out["factory_args"] = dict(spec.get("factory_args") or {})
        where, _ = split_factory(value)
        if is_file_factory(where):  # later jobs may run elsewhere in the tree: keep the full path
            out[key] = f"{Path(where).expanduser().resolve()}:{split_factory(value)[1]}"
    if key == "torchscript":
        out[key] = str(Path(value).expanduser().resolve())
    return out


def _factory(text: str, what: str):
    fn = import_object(text, what)
    if not callable(fn):
        raise HeatcheckError(f"{what}: {text} is not a function")
    return fn


def rebuild(build: dict, num_classes: int, what: str = "model") -> nn.Module:
    """The module a :func:`builder` describes, with fresh (or the factory's own) weights.

    Raises
    ------
    HeatcheckError
        Naming ``what``: an unknown architecture, a factory that does not import, fails or
        returns something that is not an ``nn.Module``, a TorchScript file that does not load.
    """
    if "torchvision" in build:
        import torchvision

        name = build["torchvision"]
        known = torchvision.models.list_models(module=torchvision.models)
        if name not in known:
            raise HeatcheckError(f"{what}: {name!r} is not a torchvision classification architecture; "
                                 f"valid choices include {', '.join(sorted(known)[:12])}, ... "
                                 f"(torchvision.models.list_models())")
        return torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    if "timm" in build:
        try:
            import timm
        except ImportError:
            raise HeatcheckError(f"{what}: needs the timm package: pip install 'heatcheck[timm]'") from None
        name = build["timm"]
        if name not in timm.list_models():
            raise HeatcheckError(f"{what}: {name!r} is not a timm architecture (timm.list_models())")
        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    if "factory" in build:
        fn = _factory(build["factory"], what)
        try:
            model = fn(**build.get("factory_args", {}))
        except Exception as exc:  # the user's code failed
            raise HeatcheckError(f"{what}: factory {build['factory']} raised {type(exc).__name__}: {exc}") from None
        if not isinstance(model, nn.Module):
            raise HeatcheckError(f"{what}: factory {build['factory']} returned a {type(model).__name__}, "
                                 f"not a torch.nn.Module")
        return model
    if "torchscript" in build:
        path = Path(build["torchscript"])
        try:
            return torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # torch raises RuntimeError/ValueError for foreign files
            raise HeatcheckError(f"{what}: TorchScript file {path} does not load "
                                 f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    raise HeatcheckError(f"{what}: the checkpoint says neither torchvision, timm, factory nor torchscript")


def read_state_dict(path, what: str) -> dict:
    """A state dict from a weights file (a bare one, or under ``state_dict`` / ``model``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise HeatcheckError(f"{what}: weights file {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors of several types
        raise HeatcheckError(f"{what}: weights file {path} is unreadable: {exc}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HeatcheckError(f"{what}: weights file {path} holds no state dict (name -> tensor)")
    return state


def load_weights(model: nn.Module, state: dict, what: str, source) -> None:
    """``model.load_state_dict(state)`` (strict), refusing a mismatch with the entry named."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise HeatcheckError(f"{what}: weights {source} do not load into the declared architecture: "
                             f"{' '.join(lines[:3])[:600]}") from None


def build_user_model(spec: dict, num_classes: int, what: str) -> tuple[nn.Module, dict]:
    """The entry's module with its weights, and its :func:`builder`.

    Parameters
    ----------
    spec : validated ``models.<name>`` entry (not a built-in ``arch``)
    num_classes : the dataset's classes (what torchvision and timm architectures are built with)
    what : how messages name the entry, e.g. ``"model 'mine' (models.mine)"``
    """
    build = builder(spec)
    model = rebuild(build, num_classes, what)
    if spec.get("weights"):
        load_weights(model, read_state_dict(spec["weights"], what), what, spec["weights"])
    return model, build
