"""Models built by hand for the workflow tests, loaded through the ``factory`` key like a user's.

``region_evidence``: the logit of class 0 is the sum of the positive red values (normalized
units) of the pixels of one fixed 8 x 8 region, every other logit 0. With the prediction as the
target (always class 0 wherever a red value in the region is above the mean), deleting pixels
can only lower that logit, and deleting every pixel of the region that has a positive red value
sets it to 0, the least it can be: the gradient map (1 exactly there, 0 elsewhere) deletes them
first, so no ordering has a lower deletion curve, and a random or edge map, which almost never
puts all of them among the first eighth of the pixels, has a higher one. Control separation of
deletion on this model must be (near) 1.
"""

import torch
from torch import nn

CLASSES, SIDE, REGION = 6, 32, (12, 20)


class RegionEvidence(nn.Module):
    def __init__(self):
        super().__init__()
        mask = torch.zeros(1, 1, SIDE, SIDE)
        mask[..., REGION[0]:REGION[1], REGION[0]:REGION[1]] = 1
        self.register_buffer("mask", mask)
        self.relu = nn.ReLU()
        self.head = nn.Linear(1, CLASSES)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.weight[0, 0] = 0.25
            self.head.bias.zero_()

    def forward(self, x):
        return self.head((self.relu(x[:, :1]) * self.mask).sum((1, 2, 3))[:, None])


def region_evidence() -> nn.Module:
    return RegionEvidence().eval()
