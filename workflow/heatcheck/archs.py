"""What the config validation must know about architectures, without importing torch.

``tests/test_models.py`` checks this table against the real model classes.
"""

#: arch -> facts. ``gap_fc``: ends in global average pooling + one linear layer (CAM applies);
#: ``torchvision``: ImageNet architecture of the torchvision zoo (pretrained weights exist);
#: ``residual``: has skip connections (LRP needs a canonizer).
ARCHS = {
    "lenet": {"gap_fc": False, "torchvision": False, "residual": False},
    "resnet8": {"gap_fc": True, "torchvision": False, "residual": True},
    "resnet20": {"gap_fc": True, "torchvision": False, "residual": True},
    "resnet32": {"gap_fc": True, "torchvision": False, "residual": True},
    "resnet44": {"gap_fc": True, "torchvision": False, "residual": True},
    "resnet56": {"gap_fc": True, "torchvision": False, "residual": True},
    "resnet50": {"gap_fc": True, "torchvision": True, "residual": True},
    "resnet101": {"gap_fc": True, "torchvision": True, "residual": True},
    "vgg16": {"gap_fc": False, "torchvision": True, "residual": False},
    "vgg19": {"gap_fc": False, "torchvision": True, "residual": False},
    "alexnet": {"gap_fc": False, "torchvision": True, "residual": False},
}
