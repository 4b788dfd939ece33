"""Plain PyTorch re-implementations of torchvision's ResNet-18/34/50/101/152, DenseNet-121/161
and MobileNetV2, whole (classifier included); the companion of ``torch_reference``.

Module and parameter names are torchvision's exactly (``layer1.0.downsample.1.weight``,
``features.denseblock2.denselayer3.norm1.running_var``, ``features.1.conv.1.weight``,
``classifier.1.bias``), so a torchvision state dict loads into them with ``strict=True`` and
theirs into torchvision. ``forward`` is torchvision's (pooling, flatten, classifier);
``cam_features(x)`` returns the maps the CAM is computed from (NCHW), ``logits_and_features``
both from one pass (torchvision's forward, its features kept); ``classifier_weight`` is the
(C, K) weight of the linear layer after pooling.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .torch_reference import Bottleneck


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, planes, 1, stride=stride, bias=False),
                                         nn.BatchNorm2d(planes))
                           if stride != 1 or cin != planes else None)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


RESNETS = {18: (BasicBlock, 1, (2, 2, 2, 2)), 34: (BasicBlock, 1, (3, 4, 6, 3)),
           50: (Bottleneck, 4, (3, 4, 6, 3)), 101: (Bottleneck, 4, (3, 4, 23, 3)),
           152: (Bottleneck, 4, (3, 8, 36, 3))}


class ResNet(nn.Module):
    def __init__(self, depth, num_classes=1000):
        super().__init__()
        block, expansion, counts = RESNETS[depth]
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for i, (planes, n, stride) in enumerate(zip((64, 128, 256, 512), counts, (1, 2, 2, 2)),
                                                start=1):
            layer = []
            for b in range(n):
                layer.append(block(cin, planes, stride if b == 0 else 1))
                cin = planes * expansion
            setattr(self, f"layer{i}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    @property
    def classifier_weight(self):
        return self.fc.weight

    def cam_features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def logits_and_features(self, x):
        features = self.cam_features(x)
        return self.fc(torch.flatten(self.avgpool(features), 1)), features

    def forward(self, x):
        return self.logits_and_features(x)[0]


class _DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, inputs):
        out = self.conv1(self.relu1(self.norm1(torch.cat(inputs, 1))))
        return self.conv2(self.relu2(self.norm2(out)))


class _DenseBlock(nn.ModuleDict):
    def __init__(self, layers, cin, growth):
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(cin + i * growth, growth))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(cin))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(cin, cout, 1, bias=False))
        self.add_module("pool", nn.AvgPool2d(2, stride=2))


DENSENETS = {121: (32, (6, 12, 24, 16), 64), 161: (48, (6, 12, 36, 24), 96)}


class DenseNet(nn.Module):
    def __init__(self, depth, num_classes=1000):
        super().__init__()
        growth, blocks, channels = DENSENETS[depth]
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, channels, 7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(channels)), ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(3, stride=2, padding=1))]))
        for i, layers in enumerate(blocks):
            self.features.add_module(f"denseblock{i + 1}", _DenseBlock(layers, channels, growth))
            channels += layers * growth
            if i != len(blocks) - 1:
                self.features.add_module(f"transition{i + 1}",
                                         _Transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.classifier = nn.Linear(channels, num_classes)

    @property
    def classifier_weight(self):
        return self.classifier.weight

    def cam_features(self, x):
        return F.relu(self.features(x))

    def logits_and_features(self, x):
        features = self.cam_features(x)  # torchvision: F.relu(self.features(x)), then pooling
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(features, 1), 1)), features

    def forward(self, x):
        return self.logits_and_features(x)[0]


def conv_bn_relu6(cin, cout, kernel=3, stride=1, groups=1):
    """torchvision's Conv2dNormActivation(activation_layer=nn.ReLU6): names .0, .1, .2."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups,
                                   bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand_ratio):
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers = [conv_bn_relu6(cin, hidden, kernel=1)] if expand_ratio != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    # torchvision's table; at width 1.0 every channel count is already a multiple of 8
    SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
               (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, num_classes=1000):
        super().__init__()
        features, cin = [conv_bn_relu6(3, 32, stride=2)], 32
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(conv_bn_relu6(cin, 1280, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    @property
    def classifier_weight(self):
        return self.classifier[1].weight

    def cam_features(self, x):
        return self.features(x)

    def logits_and_features(self, x):
        features = self.features(x)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(features, (1, 1)), 1)), features

    def forward(self, x):
        return self.logits_and_features(x)[0]


BUILDERS = {f"resnet{d}": (lambda d=d: ResNet(d)) for d in RESNETS}
BUILDERS.update({f"densenet{d}": (lambda d=d: DenseNet(d)) for d in DENSENETS})
BUILDERS["mobilenet_v2"] = MobileNetV2
