"""ResNet-50 with a GAP head, on torchvision's ``resnet50`` layout (Bottleneck v1.5).

Attribute names mirror torchvision's (``conv1``, ``bn1``, ``layer1[0].downsample[1]``, ...)
so its state dict loads (:func:`camjax.models.load_pretrained`). BatchNorm: eps 1e-5, torch
momentum 0.1 (flax momentum 0.9). ``features`` are layer4's output (2048 channels): no CAM
conv is added, as in the WSOL benchmark's ResNet50-CAM; global pooling and a dense layer
without bias follow.

``mapping_resolution=14`` removes layer4's stride (the WSOL "large feature map" variant:
14x14 at 224 instead of 7x7); parameter shapes are unchanged, so the same weights load.
"""
from __future__ import annotations

import jax
from flax import nnx

from camjax.models.googlenet import max_pool2d
from camjax.models.heads import PoolingHead
from camjax.models.registry import register

LAYERS = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (planes, blocks, stride)
EXPANSION = 4

_he_init = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")


def _conv(cin: int, cout: int, kernel: int, *, stride: int = 1, rngs: nnx.Rngs) -> nnx.Conv:
    return nnx.Conv(cin, cout, (kernel, kernel), strides=stride, padding=kernel // 2,
                    use_bias=False, kernel_init=_he_init, rngs=rngs)


def _bn(features: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    return nnx.BatchNorm(features, momentum=0.9, epsilon=1e-5, rngs=rngs)


class Bottleneck(nnx.Module):
    """1x1, 3x3 (carries the stride), 1x1 x4; projection shortcut when the shape changes."""

    def __init__(self, cin: int, planes: int, *, stride: int = 1, rngs: nnx.Rngs):
        cout = planes * EXPANSION
        self.conv1, self.bn1 = _conv(cin, planes, 1, rngs=rngs), _bn(planes, rngs)
        self.conv2, self.bn2 = _conv(planes, planes, 3, stride=stride, rngs=rngs), _bn(planes, rngs)
        self.conv3, self.bn3 = _conv(planes, cout, 1, rngs=rngs), _bn(cout, rngs)
        self.downsample = (nnx.List([_conv(cin, cout, 1, stride=stride, rngs=rngs),
                                     _bn(cout, rngs)])
                           if stride != 1 or cin != cout else None)

    def __call__(self, x: jax.Array) -> jax.Array:
        identity = x
        out = jax.nn.relu(self.bn1(self.conv1(x)))
        out = jax.nn.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            conv, bn = self.downsample
            identity = bn(conv(x))
        return jax.nn.relu(out + identity)


@register("resnet50_gap")
class ResNet50GAP(nnx.Module):
    """ResNet-50 conv1..layer4, global pooling, dense (features: layer4 output, 2048 ch)."""

    def __init__(self, *, num_classes: int, pooling: str = "gap", mapping_resolution: int = 7,
                 rngs: nnx.Rngs):
        if mapping_resolution not in (7, 14):
            raise ValueError(f"mapping_resolution must be 7 or 14 (at 224), "
                             f"got {mapping_resolution!r}")
        self.conv1, self.bn1 = _conv(3, 64, 7, stride=2, rngs=rngs), _bn(64, rngs)
        cin = 64
        for index, (planes, blocks, stride) in enumerate(LAYERS, start=1):
            if index == 4 and mapping_resolution == 14:
                stride = 1
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(cin, planes, stride=stride if b == 0 else 1, rngs=rngs))
                cin = planes * EXPANSION
            setattr(self, f"layer{index}", nnx.List(layer))
        self.head = PoolingHead(cin, num_classes, pooling=pooling, rngs=rngs)

    def backbone(self, images: jax.Array) -> jax.Array:
        """layer4 output (B, h, w, 2048): the part torchvision weights fill."""
        x = jax.nn.relu(self.bn1(self.conv1(images)))
        x = max_pool2d(x, 3, 2, 1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                x = block(x)
        return x

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.backbone(images)
        return self.head(features), features
