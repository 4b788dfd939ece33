"""Plain PyTorch re-implementations of torchvision's EfficientNet (B0..B7, V2-S/M/L),
MobileNetV3 (small, large) and MNASNet (0.5 .. 1.3), whole, classifier included.

Written here from torchvision's source (torchvision cannot be imported beside the CPU torch):
module and parameter names are torchvision's exactly (``features.1.0.block.1.fc1.weight``,
``features.4.block.2.0.weight``, ``layers.8.0.layers.3.weight``, ``classifier.1.bias``), the
tables are torchvision's, typed again here, not camjax's. ``logits_and_features(x)`` is
torchvision's forward with its final features kept (NCHW); ``classifier_weight`` the (C, K)
weight of the linear layer after pooling, where there is one.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def make_divisible(v, divisor=8, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class Conv2dNormActivation(nn.Sequential):
    def __init__(self, cin, cout, kernel=3, stride=1, groups=1, norm=nn.BatchNorm2d,
                 activation=nn.ReLU):
        layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups,
                            bias=False), norm(cout)]
        if activation is not None:
            layers.append(activation(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    def __init__(self, cin, squeeze, activation=nn.ReLU, scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(cin, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, cin, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x):
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x


class StochasticDepth(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):  # eval mode only here
        return x


class MBConv(nn.Module):
    def __init__(self, cin, cout, expand, kernel, stride, sd, norm):
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        wide = make_divisible(cin * expand)
        layers = [] if wide == cin else [Conv2dNormActivation(cin, wide, 1, norm=norm,
                                                              activation=nn.SiLU)]
        layers += [Conv2dNormActivation(wide, wide, kernel, stride, wide, norm, nn.SiLU),
                   SqueezeExcitation(wide, max(1, cin // 4), activation=nn.SiLU),
                   Conv2dNormActivation(wide, cout, 1, norm=norm, activation=None)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd)

    def forward(self, x):
        out = self.block(x)
        return self.stochastic_depth(out) + x if self.use_res_connect else out


class FusedMBConv(MBConv):
    def __init__(self, cin, cout, expand, kernel, stride, sd, norm):
        nn.Module.__init__(self)
        self.use_res_connect = stride == 1 and cin == cout
        wide = make_divisible(cin * expand)
        if wide != cin:
            layers = [Conv2dNormActivation(cin, wide, kernel, stride, norm=norm,
                                           activation=nn.SiLU),
                      Conv2dNormActivation(wide, cout, 1, norm=norm, activation=None)]
        else:
            layers = [Conv2dNormActivation(cin, cout, kernel, stride, norm=norm,
                                           activation=nn.SiLU)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd)


B = [(MBConv, 1, 3, 1, 32, 16, 1), (MBConv, 6, 3, 2, 16, 24, 2), (MBConv, 6, 5, 2, 24, 40, 2),
     (MBConv, 6, 3, 2, 40, 80, 3), (MBConv, 6, 5, 1, 80, 112, 3),
     (MBConv, 6, 5, 2, 112, 192, 4), (MBConv, 6, 3, 1, 192, 320, 1)]
F_, M_ = FusedMBConv, MBConv
V2 = {"s": [(F_, 1, 3, 1, 24, 24, 2), (F_, 4, 3, 2, 24, 48, 4), (F_, 4, 3, 2, 48, 64, 4),
            (M_, 4, 3, 2, 64, 128, 6), (M_, 6, 3, 1, 128, 160, 9), (M_, 6, 3, 2, 160, 256, 15)],
      "m": [(F_, 1, 3, 1, 24, 24, 3), (F_, 4, 3, 2, 24, 48, 5), (F_, 4, 3, 2, 48, 80, 5),
            (M_, 4, 3, 2, 80, 160, 7), (M_, 6, 3, 1, 160, 176, 14),
            (M_, 6, 3, 2, 176, 304, 18), (M_, 6, 3, 1, 304, 512, 5)],
      "l": [(F_, 1, 3, 1, 32, 32, 4), (F_, 4, 3, 2, 32, 64, 7), (F_, 4, 3, 2, 64, 96, 7),
            (M_, 4, 3, 2, 96, 192, 10), (M_, 6, 3, 1, 192, 224, 19),
            (M_, 6, 3, 2, 224, 384, 25), (M_, 6, 3, 1, 384, 640, 7)]}
TF_BN = dict(eps=1e-3, momentum=0.01)
# name: (width, depth, dropout, BatchNorm kwargs); v2: (table, dropout)
EFFICIENTNETS = {"efficientnet_b0": (1.0, 1.0, 0.2, {}), "efficientnet_b1": (1.0, 1.1, 0.2, {}),
                 "efficientnet_b2": (1.1, 1.2, 0.3, {}), "efficientnet_b3": (1.2, 1.4, 0.3, {}),
                 "efficientnet_b4": (1.4, 1.8, 0.4, {}),
                 "efficientnet_b5": (1.6, 2.2, 0.4, TF_BN),
                 "efficientnet_b6": (1.8, 2.6, 0.5, TF_BN),
                 "efficientnet_b7": (2.0, 3.1, 0.5, TF_BN),
                 "efficientnet_v2_s": ("s", 0.2), "efficientnet_v2_m": ("m", 0.3),
                 "efficientnet_v2_l": ("l", 0.4)}


class _Classifier:
    @property
    def classifier_weight(self):
        return self.classifier[-1].weight

    def logits_and_features(self, x):
        features = self.features(x) if hasattr(self, "features") else self.layers(x)
        pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(features, 1), 1)
        return self.classifier(pooled), features

    def forward(self, x):
        return self.logits_and_features(x)[0]


class EfficientNet(_Classifier, nn.Module):
    def __init__(self, name, num_classes=1000):
        super().__init__()
        spec = EFFICIENTNETS[name]
        if len(spec) == 2:
            table, dropout = V2[spec[0]], spec[1]
            norm, last = lambda c: nn.BatchNorm2d(c, eps=1e-3), 1280
        else:
            w, d, dropout, bn = spec
            table = [(blk, e, k, s, make_divisible(ci * w), make_divisible(co * w),
                      int(math.ceil(n * d))) for blk, e, k, s, ci, co, n in B]
            norm, last = (lambda c: nn.BatchNorm2d(c, **bn)), 4 * table[-1][5]
        total, i = sum(row[-1] for row in table), 0
        layers = [Conv2dNormActivation(3, table[0][4], 3, 2, norm=norm, activation=nn.SiLU)]
        for blk, e, k, s, ci, co, n in table:
            stage = []
            for j in range(n):
                stage.append(blk(ci if j == 0 else co, co, e, k, s if j == 0 else 1,
                                 0.2 * i / total, norm))
                i += 1
            layers.append(nn.Sequential(*stage))
        layers.append(Conv2dNormActivation(table[-1][5], last, 1, norm=norm,
                                           activation=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout, inplace=True),
                                        nn.Linear(last, num_classes))


class InvertedResidualV3(nn.Module):
    def __init__(self, cin, kernel, wide, cout, use_se, act, stride):
        super().__init__()
        norm = lambda c: nn.BatchNorm2d(c, eps=0.001, momentum=0.01)  # noqa: E731
        act = nn.Hardswish if act == "HS" else nn.ReLU
        self.use_res_connect = stride == 1 and cin == cout
        layers = [] if wide == cin else [Conv2dNormActivation(cin, wide, 1, norm=norm,
                                                              activation=act)]
        layers.append(Conv2dNormActivation(wide, wide, kernel, stride, wide, norm, act))
        if use_se:
            layers.append(SqueezeExcitation(wide, make_divisible(wide // 4),
                                            scale_activation=nn.Hardsigmoid))
        layers.append(Conv2dNormActivation(wide, cout, 1, norm=norm, activation=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        out = self.block(x)
        return out + x if self.use_res_connect else out


V3 = {"mobilenet_v3_large": ([
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
    (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
    (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
    (160, 5, 960, 160, True, "HS", 1)], 1280),
    "mobilenet_v3_small": ([
        (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
        (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
        (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
        (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1),
        (48, 5, 288, 96, True, "HS", 2), (96, 5, 576, 96, True, "HS", 1),
        (96, 5, 576, 96, True, "HS", 1)], 1024)}


class MobileNetV3(_Classifier, nn.Module):
    def __init__(self, name, num_classes=1000):
        super().__init__()
        table, hidden = V3[name]
        norm = lambda c: nn.BatchNorm2d(c, eps=0.001, momentum=0.01)  # noqa: E731
        layers = [Conv2dNormActivation(3, 16, 3, 2, norm=norm, activation=nn.Hardswish)]
        layers += [InvertedResidualV3(*row) for row in table]
        last = 6 * table[-1][3]
        layers.append(Conv2dNormActivation(table[-1][3], last, 1, norm=norm,
                                           activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(last, hidden), nn.Hardswish(inplace=True),
                                        nn.Dropout(0.2, inplace=True),
                                        nn.Linear(hidden, num_classes))


class _InvertedResidual(nn.Module):
    def __init__(self, cin, cout, kernel, stride, expansion):
        super().__init__()
        mid = cin * expansion
        bn = lambda c: nn.BatchNorm2d(c, momentum=1 - 0.9997)  # noqa: E731
        self.apply_residual = cin == cout and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), bn(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel, padding=kernel // 2, stride=stride, groups=mid,
                      bias=False), bn(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), bn(cout))

    def forward(self, x):
        return self.layers(x) + x if self.apply_residual else self.layers(x)


def _round_to_multiple_of(val, divisor, round_up_bias=0.9):
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


MNASNETS = {"mnasnet0_5": 0.5, "mnasnet0_75": 0.75, "mnasnet1_0": 1.0, "mnasnet1_3": 1.3}


class MNASNet(_Classifier, nn.Module):
    def __init__(self, name, num_classes=1000):
        super().__init__()
        d = [_round_to_multiple_of(c * MNASNETS[name], 8)
             for c in (32, 16, 24, 40, 80, 96, 192, 320)]
        bn = lambda c: nn.BatchNorm2d(c, momentum=1 - 0.9997)  # noqa: E731

        def stack(cin, cout, kernel, stride, exp, repeats):
            return nn.Sequential(_InvertedResidual(cin, cout, kernel, stride, exp), *[
                _InvertedResidual(cout, cout, kernel, 1, exp) for _ in range(1, repeats)])

        self.layers = nn.Sequential(
            nn.Conv2d(3, d[0], 3, padding=1, stride=2, bias=False), bn(d[0]),
            nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[0], 3, padding=1, stride=1, groups=d[0], bias=False), bn(d[0]),
            nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[1], 1, padding=0, stride=1, bias=False), bn(d[1]),
            stack(d[1], d[2], 3, 2, 3, 3), stack(d[2], d[3], 5, 2, 3, 3),
            stack(d[3], d[4], 5, 2, 6, 3), stack(d[4], d[5], 3, 1, 6, 2),
            stack(d[5], d[6], 5, 2, 6, 4), stack(d[6], d[7], 3, 1, 6, 1),
            nn.Conv2d(d[7], 1280, 1, padding=0, stride=1, bias=False), bn(1280),
            nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Dropout(p=0.2, inplace=True),
                                        nn.Linear(1280, num_classes))


BUILDERS = {**{n: (lambda n=n: EfficientNet(n)) for n in EFFICIENTNETS},
            **{n: (lambda n=n: MobileNetV3(n)) for n in V3},
            **{n: (lambda n=n: MNASNet(n)) for n in MNASNETS}}
