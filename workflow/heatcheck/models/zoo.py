"""torchvision's ImageNet architectures, with weights from a local file or the torch hub cache.

No download is ever attempted: a missing weights file is an error that says where to put it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .. import HeatcheckError

#: arch -> torchvision weights enum member (only its file name and metadata are used).
WEIGHTS = {
    "resnet50": "ResNet50_Weights.IMAGENET1K_V1",
    "resnet101": "ResNet101_Weights.IMAGENET1K_V1",
    "vgg16": "VGG16_Weights.IMAGENET1K_V1",
    "vgg19": "VGG19_Weights.IMAGENET1K_V1",
    "alexnet": "AlexNet_Weights.IMAGENET1K_V1",
}


def _weights_enum(arch: str):
    import torchvision  # lazily: importing it costs ~1.3 s, which every small-net job would pay

    enum_name, member = WEIGHTS[arch].split(".")
    return getattr(getattr(torchvision.models, enum_name), member)


def hub_weights_path(arch: str) -> Path:
    """Where torch hub keeps the ImageNet weights of ``arch`` (``$TORCH_HOME/hub/checkpoints``)."""
    url = _weights_enum(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def build(arch: str, num_classes: int) -> torch.nn.Module:
    """An untrained torchvision ``arch`` with ``num_classes`` outputs."""
    import torchvision

    return getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)


def load_pretrained(arch: str, weights: str | None) -> torch.nn.Module:
    """``arch`` with its ImageNet weights from ``weights`` or the hub cache (never downloaded).

    Raises
    ------
    HeatcheckError
        If the file is missing (naming the file to put where) or holds another architecture.
    """
    path = Path(weights) if weights else hub_weights_path(arch)
    if not path.is_file():
        raise HeatcheckError(
            f"pretrained weights for {arch!r} not found at {path}. heatcheck does not download: "
            f"copy torchvision's {os.path.basename(_weights_enum(arch).url)} (from a machine with "
            f"network, e.g. torchvision.models.{WEIGHTS[arch].split('.')[0]}.IMAGENET1K_V1) to {path}, "
            f"or set models.<name>.weights to its path")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    model = build(arch, 1000)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise HeatcheckError(f"weights file {path} does not fit a torchvision {arch}: "
                             f"{str(exc).splitlines()[0]}") from exc
    return model
