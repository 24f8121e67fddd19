"""Model registry: torchvision's ImageNet zoo and CIFAR-style nets, checkpoints, layer lookup.

Models take *normalized* images (``(x - mean) / std``), as in both papers: explainers and
metrics work in that space (zero = the mean). The constants are the model's own where its config
entry gives them (an ImageNet model on other data), else the dataset's; the checkpoint holds
them and :func:`model_input` is the one function that applies them.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import HeatcheckError, __version__
from ..store import Recent, file_checksum, file_stamp, written  # file_checksum: re-exported
from ..archs import ARCHS
from ..registry import Registry
from . import cifar, zoo
from .facts import _known_layer, set_structure, structure

#: arch name -> builder ``f(num_classes, input_size) -> nn.Module``
MODELS: Registry = Registry("model architecture")


def _register(name, fn):
    MODELS.register(name)(type(name, (), {"build": staticmethod(fn)}))


_register("lenet", lambda num_classes, input_size: cifar.LeNet(num_classes, input_size))
_register("lenet_gap", lambda num_classes, input_size: cifar.LeNetGAP(num_classes, input_size))
for _d in (8, 20, 32, 44, 56):
    _register(f"resnet{_d}", partial(lambda d, num_classes, input_size: cifar.CifarResNet(d, num_classes, input_size), _d))
for _a in zoo.WEIGHTS:
    _register(_a, partial(lambda a, num_classes, input_size: zoo.build(a, num_classes), _a))


def _no_inplace(model: nn.Module) -> nn.Module:
    # hook-based explainers (guided backprop, DeepSHAP, LRP) need out-of-place ReLUs
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return model


def build_model(arch: str, num_classes: int, input_size: int) -> nn.Module:
    """An untrained ``arch`` with ``num_classes`` outputs for ``input_size`` square images."""
    return _no_inplace(MODELS.get(arch).build(num_classes=num_classes, input_size=input_size))


def last_conv(model: nn.Module) -> nn.Module:
    """The module whose output is the last convolutional feature map (Grad-CAM's layer).

    The layer recorded by :func:`heatcheck.models.facts.model_facts` (``models.<name>.layer``,
    or the one it found) where the model has been probed; else, for the papers' architectures,
    the last residual stage of a ResNet (its output is what the final average pooling sees) and
    the last ReLU of ``features`` for VGG/AlexNet/LeNet.
    """
    known = structure(model)
    name = known["layer"] if known else _known_layer(model)
    if name is None:
        raise HeatcheckError(f"no convolutional layer known for {type(model).__name__}")
    return dict(model.named_modules())[name]


def gap_fc(model: nn.Module) -> nn.Linear | None:
    """The single linear layer after global average pooling (CAM), or None if the model lacks one."""
    known = structure(model)
    if known:
        return dict(model.named_modules())[known["fc"]] if known["fc"] else None
    fc = getattr(model, "fc", None)
    return fc if isinstance(fc, nn.Linear) and isinstance(getattr(model, "avgpool", None), nn.AdaptiveAvgPool2d) else None


def save_checkpoint(path, model: nn.Module, arch: str, num_classes: int, input_size: int,
                    mean, std, extra: dict | None = None) -> None:
    """Write a checkpoint that :func:`load_checkpoint` rebuilds without other information.

    ``mean`` and ``std`` are the normalization the model takes (:func:`model_input`). ``extra``
    may hold ``builder`` (how to build a model from outside the registry,
    :func:`heatcheck.models.sources.builder`), ``facts`` (:func:`heatcheck.models.facts.model_facts`)
    and ``model_size`` (the side the model takes, when images are resized in front of it).

    Written to a temporary sibling and renamed into place: an interrupted write leaves no
    half-written checkpoint, and every checkpoint written is a new file (which is how
    :func:`load_checkpoint`'s per-process reads tell a rewritten checkpoint from the one they read).
    """
    with written(path) as fh:
        torch.save({
            "arch": arch, "num_classes": int(num_classes), "input_size": int(input_size),
            "mean": [float(v) for v in mean], "std": [float(v) for v in std],
            "state_dict": model.state_dict(), "heatcheck_version": __version__, **(extra or {}),
        }, fh)


def load_checkpoint(path, arch: str | None = None, num_classes: int | None = None) -> tuple[nn.Module, dict]:
    """Rebuild a model from a heatcheck checkpoint, in eval mode.

    Parameters
    ----------
    path : checkpoint file
    arch, num_classes : optional expectations; a checkpoint of another architecture or class
        count is an error naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise HeatcheckError(f"model checkpoint {path} does not exist")
    meta = _read_checkpoint(path)
    meta = dict(meta) if isinstance(meta, dict) else meta  # the caller's own (the read is shared)
    if not isinstance(meta, dict) or "state_dict" not in meta or "arch" not in meta:
        raise HeatcheckError(f"{path} is not a heatcheck checkpoint (no 'arch'/'state_dict')")
    if arch is not None and meta["arch"] != arch:
        raise HeatcheckError(f"checkpoint {path} holds a {meta['arch']!r}, expected {arch!r}")
    if num_classes is not None and meta["num_classes"] != num_classes:
        raise HeatcheckError(f"checkpoint {path} has {meta['num_classes']} classes, the dataset has {num_classes}")
    if meta.get("builder"):
        from .sources import load_weights, rebuild

        what = f"checkpoint {path}"
        model = _no_inplace(rebuild(meta["builder"], meta["num_classes"], what))
        load_weights(model, meta["state_dict"], what, path)
    else:
        model = build_model(meta["arch"], meta["num_classes"], meta["input_size"])
        model.load_state_dict(meta["state_dict"])
    model.eval()
    prepare(model, meta)
    return model, meta


#: checkpoints read by this process (a study has a few models; one job needs one)
_READ = Recent(4)


def _read_checkpoint(path: Path) -> dict:
    """``torch.load`` of a checkpoint, once per process while the file stays the same: the jobs of
    a study that run in one process (threads of Snakemake's) build their models from one read.
    Every caller gets its own model (``load_state_dict`` copies the weights into it)."""
    def read():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise HeatcheckError(f"model checkpoint {path} is unreadable: {exc}") from exc

    return _READ.get(file_stamp(path), read)


def prepare(model: nn.Module, meta: dict) -> nn.Module:
    """Give a model what its checkpoint says about it: the recorded feature and GAP layers, and a
    bilinear resize in front of it to ``model_size`` when it takes another side than the images."""
    facts = meta.get("facts")
    if facts:
        set_structure(model, facts["layer"], facts["gap_fc"])
    size = meta.get("model_size")
    if size:
        def resize(module, args):
            x = args[0]
            if x.shape[-2:] == (size, size):
                return None
            return (F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False), *args[1:])

        model.register_forward_pre_hook(resize)
    return model


def input_normalization(meta: dict) -> tuple[list[float], list[float]]:
    """(mean, std) a checkpoint's model takes: its own where the config gave them, else its
    dataset's. The one place every stage reads normalization constants from."""
    return meta["mean"], meta["std"]


def model_input(images: torch.Tensor, meta: dict) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] as the model of checkpoint ``meta`` takes them."""
    return normalize(images, *input_normalization(meta))


def normalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    """``(images - mean) / std`` per channel, for (N, C, H, W) images in [0, 1]."""
    mean = torch.as_tensor(mean, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    std = torch.as_tensor(std, dtype=images.dtype, device=images.device).view(1, -1, 1, 1)
    return (images - mean) / std


__all__ = ["MODELS", "ARCHS", "build_model", "load_checkpoint", "save_checkpoint", "last_conv",
           "gap_fc", "normalize", "model_input", "input_normalization", "prepare", "file_checksum"]
