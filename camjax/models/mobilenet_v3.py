"""torchvision's MobileNetV3 as it is: ``mobilenet_v3_small``, ``mobilenet_v3_large``.

Layout and names are torchvision's: ``features[0]`` is a 3x3/2 conv, BN, Hardswish (16
channels); ``features[1 .. n]`` inverted residuals from torchvision's table (``block``:
[1x1 expansion conv, BN, act], depthwise k x k with the stride, BN, act, [squeeze-and-
excitation: squeeze to ``_make_divisible(expanded // 4)``, ReLU, Hardsigmoid], 1x1
projection conv, BN; plus the input when the stride is 1 and the widths match; act is ReLU
or Hardswish per row); ``features[n + 1]`` a 1x1 conv to 6x the last width, BN, Hardswish:
the output of ``features`` (576 channels small, 960 large; 7x7 at 224) is the default layer
of the gradient methods. BatchNorm eps 1e-3, momentum 0.01.

After pooling comes a hidden layer: ``classifier`` is Linear (to 1024 / 1280), Hardswish,
dropout 0.2, Linear. A class score is therefore not a weighted sum of the pooled features
and there is no exact CAM: ``cam_weights`` refuses; Grad-CAM, Grad-CAM++, LayerCAM and
Score-CAM work through ``classify``.
"""
from __future__ import annotations

import functools

import jax
from flax import nnx

from camjax.errors import ModelError
from camjax.models.blocks import SqueezeExcitation, check_pooling, conv_norm_act
from camjax.models.heads import PoolingClassifier
from camjax.models.layers import Activation, Sequential, make_divisible
from camjax.models.torch_layout import TorchLayout
from camjax.models.registry import register

# (in, kernel, expanded, out, SE, activation, stride): torchvision's tables (width 1.0)
LARGE = ((16, 3, 16, 16, False, "relu", 1), (16, 3, 64, 24, False, "relu", 2),
         (24, 3, 72, 24, False, "relu", 1), (24, 5, 72, 40, True, "relu", 2),
         (40, 5, 120, 40, True, "relu", 1), (40, 5, 120, 40, True, "relu", 1),
         (40, 3, 240, 80, False, "hardswish", 2), (80, 3, 200, 80, False, "hardswish", 1),
         (80, 3, 184, 80, False, "hardswish", 1), (80, 3, 184, 80, False, "hardswish", 1),
         (80, 3, 480, 112, True, "hardswish", 1), (112, 3, 672, 112, True, "hardswish", 1),
         (112, 5, 672, 160, True, "hardswish", 2), (160, 5, 960, 160, True, "hardswish", 1),
         (160, 5, 960, 160, True, "hardswish", 1))
SMALL = ((16, 3, 16, 16, True, "relu", 2), (16, 3, 72, 24, False, "relu", 2),
         (24, 3, 88, 24, False, "relu", 1), (24, 5, 96, 40, True, "hardswish", 2),
         (40, 5, 240, 40, True, "hardswish", 1), (40, 5, 240, 40, True, "hardswish", 1),
         (40, 5, 120, 48, True, "hardswish", 1), (48, 5, 144, 48, True, "hardswish", 1),
         (48, 5, 288, 96, True, "hardswish", 2), (96, 5, 576, 96, True, "hardswish", 1),
         (96, 5, 576, 96, True, "hardswish", 1))
# name: (table, hidden width after pooling, torchvision DEFAULT weights' eval transform)
VARIANTS = {"mobilenet_v3_large": (LARGE, 1280, (232, 224, "bilinear")),
            "mobilenet_v3_small": (SMALL, 1024, (256, 224, "bilinear"))}
BN = {"eps": 1e-3, "momentum": 0.01}
DROPOUT = 0.2


class InvertedResidual(nnx.Module):
    """[1x1 expand, BN, act], depthwise, BN, act, [SE], 1x1 project, BN (+ input)."""

    def __init__(self, cin: int, kernel: int, wide: int, cout: int, use_se: bool,
                 activation: str, stride: int, *, rngs: nnx.Rngs):
        cna = functools.partial(conv_norm_act, rngs=rngs, **BN)
        layers = [cna(cin, wide, 1, activation=activation)] if wide != cin else []
        layers.append(cna(wide, wide, kernel, stride=stride, groups=wide,
                          activation=activation))
        if use_se:
            layers.append(SqueezeExcitation(wide, make_divisible(wide // 4),
                                            scale_activation="hardsigmoid", rngs=rngs))
        layers.append(cna(wide, cout, 1, activation=None))
        self.block = Sequential(layers)
        self.use_res_connect = stride == 1 and cin == cout

    def __call__(self, x: jax.Array) -> jax.Array:
        out = self.block(x)
        return x + out if self.use_res_connect else out


class MobileNetV3(TorchLayout, PoolingClassifier, nnx.Module):
    """torchvision's ``mobilenet_v3_*``: ``features``, global pooling, ``classifier``
    (Linear, Hardswish, Dropout, Linear): no exact CAM."""
    torchvision_head = True  # load_pretrained fills the classifier too
    features_layer = "features"
    classifier_path = ("classifier", 3)

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 rngs: nnx.Rngs):
        if arch not in VARIANTS:
            raise ValueError(f"unknown MobileNetV3 {arch!r}; one of {sorted(VARIANTS)}")
        self.arch, self.pooling = arch, check_pooling(pooling)
        table, hidden, self.imagenet_eval = VARIANTS[arch]
        features = [conv_norm_act(3, table[0][0], 3, stride=2, activation="hardswish",
                                  rngs=rngs, **BN)]
        features += [InvertedResidual(*row, rngs=rngs) for row in table]
        last = 6 * table[-1][3]
        features.append(conv_norm_act(table[-1][3], last, 1, activation="hardswish",
                                      rngs=rngs, **BN))
        self.features = Sequential(features)
        linear = functools.partial(nnx.Linear, kernel_init=nnx.initializers.normal(0.01),
                                   rngs=rngs)
        self.classifier = Sequential([linear(last, hidden), Activation("hardswish"),
                                      nnx.Dropout(DROPOUT, rngs=rngs),
                                      linear(hidden, num_classes)])

    def backbone(self, images: jax.Array) -> jax.Array:
        """The output of ``features`` (B, h, w, K): the gradient methods' default layer."""
        return self.features(images)

    def cam_weights(self, features: jax.Array | None = None) -> jax.Array:
        raise ModelError(
            f"{self.arch} has a hidden layer (Linear + Hardswish) after pooling: no exact "
            "CAM; use grad_cam, grad_cam_plus_plus, layer_cam or score_cam")


for _name in VARIANTS:
    register(_name)(functools.partial(MobileNetV3, _name))
