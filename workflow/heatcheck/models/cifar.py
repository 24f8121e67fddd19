"""CIFAR-style networks written in the package: LeNet, a LeNet with a GAP + linear head, and
ResNet-8/20/32/44/56 (He et al. 2016).

The residual block has the attributes and forward of torchvision's ``BasicBlock`` but is
written here, so that building these nets does not import torchvision (about 1.3 s per job);
the LRP explainer canonizes it like torchvision's block.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers with a skip connection (torchvision's ``BasicBlock`` layout:
    ``conv1, bn1, relu, conv2, bn2, downsample``; the addition is out of place)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class LeNet(nn.Module):
    """LeNet-5 for RGB images: two 5x5 conv + max-pool stages, three linear layers.

    ReLUs are separate, non-inplace modules, as hook-based explainers require.
    """

    def __init__(self, num_classes: int = 10, input_size: int = 32, in_channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        side = ((input_size - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet needs input_size >= 16, got {input_size}")
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * side * side, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LeNetGAP(nn.Module):
    """LeNet-5's two 5x5 conv stages (widened to 16 and 32 channels, each with batch norm, the
    second without max-pool), then global average pooling and one linear layer: the head CAM needs
    (Zhou et al. 2016), on a net about as small and fast as LeNet.

    The last feature map is 10x10 at 32 px (LeNet's is 5x5), so class activation maps keep some
    resolution. Without batch norm the GAP head learns several times slower (2026-12-01, shapes:
    64% held-out after 8 epochs of 6,000 images, 96% with it after 6; ``bench_training.py``); LRP
    merges each batch norm into its convolution. ReLUs are separate, non-inplace modules, as
    hook-based explainers require.
    """

    def __init__(self, num_classes: int = 10, input_size: int = 32, in_channels: int = 3):
        super().__init__()
        if input_size < 14:
            raise ValueError(f"LeNetGAP needs input_size >= 14, got {input_size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5), nn.BatchNorm2d(32), nn.ReLU(),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.avgpool(self.features(x))))


class CifarResNet(nn.Module):
    """ResNet for small images: a 3x3 stem, three stages of 16/32/64 channels, GAP, one linear.

    ``depth = 6 n + 2`` (8, 20, 32, 44, 56); projection (1x1 conv) shortcuts where the shape
    changes.
    """

    def __init__(self, depth: int, num_classes: int = 10, input_size: int = 32, in_channels: int = 3):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.inplanes = 16
        self.layer1 = self._stage(16, n, 1)
        self.layer2 = self._stage(32, n, 2)
        self.layer3 = self._stage(64, n, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _stage(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            down = None
            if s != 1 or self.inplanes != planes:
                down = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride=s, bias=False),
                                     nn.BatchNorm2d(planes))
            layers.append(BasicBlock(self.inplanes, planes, s, down))
            self.inplanes = planes
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))
