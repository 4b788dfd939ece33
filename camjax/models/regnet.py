"""torchvision's RegNets as they are: ``regnet_y_400mf`` ... ``regnet_y_128gf`` and
``regnet_x_400mf`` ... ``regnet_x_32gf``.

Layout and names are torchvision's: ``stem`` (3x3/2 conv, BN, ReLU, 32 channels),
``trunk_output.block{i}`` the four stages, each block ``trunk_output.block{i}.block{i}-{j}``
a residual bottleneck: ``proj`` (1x1 conv with the stride, BN; when the shape changes),
``f.a`` (1x1 conv, BN, ReLU), ``f.b`` (3x3 grouped conv with the stride, BN, ReLU),
``f.se`` (RegNetY only: squeeze to round(0.25 * block input width), ReLU, sigmoid),
``f.c`` (1x1 conv, BN), then ``activation`` (ReLU) of the sum. The output of
``trunk_output`` is the CAM's features; global pooling and ``fc`` follow, so
``cam_weights`` is exact. BatchNorm eps 1e-5, momentum 0.1.

Stage widths, depths and group widths come from the RegNet parameters (depth, w_0, w_a,
w_m, group width) by torchvision's ``BlockParams.from_init_params``, computed here in
float32 as torch computes it (``block_params``).
"""
from __future__ import annotations

import functools

import jax
import numpy as np
from flax import nnx

from camjax.models.blocks import SqueezeExcitation, check_pooling, conv_norm_act
from camjax.models.heads import PoolingClassifier
from camjax.models.layers import Activation, NamedSequential, make_divisible
from camjax.models.torch_layout import TorchLayout
from camjax.models.registry import register

# name: (depth, w_0, w_a, w_m, group width, SE ratio): torchvision's builders
REGNETS = {
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25),
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
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168, None),
}
STEM_WIDTH = 32
# torchvision's DEFAULT weights: IMAGENET1K_V2 (resize 232, crop 224, bilinear), except
# regnet_y_128gf, whose only ImageNet weights are SWAG E2E (384, 384, bicubic)
IMAGENET_EVAL = {name: (232, 224, "bilinear") for name in REGNETS}
IMAGENET_EVAL["regnet_y_128gf"] = (384, 384, "bicubic")


def block_params(depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
                 bottleneck_multiplier: float = 1.0):
    """(stage widths, stage depths, group widths) as ``BlockParams.from_init_params``:
    block widths quantised to multiples of 8 in log space, consecutive equal widths form a
    stage, then widths and groups made compatible. float32 throughout, as in torch."""
    f32 = np.float32
    widths_cont = np.arange(depth, dtype=f32) * f32(w_a) + f32(w_0)
    capacity = np.round(np.log(widths_cont / f32(w_0)) / f32(np.log(w_m)))
    block_widths = (np.round(f32(w_0) * np.power(f32(w_m), capacity) / f32(8)) * 8)
    block_widths = [int(w) for w in block_widths.astype(np.int32)]
    starts = [i for i, w in enumerate(block_widths) if i == 0 or w != block_widths[i - 1]]
    widths = [block_widths[i] for i in starts]
    depths = [b - a for a, b in zip(starts, starts[1:] + [depth])]
    bottleneck = [int(w * bottleneck_multiplier) for w in widths]
    groups = [min(group_width, w) for w in bottleneck]
    widths = [int(make_divisible(w, g) / bottleneck_multiplier)
              for w, g in zip(bottleneck, groups)]
    return widths, depths, groups


class ResBottleneckBlock(nnx.Module):
    """``activation(proj(x) + f(x))`` (``x + f(x)`` without ``proj``)."""

    def __init__(self, cin: int, cout: int, *, stride: int, group_width: int,
                 se_ratio: float | None, rngs: nnx.Rngs):
        cna = functools.partial(conv_norm_act, rngs=rngs)
        self.proj = (cna(cin, cout, 1, stride=stride, activation=None)
                     if cin != cout or stride != 1 else None)
        layers = {"a": cna(cin, cout, 1),
                  "b": cna(cout, cout, 3, stride=stride, groups=cout // group_width)}
        if se_ratio:
            layers["se"] = SqueezeExcitation(cout, int(round(se_ratio * cin)), rngs=rngs)
        layers["c"] = cna(cout, cout, 1, activation=None)
        self.f = NamedSequential(layers)
        self.activation = Activation("relu")

    def __call__(self, x: jax.Array) -> jax.Array:
        shortcut = x if self.proj is None else self.proj(x)
        return self.activation(shortcut + self.f(x))


class RegNet(TorchLayout, PoolingClassifier, nnx.Module):
    """torchvision's ``regnet_*``: ``stem``, ``trunk_output``, global pooling, ``fc``."""
    torchvision_head = True  # load_pretrained fills the classifier too
    features_layer = "trunk_output"
    classifier_path = ("fc",)

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 rngs: nnx.Rngs):
        if arch not in REGNETS:
            raise ValueError(f"unknown RegNet {arch!r}; one of {sorted(REGNETS)}")
        self.arch, self.pooling = arch, check_pooling(pooling)
        self.imagenet_eval = IMAGENET_EVAL[arch]
        depth, w_0, w_a, w_m, group_width, se_ratio = REGNETS[arch]
        self.stem = conv_norm_act(3, STEM_WIDTH, 3, stride=2, rngs=rngs)
        stages, cin = {}, STEM_WIDTH
        for i, (width, n, group) in enumerate(zip(*block_params(depth, w_0, w_a, w_m,
                                                                group_width)), start=1):
            blocks = {}
            for j in range(n):
                blocks[f"block{i}-{j}"] = ResBottleneckBlock(
                    cin, width, stride=2 if j == 0 else 1, group_width=group,
                    se_ratio=se_ratio, rngs=rngs)
                cin = width
            stages[f"block{i}"] = NamedSequential(blocks)
        self.trunk_output = NamedSequential(stages)
        self.fc = nnx.Linear(cin, num_classes, kernel_init=nnx.initializers.normal(0.01),
                             rngs=rngs)

    def backbone(self, images: jax.Array) -> jax.Array:
        """The output of ``trunk_output`` (B, h, w, K): the CAM's features."""
        return self.trunk_output(self.stem(images))


for _name in REGNETS:
    register(_name)(functools.partial(RegNet, _name))
