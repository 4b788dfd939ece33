"""torchvision's MNASNets as they are: ``mnasnet0_5``, ``mnasnet0_75``, ``mnasnet1_0``,
``mnasnet1_3`` (the B1 variant, torchvision's version 2: the stem scales with the width).

Layout and names are torchvision's: one ``layers`` sequence, ``layers[0..7]`` the stem
(3x3/2 conv, BN, ReLU, depthwise 3x3, BN, ReLU, 1x1 conv, BN), ``layers[8..13]`` six stacks
of inverted residuals (``layers[i][j].layers``: 1x1 expansion conv, BN, ReLU, depthwise
k x k with the stride, BN, ReLU, 1x1 projection conv, BN; plus the input when the stride is
1 and the widths match), ``layers[14..16]`` a 1x1 conv to 1280 channels, BN, ReLU. The output
of ``layers`` is the CAM's features; the mean over space, ``classifier[0]`` (dropout 0.2)
and ``classifier[1]`` (linear) follow, so ``cam_weights`` is exact. Widths are torchvision's
``_round_to_multiple_of(width * alpha, 8)``; BatchNorm eps 1e-5, momentum 0.0003 (TF's
0.9997).

Files saved before torchvision's version 2 (its first ``mnasnet0_5`` download,
``mnasnet0.5_top1_67.592``) have the stem at width 1.0 (32 and 16 channels); torchvision
rebuilds that stem when it loads them, camjax does not build it (``load_pretrained`` names
such a file). torchvision's current ``mnasnet0_5`` weights are version 2.
"""
from __future__ import annotations

import functools

import jax
from flax import nnx

from camjax.models.blocks import check_pooling
from camjax.models.heads import PoolingClassifier
from camjax.models.layers import Activation, Sequential, batch_norm, conv2d
from camjax.models.torch_layout import TorchLayout
from camjax.models.registry import register

ALPHAS = {"mnasnet0_5": 0.5, "mnasnet0_75": 0.75, "mnasnet1_0": 1.0, "mnasnet1_3": 1.3}
DEPTHS = (32, 16, 24, 40, 80, 96, 192, 320)
# (kernel, stride, expansion, repeats) of the six stacks
STACKS = ((3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4), (3, 1, 6, 1))
LAST_CHANNELS, DROPOUT = 1280, 0.2
BN = {"momentum": 1 - 0.9997}
# torchvision's DEFAULT weights: the 0.75 and 1.3 ones were trained with the new recipe
IMAGENET_EVAL = {"mnasnet0_5": (256, 224, "bilinear"), "mnasnet0_75": (232, 224, "bilinear"),
                 "mnasnet1_0": (256, 224, "bilinear"), "mnasnet1_3": (232, 224, "bilinear")}


def round_to_multiple_of(value: float, divisor: int, round_up_bias: float = 0.9) -> int:
    """torchvision's MNASNet rounding: to the nearest multiple, but up when rounding down
    would lose more than 10%: (83, 8) -> 80, (84, 8) -> 88."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded if rounded >= round_up_bias * value else rounded + divisor


def depths(alpha: float) -> list[int]:
    """Widths of the stem (2) and the six stacks."""
    return [round_to_multiple_of(d * alpha, 8) for d in DEPTHS]


class InvertedResidual(nnx.Module):
    """1x1 expand, BN, ReLU, depthwise k x k with the stride, BN, ReLU, 1x1 project, BN."""

    def __init__(self, cin: int, cout: int, *, kernel: int, stride: int, expansion: int,
                 rngs: nnx.Rngs):
        mid = cin * expansion
        bn = functools.partial(batch_norm, rngs=rngs, **BN)
        self.layers = Sequential([
            conv2d(cin, mid, 1, rngs=rngs), bn(mid), Activation("relu"),
            conv2d(mid, mid, kernel, stride=stride, groups=mid, rngs=rngs), bn(mid),
            Activation("relu"), conv2d(mid, cout, 1, rngs=rngs), bn(cout)])
        self.apply_residual = cin == cout and stride == 1

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.layers(x) + x if self.apply_residual else self.layers(x)


class MNASNet(TorchLayout, PoolingClassifier, nnx.Module):
    """torchvision's ``mnasnet*``: ``layers``, the mean over space, ``classifier``."""
    torchvision_head = True  # load_pretrained fills the classifier too
    features_layer = "layers"
    classifier_path = ("classifier", 1)

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap",
                 rngs: nnx.Rngs):
        if arch not in ALPHAS:
            raise ValueError(f"unknown MNASNet {arch!r}; one of {sorted(ALPHAS)}")
        self.arch, self.pooling = arch, check_pooling(pooling)
        self.imagenet_eval = IMAGENET_EVAL[arch]
        d = depths(ALPHAS[arch])
        bn = functools.partial(batch_norm, rngs=rngs, **BN)
        layers = [conv2d(3, d[0], 3, stride=2, rngs=rngs), bn(d[0]), Activation("relu"),
                  conv2d(d[0], d[0], 3, groups=d[0], rngs=rngs), bn(d[0]), Activation("relu"),
                  conv2d(d[0], d[1], 1, rngs=rngs), bn(d[1])]
        for (kernel, stride, expansion, repeats), cin, cout in zip(STACKS, d[1:], d[2:]):
            layers.append(Sequential([
                InvertedResidual(cin if i == 0 else cout, cout, kernel=kernel,
                                 stride=stride if i == 0 else 1, expansion=expansion,
                                 rngs=rngs) for i in range(repeats)]))
        layers += [conv2d(d[-1], LAST_CHANNELS, 1, rngs=rngs), bn(LAST_CHANNELS),
                   Activation("relu")]
        self.layers = Sequential(layers)
        # torchvision: kaiming_uniform_(fan_out, "sigmoid"), i.e. U(-sqrt(3 / C), sqrt(3 / C))
        init = nnx.initializers.variance_scaling(1.0, "fan_out", "uniform")
        self.classifier = Sequential([nnx.Dropout(DROPOUT, rngs=rngs),
                                      nnx.Linear(LAST_CHANNELS, num_classes, kernel_init=init,
                                                 rngs=rngs)])

    def backbone(self, images: jax.Array) -> jax.Array:
        """The output of ``layers`` (B, h, w, 1280): the CAM's features."""
        return self.layers(images)


for _name in ALPHAS:
    register(_name)(functools.partial(MNASNet, _name))
