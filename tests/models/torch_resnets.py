"""Plain PyTorch re-implementations of torchvision's ResNeXts, wide ResNets and RegNets
(X and Y), whole, classifier included; companions of ``torch_classifiers``.

Written here from torchvision's source with its names exactly (``layer1.0.conv2.weight``
grouped, ``trunk_output.block2.block2-0.f.se.fc1.weight``, ``stem.0.weight``, ``fc.bias``).
``regnet_block_params`` is torchvision's ``BlockParams.from_init_params`` with torch's own
float32 ops, the reference camjax's numpy arithmetic is checked against.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .torch_mobile import Conv2dNormActivation, SqueezeExcitation, make_divisible


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride=1, groups=1, base_width=64):
        super().__init__()
        width, cout = int(planes * (base_width / 64.0)) * groups, planes * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                         nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


# name: (blocks per layer, groups, width per group)
RESNEXTS = {"resnext50_32x4d": ((3, 4, 6, 3), 32, 4), "resnext101_32x8d": ((3, 4, 23, 3), 32, 8),
            "resnext101_64x4d": ((3, 4, 23, 3), 64, 4),
            "wide_resnet50_2": ((3, 4, 6, 3), 1, 128),
            "wide_resnet101_2": ((3, 4, 23, 3), 1, 128)}


class ResNeXt(nn.Module):
    def __init__(self, name, num_classes=1000):
        super().__init__()
        counts, groups, width = RESNEXTS[name]
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), counts), start=1):
            blocks = []
            for b in range(n):
                blocks.append(Bottleneck(cin, planes, 1 if b or i == 1 else 2, groups, width))
                cin = planes * 4
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    @property
    def classifier_weight(self):
        return self.fc.weight

    def logits_and_features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        features = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(features), 1)), features

    def forward(self, x):
        return self.logits_and_features(x)[0]


def regnet_block_params(depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0):
    """torchvision's ``BlockParams.from_init_params``: (widths, depths, group widths); on
    the CPU even while modules are built on the meta device."""
    widths_cont = torch.arange(depth, device="cpu") * w_a + w_0
    block_capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
    block_widths = (torch.round(torch.divide(w_0 * torch.pow(w_m, block_capacity), 8))
                    * 8).int().tolist()
    split_helper = zip(block_widths + [0], [0] + block_widths, block_widths + [0],
                       [0] + block_widths)
    splits = [w != wp or r != rp for w, wp, r, rp in split_helper]
    stage_widths = [w for w, t in zip(block_widths, splits[:-1]) if t]
    stage_depths = torch.diff(torch.tensor([d for d, t in enumerate(splits) if t],
                                              device="cpu")).int().tolist()
    widths = [int(w * bottleneck_multiplier) for w in stage_widths]
    group_widths = [min(group_width, w) for w in widths]
    ws_bot = [make_divisible(w, g) for w, g in zip(widths, group_widths)]
    return [int(w / bottleneck_multiplier) for w in ws_bot], stage_depths, group_widths


REGNETS = {"regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25),
           "regnet_y_800mf": (14, 56, 38.84, 2.4, 16, 0.25),
           "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25),
           "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24, 0.25),
           "regnet_y_8gf": (17, 192, 76.82, 2.19, 56, 0.25),
           "regnet_y_16gf": (18, 200, 106.23, 2.48, 112, 0.25),
           "regnet_y_32gf": (20, 232, 115.89, 2.53, 232, 0.25),
           "regnet_y_128gf": (27, 456, 160.83, 2.52, 264, 0.25),
           "regnet_x_400mf": (22, 24, 24.48, 2.54, 16, None),
           "regnet_x_800mf": (16, 56, 35.73, 2.28, 16, None),
           "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24, None),
           "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48, None),
           "regnet_x_8gf": (23, 80, 49.56, 2.88, 120, None),
           "regnet_x_16gf": (22, 216, 55.59, 2.1, 128, None),
           "regnet_x_32gf": (23, 320, 69.86, 2.0, 168, None)}


class ResBottleneckBlock(nn.Module):
    def __init__(self, cin, cout, stride, group_width, se_ratio):
        super().__init__()
        self.proj = (Conv2dNormActivation(cin, cout, 1, stride, activation=None)
                     if cin != cout or stride != 1 else None)
        layers = OrderedDict(a=Conv2dNormActivation(cin, cout, 1),
                             b=Conv2dNormActivation(cout, cout, 3, stride, cout // group_width))
        if se_ratio:
            layers["se"] = SqueezeExcitation(cout, int(round(se_ratio * cin)))
        layers["c"] = Conv2dNormActivation(cout, cout, 1, activation=None)
        self.f = nn.Sequential(layers)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.proj(x) + self.f(x) if self.proj is not None else x + self.f(x)
        return self.activation(x)


class RegNet(nn.Module):
    def __init__(self, name, num_classes=1000):
        super().__init__()
        depth, w_0, w_a, w_m, group_width, se_ratio = REGNETS[name]
        self.stem = Conv2dNormActivation(3, 32, 3, 2)
        stages, cin = [], 32
        for i, (w, d, g) in enumerate(zip(*regnet_block_params(depth, w_0, w_a, w_m,
                                                               group_width)), start=1):
            stage = nn.Sequential()
            for j in range(d):
                stage.add_module(f"block{i}-{j}", ResBottleneckBlock(
                    cin if j == 0 else w, w, 2 if j == 0 else 1, g, se_ratio))
            stages.append((f"block{i}", stage))
            cin = w
        self.trunk_output = nn.Sequential(OrderedDict(stages))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    @property
    def classifier_weight(self):
        return self.fc.weight

    def logits_and_features(self, x):
        features = self.trunk_output(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1)), features

    def forward(self, x):
        return self.logits_and_features(x)[0]


BUILDERS = {**{n: (lambda n=n: ResNeXt(n)) for n in RESNEXTS},
            **{n: (lambda n=n: RegNet(n)) for n in REGNETS}}
