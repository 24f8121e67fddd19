"""What the config validation and the resource estimates must know about architectures, without
importing torch.

``tests/test_models.py`` checks this table against the real model classes.
"""

#: arch -> facts. ``gap_fc``: ends in global average pooling + one linear layer (CAM applies);
#: ``torchvision``: ImageNet architecture of the torchvision zoo (pretrained weights exist);
#: ``residual``: has skip connections (LRP needs a canonizer);
#: ``memory``: (fixed MB, forward, backward) of a process pushing a batch through the model: the
#: fixed part (interpreter, torch, weights), and the bytes it holds per input of the batch as a
#: multiple of the input's own size (C x side^2 x 4 bytes) in inference and with an input gradient
#: (which keeps every activation). Measured on this machine (2026-12-01, CPU, torch 2.14, random
#: weights) by ``benchmarks/bench_memory.py``: peak resident memory of a fresh process at two batch
#: sizes (CIFAR nets at 32 px, torchvision's at 224 px), a line through the two peaks; rounded up.
#: Results in ``benchmarks/results/memory.json``; read by :func:`heatcheck.costs.job_mem_mb`.
ARCHS = {
    "lenet": {"gap_fc": False, "torchvision": False, "residual": False, "memory": (610, 7, 13)},
    "lenet_gap": {"gap_fc": True, "torchvision": False, "residual": False, "memory": (650, 10, 16)},
    "resnet8": {"gap_fc": True, "torchvision": False, "residual": True, "memory": (650, 22, 97)},
    "resnet20": {"gap_fc": True, "torchvision": False, "residual": True, "memory": (650, 33, 155)},
    "resnet32": {"gap_fc": True, "torchvision": False, "residual": True, "memory": (650, 36, 263)},
    "resnet44": {"gap_fc": True, "torchvision": False, "residual": True, "memory": (650, 36, 326)},
    "resnet56": {"gap_fc": True, "torchvision": False, "residual": True, "memory": (650, 36, 409)},
    "resnet50": {"gap_fc": True, "torchvision": True, "residual": True, "memory": (900, 32, 180)},
    "resnet101": {"gap_fc": True, "torchvision": True, "residual": True, "memory": (950, 25, 273)},
    "vgg16": {"gap_fc": False, "torchvision": True, "residual": False, "memory": (1340, 58, 179)},
    "vgg19": {"gap_fc": False, "torchvision": True, "residual": False, "memory": (1330, 65, 184)},
    "alexnet": {"gap_fc": False, "torchvision": True, "residual": False, "memory": (1010, 4, 15)},
}
