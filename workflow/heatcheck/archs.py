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
#: ``gflops``: floating-point operations (2 per multiply-add) of one forward pass of one image at
#: the architecture's reference side (:func:`reference_side`: 32 px for the CIFAR nets, 224 px for
#: torchvision's), as ``torch.utils.flop_counter.FlopCounterMode`` counts them; read by the GPU
#: and CPU time estimates (:mod:`heatcheck.cluster`).
#: ``layers``: modules with parameters of their own (convolutions, BatchNorm, linear layers), the
#: steps of the full cascading randomization (:func:`heatcheck.sanity.parametrized_layers`).
ARCHS = {
    "lenet": {"gap_fc": False, "torchvision": False, "residual": False, "layers": 5, "memory": (610, 7, 13), "gflops": 0.0013},
    "lenet_gap": {"gap_fc": True, "torchvision": False, "residual": False, "layers": 5, "memory": (650, 10, 16), "gflops": 0.00444},
    "resnet8": {"gap_fc": True, "torchvision": False, "residual": True, "layers": 19, "memory": (650, 22, 97), "gflops": 0.025},
    "resnet20": {"gap_fc": True, "torchvision": False, "residual": True, "layers": 43, "memory": (650, 33, 155), "gflops": 0.0816},
    "resnet32": {"gap_fc": True, "torchvision": False, "residual": True, "layers": 67, "memory": (650, 36, 263), "gflops": 0.1382},
    "resnet44": {"gap_fc": True, "torchvision": False, "residual": True, "layers": 91, "memory": (650, 36, 326), "gflops": 0.1949},
    "resnet56": {"gap_fc": True, "torchvision": False, "residual": True, "layers": 115, "memory": (650, 36, 409), "gflops": 0.2515},
    "resnet50": {"gap_fc": True, "torchvision": True, "residual": True, "layers": 107, "memory": (900, 32, 180), "gflops": 8.178},
    "resnet101": {"gap_fc": True, "torchvision": True, "residual": True, "layers": 209, "memory": (950, 25, 273), "gflops": 15.6},
    "vgg16": {"gap_fc": False, "torchvision": True, "residual": False, "layers": 16, "memory": (1340, 58, 179), "gflops": 30.94},
    "vgg19": {"gap_fc": False, "torchvision": True, "residual": False, "layers": 19, "memory": (1330, 65, 184), "gflops": 39.26},
    "alexnet": {"gap_fc": False, "torchvision": True, "residual": False, "layers": 8, "memory": (1010, 4, 15), "gflops": 1.428},
}


def reference_side(arch: str) -> int:
    """The image side at which ``ARCHS[arch]["gflops"]`` is counted."""
    return 224 if ARCHS[arch]["torchvision"] else 32
