"""torchvision's EfficientNets as they are: ``efficientnet_b0`` ... ``efficientnet_b7``
(MBConv) and ``efficientnet_v2_s/m/l`` (FusedMBConv, then MBConv).

Layout and names are torchvision's: ``features[0]`` is the 3x3/2 stem (conv, BN, SiLU),
``features[1 .. n]`` the stages (``features[i][j]`` a block whose ``block`` holds its layers
and ``stochastic_depth`` its residual drop), ``features[n + 1]`` the last 1x1 conv, BN, SiLU:
the output of ``features`` is the CAM's features. Then global pooling, ``classifier[0]``
(dropout), ``classifier[1]`` (linear), so ``cam_weights`` is exact.

An MBConv is [1x1 expansion conv, BN, SiLU when the expansion is not 1], a depthwise k x k
conv with the stride, BN, SiLU, a squeeze-and-excitation (squeeze to max(1, in // 4), SiLU,
sigmoid), a 1x1 projection conv and BN; a FusedMBConv is a k x k conv with the stride, BN,
SiLU [and a 1x1 projection conv and BN when the expansion is not 1]. Blocks with stride 1
and equal widths add their input, the branch dropped in training with probability
0.2 * block index / number of blocks (torchvision's stochastic depth; identity in eval).
B0..B7 scale the widths and depths of torchvision's table (``_make_divisible`` widths,
``ceil`` depths). BatchNorm: eps 1e-5, momentum 0.1 for B0..B4; eps 1e-3, momentum 0.01
for B5..B7 (their weights come from TF); eps 1e-3, momentum 0.1 for V2.
"""
from __future__ import annotations

import functools
import math

import jax
from flax import nnx

from camjax.models.blocks import (SqueezeExcitation, check_pooling, conv_norm_act,
                                  stochastic_depth)
from camjax.models.heads import PoolingClassifier
from camjax.models.layers import Sequential, make_divisible
from camjax.models.torch_layout import TorchLayout
from camjax.models.registry import register

# (block, expand ratio, kernel, stride, in, out, layers): torchvision's tables
V1_STAGES = (("mb", 1, 3, 1, 32, 16, 1), ("mb", 6, 3, 2, 16, 24, 2), ("mb", 6, 5, 2, 24, 40, 2),
             ("mb", 6, 3, 2, 40, 80, 3), ("mb", 6, 5, 1, 80, 112, 3),
             ("mb", 6, 5, 2, 112, 192, 4), ("mb", 6, 3, 1, 192, 320, 1))
V2_STAGES = {
    "s": (("fused", 1, 3, 1, 24, 24, 2), ("fused", 4, 3, 2, 24, 48, 4),
          ("fused", 4, 3, 2, 48, 64, 4), ("mb", 4, 3, 2, 64, 128, 6),
          ("mb", 6, 3, 1, 128, 160, 9), ("mb", 6, 3, 2, 160, 256, 15)),
    "m": (("fused", 1, 3, 1, 24, 24, 3), ("fused", 4, 3, 2, 24, 48, 5),
          ("fused", 4, 3, 2, 48, 80, 5), ("mb", 4, 3, 2, 80, 160, 7),
          ("mb", 6, 3, 1, 160, 176, 14), ("mb", 6, 3, 2, 176, 304, 18),
          ("mb", 6, 3, 1, 304, 512, 5)),
    "l": (("fused", 1, 3, 1, 32, 32, 4), ("fused", 4, 3, 2, 32, 64, 7),
          ("fused", 4, 3, 2, 64, 96, 7), ("mb", 4, 3, 2, 96, 192, 10),
          ("mb", 6, 3, 1, 192, 224, 19), ("mb", 6, 3, 2, 224, 384, 25),
          ("mb", 6, 3, 1, 384, 640, 7))}
_TF_BN, _V2_BN = {"eps": 1e-3, "momentum": 0.01}, {"eps": 1e-3, "momentum": 0.1}
# name: (width mult, depth mult, dropout, BatchNorm, torchvision DEFAULT weights' eval
# transform (resize, crop, interpolation))
V1 = {"efficientnet_b0": (1.0, 1.0, 0.2, {}, (256, 224, "bicubic")),
      "efficientnet_b1": (1.0, 1.1, 0.2, {}, (255, 240, "bilinear")),
      "efficientnet_b2": (1.1, 1.2, 0.3, {}, (288, 288, "bicubic")),
      "efficientnet_b3": (1.2, 1.4, 0.3, {}, (320, 300, "bicubic")),
      "efficientnet_b4": (1.4, 1.8, 0.4, {}, (384, 380, "bicubic")),
      "efficientnet_b5": (1.6, 2.2, 0.4, _TF_BN, (456, 456, "bicubic")),
      "efficientnet_b6": (1.8, 2.6, 0.5, _TF_BN, (528, 528, "bicubic")),
      "efficientnet_b7": (2.0, 3.1, 0.5, _TF_BN, (600, 600, "bicubic"))}
# name: (size, dropout, eval transform); the last conv has 1280 channels
V2 = {"efficientnet_v2_s": ("s", 0.2, (384, 384, "bilinear")),
      "efficientnet_v2_m": ("m", 0.3, (480, 480, "bilinear")),
      "efficientnet_v2_l": ("l", 0.4, (480, 480, "bicubic"))}
STOCHASTIC_DEPTH = 0.2
IMAGENET_NORMALIZATION_HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))  # efficientnet_v2_l's


def stages(arch: str) -> tuple[tuple, ...]:
    """The stage table of ``arch`` after width and depth scaling (torchvision's
    ``MBConvConfig``: ``_make_divisible(c * width)``, ``ceil(n * depth)``)."""
    if arch in V2:
        return V2_STAGES[V2[arch][0]]
    width, depth = V1[arch][:2]
    return tuple((kind, e, k, s, make_divisible(cin * width), make_divisible(cout * width),
                  int(math.ceil(n * depth))) for kind, e, k, s, cin, cout, n in V1_STAGES)


class MBConv(nnx.Module):
    """[1x1 expand, BN, SiLU], depthwise k x k, BN, SiLU, SE, 1x1 project, BN (+ input)."""

    def __init__(self, cin: int, cout: int, *, expand: float, kernel: int, stride: int,
                 drop: float, bn: dict, rngs: nnx.Rngs):
        wide = make_divisible(cin * expand)
        cna = functools.partial(conv_norm_act, rngs=rngs, **bn)
        layers = [cna(cin, wide, 1, activation="silu")] if wide != cin else []
        layers += [cna(wide, wide, kernel, stride=stride, groups=wide, activation="silu"),
                   SqueezeExcitation(wide, max(1, cin // 4), activation="silu", rngs=rngs),
                   cna(wide, cout, 1, activation=None)]
        self.block = Sequential(layers)
        self.stochastic_depth = stochastic_depth(drop, rngs)
        self.use_res_connect = stride == 1 and cin == cout

    def __call__(self, x: jax.Array) -> jax.Array:
        out = self.block(x)
        return x + self.stochastic_depth(out) if self.use_res_connect else out


class FusedMBConv(MBConv):
    """k x k conv with the stride, BN, SiLU [, 1x1 project, BN] (+ input); no SE."""

    def __init__(self, cin: int, cout: int, *, expand: float, kernel: int, stride: int,
                 drop: float, bn: dict, rngs: nnx.Rngs):
        wide = make_divisible(cin * expand)
        cna = functools.partial(conv_norm_act, rngs=rngs, **bn)
        if wide != cin:
            layers = [cna(cin, wide, kernel, stride=stride, activation="silu"),
                      cna(wide, cout, 1, activation=None)]
        else:
            layers = [cna(cin, cout, kernel, stride=stride, activation="silu")]
        self.block = Sequential(layers)
        self.stochastic_depth = stochastic_depth(drop, rngs)
        self.use_res_connect = stride == 1 and cin == cout


BLOCKS = {"mb": MBConv, "fused": FusedMBConv}


class EfficientNet(TorchLayout, PoolingClassifier, nnx.Module):
    """torchvision's ``efficientnet_*``: ``features``, global pooling, ``classifier``."""
    torchvision_head = True  # load_pretrained fills the classifier too
    features_layer = "features"
    classifier_path = ("classifier", 1)

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 rngs: nnx.Rngs):
        if arch not in V1 and arch not in V2:
            raise ValueError(f"unknown EfficientNet {arch!r}; one of {sorted(V1) + sorted(V2)}")
        self.arch, self.pooling = arch, check_pooling(pooling)
        if arch in V1:
            width, _, dropout, bn, self.imagenet_eval = V1[arch]
            last = 4 * make_divisible(320 * width)
        else:
            _, dropout, self.imagenet_eval = V2[arch]
            bn, last = _V2_BN, 1280
        if arch == "efficientnet_v2_l":  # its weights were trained on inputs in [-1, 1]
            self.imagenet_normalization = IMAGENET_NORMALIZATION_HALF
        table = stages(arch)
        total, index = sum(row[-1] for row in table), 0
        features = [conv_norm_act(3, table[0][4], 3, stride=2, activation="silu", rngs=rngs,
                                  **bn)]
        for kind, expand, kernel, stride, cin, cout, n in table:
            stage = []
            for i in range(n):
                stage.append(BLOCKS[kind](cin if i == 0 else cout, cout, expand=expand,
                                          kernel=kernel, stride=stride if i == 0 else 1,
                                          drop=STOCHASTIC_DEPTH * index / total, bn=bn,
                                          rngs=rngs))
                index += 1
            features.append(Sequential(stage))
        features.append(conv_norm_act(table[-1][5], last, 1, activation="silu", rngs=rngs,
                                      **bn))
        self.features = Sequential(features)
        # torchvision: uniform(-1/sqrt(C), 1/sqrt(C)) for the linear layer
        init = nnx.initializers.variance_scaling(1 / 3, "fan_out", "uniform")
        self.classifier = Sequential([nnx.Dropout(dropout, rngs=rngs),
                                      nnx.Linear(last, num_classes, kernel_init=init,
                                                 rngs=rngs)])

    def backbone(self, images: jax.Array) -> jax.Array:
        """The output of ``features`` (B, h, w, K): the CAM's features."""
        return self.features(images)


for _name in (*V1, *V2):
    register(_name)(functools.partial(EfficientNet, _name))
