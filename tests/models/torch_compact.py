"""Plain PyTorch re-implementations of torchvision's ShuffleNet V2, SqueezeNet 1.0/1.1 and
ConvNeXt, written from torchvision's source with its module and parameter names exactly
(``stage2.0.branch1.2.weight``, ``features.3.expand3x3.bias``,
``features.1.0.block.2.weight``, ``features.1.0.layer_scale``, ``classifier.2.bias``), so
their state dicts are torchvision's.

``logits_and_features(x)`` is torchvision's eval forward, keeping the maps the CAM is made
from (NCHW); ``cam_weights(features)`` gives the CAM weights computed here, in torch, from
the network's own layers: the fc weight (ShuffleNet), the identity on the class maps
(SqueezeNet), the LayerNorm folded into the linear layer per image (ConvNeXt).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channel_shuffle(x, groups):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(b, -1, h, w)


class ShuffleUnit(nn.Module):  # torchvision's shufflenetv2.InvertedResidual
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, bias=False, groups=cin), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, half, 1, 1, 0, bias=False), nn.BatchNorm2d(half), nn.ReLU())
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin if stride > 1 else half, half, 1, 1, 0, bias=False),
            nn.BatchNorm2d(half), nn.ReLU(),
            nn.Conv2d(half, half, 3, stride, 1, bias=False, groups=half), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, 1, 0, bias=False), nn.BatchNorm2d(half), nn.ReLU())

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


SHUFFLENETS = {"shufflenet_v2_x0_5": (24, 48, 96, 192, 1024),
               "shufflenet_v2_x1_0": (24, 116, 232, 464, 1024),
               "shufflenet_v2_x1_5": (24, 176, 352, 704, 1024),
               "shufflenet_v2_x2_0": (24, 244, 488, 976, 2048)}


class ShuffleNetV2(nn.Module):
    def __init__(self, channels, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels[0], 3, 2, 1, bias=False),
                                   nn.BatchNorm2d(channels[0]), nn.ReLU())
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        cin = channels[0]
        for name, repeats, cout in zip(("stage2", "stage3", "stage4"), (4, 8, 4), channels[1:4]):
            units = [ShuffleUnit(cin, cout, 2)] + [ShuffleUnit(cout, cout, 1)
                                                   for _ in range(repeats - 1)]
            setattr(self, name, nn.Sequential(*units))
            cin = cout
        self.conv5 = nn.Sequential(nn.Conv2d(cin, channels[-1], 1, 1, 0, bias=False),
                                   nn.BatchNorm2d(channels[-1]), nn.ReLU())
        self.fc = nn.Linear(channels[-1], num_classes)

    def logits_and_features(self, x):
        x = self.stage4(self.stage3(self.stage2(self.maxpool(self.conv1(x)))))
        features = self.conv5(x)
        return self.fc(features.mean([2, 3])), features

    def cam_weights(self, features):
        return self.fc.weight.T  # (K, C)

    def cam_constant(self):
        return self.fc.bias


class Fire(nn.Module):
    def __init__(self, cin, squeeze, expand1x1, expand3x3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


def _pool():
    return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)


class SqueezeNet(nn.Module):
    def __init__(self, version, num_classes=1000):
        super().__init__()
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2), nn.ReLU(), _pool(),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), _pool(),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256), _pool(), Fire(512, 64, 256, 256))
        else:
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(), _pool(),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), _pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), _pool(),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(p=0.5), nn.Conv2d(512, num_classes, 1),
                                        nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)))

    def logits_and_features(self, x):
        maps = self.classifier[2](self.classifier[1](self.classifier[0](self.features(x))))
        return torch.flatten(self.classifier[3](maps), 1), maps  # the class maps

    def cam_weights(self, features):
        return torch.eye(features.shape[1])

    def cam_constant(self):
        return torch.zeros(self.classifier[1].out_channels)


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                         self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return torch.permute(x, self.dims)


class StochasticDepth(nn.Module):  # the identity in eval mode, as torchvision's
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return x


class CNBlock(nn.Module):
    def __init__(self, dim, layer_scale=1e-6, sd_prob=0.0):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]), nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim),
            nn.GELU(), nn.Linear(4 * dim, dim), Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x):
        return self.stochastic_depth(self.layer_scale * self.block(x)) + x


CONVNEXTS = {"convnext_tiny": ((96, 192, 384, 768), (3, 3, 9, 3)),
             "convnext_small": ((96, 192, 384, 768), (3, 3, 27, 3)),
             "convnext_base": ((128, 256, 512, 1024), (3, 3, 27, 3)),
             "convnext_large": ((192, 384, 768, 1536), (3, 3, 27, 3))}


class ConvNeXt(nn.Module):
    def __init__(self, widths, depths, num_classes=1000):
        super().__init__()
        layers = [nn.Sequential(nn.Conv2d(3, widths[0], kernel_size=4, stride=4, padding=0),
                                LayerNorm2d(widths[0], eps=1e-6))]
        for i, (width, depth) in enumerate(zip(widths, depths)):
            layers.append(nn.Sequential(*[CNBlock(width) for _ in range(depth)]))
            if i + 1 < len(widths):
                layers.append(nn.Sequential(LayerNorm2d(width, eps=1e-6),
                                            nn.Conv2d(width, widths[i + 1], 2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(widths[-1], eps=1e-6), nn.Flatten(1),
                                        nn.Linear(widths[-1], num_classes))

    def logits_and_features(self, x):
        features = self.features(x)
        return self.classifier(self.avgpool(features)), features

    def cam_weights(self, features):
        """(B, K, C): logit = pooled . w + const, the LayerNorm written out per image."""
        pooled = features.mean((2, 3))                                        # (B, K)
        norm, linear = self.classifier[0], self.classifier[2]
        sigma = torch.sqrt(pooled.var(1, unbiased=False) + norm.eps)          # (B,)
        per_class = linear.weight * norm.weight                               # (C, K)
        per_class = per_class - per_class.mean(1, keepdim=True)
        return per_class.T[None] / sigma[:, None, None]

    def cam_constant(self):
        """The per-class constant the CAM's mean lies below the logit: W beta + b."""
        linear = self.classifier[2]
        return linear.weight @ self.classifier[0].bias + linear.bias


def randomize_norms(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random LayerNorm affine parameters and ConvNeXt layer scales (BatchNorm:
    ``torch_reference.randomize_batchnorm``)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            if isinstance(m, CNBlock):
                m.layer_scale.copy_(torch.rand(m.layer_scale.shape, generator=gen) * 0.4 + 0.1)
    return module


BUILDERS = {name: (lambda c=c: ShuffleNetV2(c)) for name, c in SHUFFLENETS.items()}
BUILDERS.update({"squeezenet1_0": lambda: SqueezeNet("1_0"),
                 "squeezenet1_1": lambda: SqueezeNet("1_1")})
BUILDERS.update({name: (lambda c=c: ConvNeXt(*c)) for name, c in CONVNEXTS.items()})
