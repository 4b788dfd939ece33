"""torchvision's ResNets: the classifiers ``resnet18`` ... ``resnet152`` as they are, and the
paper-style ``resnet50_gap``.

Attribute names mirror torchvision's (``conv1``, ``bn1``, ``layer1[0].downsample[1]``, ``fc``
as ``head.classifier``) so its state dicts, and timm's, which use the same names, load
(:func:`camjax.models.load_pretrained`). Blocks are torchvision's: ``BasicBlock`` (two 3x3)
for 18/34, ``Bottleneck`` v1.5 (1x1, 3x3 with the stride, 1x1 x4) for 50/101/152, a 1x1
projection shortcut with BatchNorm when the shape changes. Stem: 7x7/2 conv, BN, ReLU,
3x3/2 max pool with padding 1. BatchNorm eps 1e-5, torch momentum 0.1.

``features`` are layer4's output (512 channels for 18/34, 2048 otherwise; 7x7 at 224); global
average pooling and the dense layer follow. The classifiers keep torchvision's fc bias;
``resnet50_gap`` (the WSOL benchmark's ResNet50-CAM) has no bias unless
``classifier_bias`` (wsolevaluation's ``fc`` has one), and ``load_pretrained`` fills only
its backbone. ``mapping_resolution=14`` removes layer4's stride (14x14 at 224,
wsolevaluation's ResNet50), ``28`` layer3's too (wsolevaluation's ``large_feature_map``);
parameter shapes are unchanged, so the same weights load.

``resnet50_gap`` hosts the WSOL methods (camjax.models.wsol) at wsolevaluation's
positions: ADL after layer3.0, layer4.0 and layer4.2; ACoL's ``classifier_A`` /
``classifier_B`` (1024 wide) on layer4; SPG's ``SPG_B_1a`` after layer3.0 and
``SPG_B_2a`` after layer3.5 (1024 wide), ``SPG_C`` (512 wide) on layer4; the few-shot
foreground head on layer4.

ResNeXts and wide ResNets are the same network with torchvision's ``groups`` and
``width_per_group``: a Bottleneck's 1x1 and 3x3 convs have ``int(planes * width_per_group /
64) * groups`` channels and the 3x3 conv has ``groups`` groups (``resnext50_32x4d``: 32
groups of 4 in layer1; ``wide_resnet50_2``: twice the width, one group).
"""
from __future__ import annotations

import functools

import jax
from flax import nnx

from camjax.models.googlenet import max_pool2d
from camjax.models.heads import PoolingClassifier, PoolingHead
from camjax.models.layers import batch_norm, conv2d
from camjax.models.registry import register
from camjax.models.wsol import WsolNetwork

WIDTHS = (64, 128, 256, 512)  # planes of layer1..layer4
STRIDES = (1, 2, 2, 2)


def _shortcut(cin: int, cout: int, stride: int, rngs: nnx.Rngs) -> nnx.List | None:
    """torchvision's ``downsample``: 1x1 conv with the block's stride, then BatchNorm."""
    if stride == 1 and cin == cout:
        return None
    return nnx.List([conv2d(cin, cout, 1, stride=stride, rngs=rngs), batch_norm(cout, rngs)])


def _residual(out: jax.Array, x: jax.Array, downsample: nnx.List | None) -> jax.Array:
    identity = x
    if downsample is not None:
        conv, bn = downsample
        identity = bn(conv(x))
    return jax.nn.relu(out + identity)


class BasicBlock(nnx.Module):
    """3x3 (carries the stride), 3x3; ResNet-18/34."""
    expansion = 1

    def __init__(self, cin: int, planes: int, *, stride: int = 1, groups: int = 1,
                 width_per_group: int = 64, rngs: nnx.Rngs):
        if (groups, width_per_group) != (1, 64):
            raise ValueError("BasicBlock only supports groups=1 and width_per_group=64")
        self.conv1, self.bn1 = (conv2d(cin, planes, 3, stride=stride, rngs=rngs),
                                batch_norm(planes, rngs))
        self.conv2, self.bn2 = conv2d(planes, planes, 3, rngs=rngs), batch_norm(planes, rngs)
        self.downsample = _shortcut(cin, planes, stride, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out = jax.nn.relu(self.bn1(self.conv1(x)))
        return _residual(self.bn2(self.conv2(out)), x, self.downsample)


class Bottleneck(nnx.Module):
    """1x1, 3x3 (carries the stride; grouped for ResNeXt), 1x1 to planes x4;
    ResNet-50/101/152, ResNeXt, wide ResNet."""
    expansion = 4

    def __init__(self, cin: int, planes: int, *, stride: int = 1, groups: int = 1,
                 width_per_group: int = 64, rngs: nnx.Rngs):
        cout, width = planes * self.expansion, int(planes * (width_per_group / 64)) * groups
        self.conv1, self.bn1 = conv2d(cin, width, 1, rngs=rngs), batch_norm(width, rngs)
        self.conv2, self.bn2 = (conv2d(width, width, 3, stride=stride, groups=groups, rngs=rngs),
                                batch_norm(width, rngs))
        self.conv3, self.bn3 = conv2d(width, cout, 1, rngs=rngs), batch_norm(cout, rngs)
        self.downsample = _shortcut(cin, cout, stride, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out = jax.nn.relu(self.bn1(self.conv1(x)))
        out = jax.nn.relu(self.bn2(self.conv2(out)))
        return _residual(self.bn3(self.conv3(out)), x, self.downsample)


# depth: (block, blocks per layer), torchvision's table
DEPTHS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)),
          50: (Bottleneck, (3, 4, 6, 3)), 101: (Bottleneck, (3, 4, 23, 3)),
          152: (Bottleneck, (3, 8, 36, 3))}
# name: (depth, groups, width per group): torchvision's ResNeXts and wide ResNets
WIDER = {"resnext50_32x4d": (50, 32, 4), "resnext101_32x8d": (101, 32, 8),
         "resnext101_64x4d": (101, 64, 4), "wide_resnet50_2": (50, 1, 128),
         "wide_resnet101_2": (101, 1, 128)}
# torchvision's DEFAULT weights' eval transform (resize, crop, interpolation): V1 for
# resnet18/34, the new recipe's V2 (or resnext101_64x4d's only weights) for the others
IMAGENET_EVAL = {"resnet18": (256, 224, "bilinear"), "resnet34": (256, 224, "bilinear"),
                 **{name: (232, 224, "bilinear") for name in
                    ("resnet50", "resnet101", "resnet152", *WIDER)}}


class ResNet(PoolingClassifier, nnx.Module):
    """torchvision's ``resnet{depth}``: conv1..layer4, global pooling, fc (with bias)."""
    torchvision_head = True  # load_pretrained fills the classifier too
    features_layer = "layer4"
    layer_aliases = {"fc": "head.classifier"}

    def __init__(self, depth: int, *, num_classes: int, pooling: str = "gap",
                 mapping_resolution: int = 7, classifier_bias: bool = True, groups: int = 1,
                 width_per_group: int = 64, arch: str | None = None, rngs: nnx.Rngs):
        if depth not in DEPTHS:
            raise ValueError(f"ResNet depth must be one of {sorted(DEPTHS)}, got {depth!r}")
        if mapping_resolution not in (7, 14, 28):
            raise ValueError(f"mapping_resolution must be 7, 14 or 28 (at 224), "
                             f"got {mapping_resolution!r}")
        block, counts = DEPTHS[depth]
        self.arch = arch or f"resnet{depth}"
        if self.arch in IMAGENET_EVAL:
            self.imagenet_eval = IMAGENET_EVAL[self.arch]
        self.conv1, self.bn1 = conv2d(3, 64, 7, stride=2, rngs=rngs), batch_norm(64, rngs)
        cin = 64
        for index, (planes, blocks, stride) in enumerate(zip(WIDTHS, counts, STRIDES), start=1):
            if (index == 4 and mapping_resolution >= 14) or (index == 3 and
                                                              mapping_resolution == 28):
                stride = 1
            layer = []
            for b in range(blocks):
                layer.append(block(cin, planes, stride=stride if b == 0 else 1, groups=groups,
                                   width_per_group=width_per_group, rngs=rngs))
                cin = planes * block.expansion
            setattr(self, f"layer{index}", nnx.List(layer))
        self.head = PoolingHead(cin, num_classes, pooling=pooling, use_bias=classifier_bias,
                                rngs=rngs)

    def backbone(self, images: jax.Array) -> jax.Array:
        """layer4 output (B, h, w, K): the CAM's features."""
        x = jax.nn.relu(self.bn1(self.conv1(images)))
        x = max_pool2d(x, 3, 2, 1)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            for block in layer:
                x = block(x)
        return x

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = self.backbone(images)
        return self.head(features), features


for _depth in DEPTHS:
    register(f"resnet{_depth}")(functools.partial(ResNet, _depth))
for _name, (_depth, _groups, _width) in WIDER.items():
    register(_name)(functools.partial(ResNet, _depth, groups=_groups, width_per_group=_width,
                                      arch=_name))


@register("resnet50_gap")
class ResNet50GAP(WsolNetwork, ResNet):
    """ResNet-50 conv1..layer4, global pooling, dense without bias (features: layer4, 2048 ch).

    ``load_pretrained`` fills the backbone only; the dense layer keeps its initialisation.
    """
    torchvision_head = False
    ADL_AFTER = {"layer3": (0,), "layer4": (0, 2)}   # wsolevaluation's _ADL_POSITION

    def __init__(self, *, num_classes: int, pooling: str = "gap", mapping_resolution: int = 7,
                 classifier_bias: bool = False, wsol_method: str = "cam",
                 acol_threshold: float = 0.7, adl_drop_rate: float = 0.75,
                 adl_threshold: float = 0.9, rngs: nnx.Rngs):
        super().__init__(50, num_classes=num_classes, pooling=pooling,
                         mapping_resolution=mapping_resolution,
                         classifier_bias=classifier_bias, rngs=rngs)
        self.init_wsol(wsol_method, num_classes=num_classes, pooling=pooling, features=2048,
                       acol_input=2048, acol_init="he", spg_channels=(1024, 1024, 1024, 512),
                       adl_drop_rate=adl_drop_rate, adl_threshold=adl_threshold,
                       acol_threshold=acol_threshold, rngs=rngs,
                       head=None if wsol_method == "acol" else self.head)

    def trunk(self, images: jax.Array) -> dict:
        taps = {}
        x = max_pool2d(jax.nn.relu(self.bn1(self.conv1(images))), 3, 2, 1)
        for name in ("layer1", "layer2", "layer3", "layer4"):
            layer = getattr(self, name)
            for index, block in enumerate(layer):
                x = block(x)
                if index in self.ADL_AFTER.get(name, ()):
                    x = self.maybe_adl(x)
                if name == "layer3" and index in (0, len(layer) - 1):
                    taps["b1" if index == 0 else "b2"] = x
        taps["features"] = x
        return taps
