"""A transcription, in plain PyTorch, of wsolevaluation's VGG16, ResNet50 and InceptionV3
for CAM, ACoL and SPG (clovaai/wsolevaluation ``wsol/vgg.py``, ``resnet.py``,
``inception.py``, written from their layer tables), built on the ``meta`` device: the
shapes and parameter counts of their code, nothing computed. ``outputs(net, size)`` runs
a forward pass and returns the output shape (NCHW) of each named module of interest."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

VGG_CFG = {
    ("cam", 14): [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                  512, 512, 512],
    ("cam", 28): [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512,
                  512, 512, 512],
    ("acol", 14): [64, 64, "M1", 128, 128, "M1", 256, 256, 256, "M1", 512, 512, 512, "M1",
                   512, 512, 512, "M2"],
    ("acol", 28): [64, 64, "M1", 128, 128, "M1", 256, 256, 256, "M1", 512, 512, 512, "M2",
                   512, 512, 512, "M2"],
    ("spg", 14): [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"],
    ("spg", 28): [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"],
    ("adl", 14): [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", "A", 512, 512, 512, "A",
                  "M", 512, 512, 512, "A"],
}
RESNET_ADL = [[], [], [], [0], [0, 2]]   # wsolevaluation's _ADL_POSITION


class ADLShape(nn.Module):
    """Stands where wsolevaluation puts an ADL layer; records its input's shape."""
    seen: list = []

    def forward(self, x):
        ADLShape.seen.append(tuple(x.shape))
        return x


def seq(*layers):
    return nn.Sequential(*layers)


def conv_relu(cin, cout, k=3):
    return [nn.Conv2d(cin, cout, k, padding=k // 2), nn.ReLU()]


def vgg_features(cfg):
    layers, cin = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        elif v == "M1":
            layers.append(nn.MaxPool2d(3, 2, 1))
        elif v == "M2":
            layers.append(nn.MaxPool2d(3, 1, 1))
        elif v == "A":
            layers.append(ADLShape())
        else:
            layers += conv_relu(cin, v)
            cin = v
    return seq(*layers)


def acol_branch(cin, classes):
    return seq(*conv_relu(cin, 1024), *conv_relu(1024, 1024), nn.Conv2d(1024, classes, 1))


def spg_modules(net, b1, b2, width, final, c_width):
    net.SPG_B_1a = seq(*conv_relu(b1, width))
    net.SPG_B_2a = seq(*conv_relu(b2, width))
    net.SPG_B_shared = seq(*conv_relu(width, width), nn.Conv2d(width, 1, 1))
    net.SPG_C = seq(*conv_relu(final, c_width), nn.Conv2d(c_width, 1, 1))


class Vgg(nn.Module):
    def __init__(self, method, classes, res):
        super().__init__()
        self.method, self.large = method, res == 28
        self.features = vgg_features(VGG_CFG[(method, res)])
        if method in ("cam", "adl"):
            self.conv6 = nn.Conv2d(512, 1024, 3, padding=1)
            self.fc = nn.Linear(1024, classes)
        elif method == "acol":
            self.classifier_A, self.classifier_B = (acol_branch(512, classes),
                                                    acol_branch(512, classes))
        else:
            self.SPG_A_1 = seq(*conv_relu(256, 512), *conv_relu(512, 512), *conv_relu(512, 512))
            self.SPG_A_2 = seq(*conv_relu(512, 512), *conv_relu(512, 512), *conv_relu(512, 512))
            self.SPG_A_3 = seq(*conv_relu(512, 512), *conv_relu(512, 512))
            self.SPG_A_4 = nn.Conv2d(512, classes, 1)
            spg_modules(self, 512, 512, 512, 512, 512)

    def forward(self, x):
        x = self.features(x)
        if self.method in ("cam", "adl"):
            return self.fc(F.relu(self.conv6(x)).mean((2, 3)))
        if self.method == "acol":
            x = F.avg_pool2d(x, 3, 1, 1)
            return self.classifier_B(x) + self.classifier_A(x)
        x = self.SPG_A_1(x)
        if not self.large:
            x = F.max_pool2d(x, 3, 2, 1)
        b1 = self.SPG_B_shared(self.SPG_B_1a(x))
        x = self.SPG_A_2(x)
        b2 = self.SPG_B_shared(self.SPG_B_2a(x))
        x = self.SPG_A_3(x)
        return self.SPG_A_4(x), self.SPG_C(x), b1, b2


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride=1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride != 1 or cin != planes * 4:
            self.downsample = seq(nn.Conv2d(cin, planes * 4, 1, stride, bias=False),
                                  nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    def __init__(self, method, classes, large):
        super().__init__()
        self.method, self.inplanes = method, 64
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.layer1 = self._layer(64, 3, 1)
        self.layer2 = self._layer(128, 4, 2)
        layer3 = self._layer(256, 6, 1 if large else 2, RESNET_ADL[3] if method == "adl" else [])
        if method == "spg":
            self.SPG_A1, self.SPG_A2 = seq(layer3[0]), seq(*list(layer3)[1:])
        else:
            self.layer3 = layer3
        self.layer4 = self._layer(512, 3, 1, RESNET_ADL[4] if method == "adl" else [])
        if method in ("cam", "adl"):
            self.fc = nn.Linear(2048, classes)
        elif method == "acol":
            self.classifier_A, self.classifier_B = (acol_branch(2048, classes),
                                                    acol_branch(2048, classes))
        else:
            self.SPG_A4 = nn.Conv2d(2048, classes, 1)
            spg_modules(self, 1024, 1024, 1024, 2048, 512)

    def _layer(self, planes, blocks, stride, adl_after=()):
        layers = [Bottleneck(self.inplanes, planes, stride)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        for pos in reversed(adl_after):             # wsolevaluation's ResNetAdl._make_layer
            layers.insert(pos + 1, ADLShape())
        return seq(*layers)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer2(self.layer1(x))
        if self.method != "spg":
            x = self.layer4(self.layer3(x))
            if self.method in ("cam", "adl"):
                return self.fc(x.mean((2, 3)))
            return self.classifier_A(x) + self.classifier_B(x)
        x = self.SPG_A1(x)
        b1 = self.SPG_B_shared(self.SPG_B_1a(x))
        x = self.SPG_A2(x)
        b2 = self.SPG_B_shared(self.SPG_B_2a(x))
        x = self.layer4(x)
        return self.SPG_A4(x), self.SPG_C(x), b1, b2


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, k, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(F.avg_pool2d(x, 3, 1, 1))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin, stride, padding):
        super().__init__()
        self.stride = stride
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=stride, padding=padding)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=stride, padding=padding)

    def forward(self, x):
        return torch.cat([self.branch3x3(x),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, self.stride, 1)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for i in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{i}")(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(F.avg_pool2d(x, 3, 1, 1))], 1)


class Inception(nn.Module):
    def __init__(self, method, classes, large):
        super().__init__()
        self.method, self.large = method, large
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2, padding=1)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c = InceptionA(192, 32), InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288, 1, 1)
        self.Mixed_6b, self.Mixed_6c = InceptionC(768, 128), InceptionC(768, 160)
        self.Mixed_6d, self.Mixed_6e = InceptionC(768, 160), InceptionC(768, 192)
        if method == "acol":
            self.classifier_A, self.classifier_B = (acol_branch(768, classes),
                                                    acol_branch(768, classes))
            return
        self.SPG_A3_1b = seq(*conv_relu(768, 1024))
        self.SPG_A3_2b = seq(*conv_relu(1024, 1024))
        self.SPG_A4 = nn.Conv2d(1024, classes, 1)
        if method == "spg":
            spg_modules(self, 288, 768, 512, 1024, 512)

    def forward(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, 2, 1, ceil_mode=True)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        if not self.large:
            x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        b1 = self.SPG_B_shared(self.SPG_B_1a(x)) if self.method == "spg" else None
        x = self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(self.Mixed_6a(x))))
        b2 = self.SPG_B_shared(self.SPG_B_2a(x)) if self.method == "spg" else None
        x = self.Mixed_6e(x)
        if self.method == "acol":
            return self.classifier_A(x) + self.classifier_B(x)
        x = self.SPG_A3_2b(self.SPG_A3_1b(x))
        if self.method == "spg":
            return self.SPG_A4(x), self.SPG_C(x), b1, b2
        return self.SPG_A4(x)


def build(arch: str, method: str, classes: int, res: int) -> nn.Module:
    with torch.device("meta"):
        if arch == "vgg16":
            return Vgg(method, classes, res).eval()
        if arch == "resnet50":
            return ResNet50(method, classes, res == 28).eval()
        return Inception(method, classes, res == 28).eval()


def outputs(net: nn.Module, names, size: int = 224) -> dict:
    """{module name: output shape (N, C, H, W)} of one forward pass at ``size``."""
    shapes, modules = {}, dict(net.named_modules())
    hooks = [modules[n].register_forward_hook(
        lambda _m, _i, out, n=n: shapes.__setitem__(n, tuple(out.shape))) for n in names]
    with torch.no_grad():
        net(torch.empty(1, 3, size, size, device="meta"))
    for h in hooks:
        h.remove()
    return shapes


def group_counts(net: nn.Module) -> dict:
    """Parameter count per top-level module."""
    counts = {}
    for name, p in net.named_parameters():
        top = name.split(".")[0]
        counts[top] = counts.get(top, 0) + p.numel()
    return counts
