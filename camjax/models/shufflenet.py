"""torchvision's ShuffleNet V2 (``shufflenet_v2_x0_5``, ``x1_0``, ``x1_5``, ``x2_0``) as it is.

``conv1`` (3x3/2 conv, BN, ReLU; torch's ``conv1.0``..``conv1.2``), a 3x3/2 max pool with
padding 1, ``stage2``..``stage4`` of shuffle units, ``conv5`` (1x1 conv, BN, ReLU): its output
is ``features`` (1024 channels, 2048 for x2_0; 7x7 at 224), then the global mean and ``fc``
(``head.classifier``). A unit with stride 2 runs ``branch1`` (3x3/2 depthwise conv, BN, 1x1
conv, BN, ReLU) and ``branch2`` (1x1 conv, BN, ReLU, 3x3 depthwise conv, BN, 1x1 conv, BN,
ReLU) on its input and concatenates them; with stride 1 it splits the channels in halves,
keeps the first and runs ``branch2`` on the second. Then the channel shuffle with 2 groups.
BatchNorm eps 1e-5. Sequential indices are torchvision's (``stage3.0.branch2.3`` is the
depthwise conv).
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

from camjax.models.heads import PoolingClassifier, PoolingHead
from camjax.models.layers import Activation, MaxPool2d, Sequential, batch_norm, conv2d
from camjax.models.registry import register
from camjax.models.torch_layout import TorchLayout

REPEATS = (4, 8, 4)  # units in stage2, stage3, stage4
# name: (channels of conv1, stage2, stage3, stage4, conv5), torchvision's table
CHANNELS = {"shufflenet_v2_x0_5": (24, 48, 96, 192, 1024),
            "shufflenet_v2_x1_0": (24, 116, 232, 464, 1024),
            "shufflenet_v2_x1_5": (24, 176, 352, 704, 1024),
            "shufflenet_v2_x2_0": (24, 244, 488, 976, 2048)}
# torchvision's DEFAULT weights' eval transform: (resize, crop, interpolation)
EVAL = {"shufflenet_v2_x0_5": (256, 224, "bilinear"), "shufflenet_v2_x1_0": (256, 224, "bilinear"),
        "shufflenet_v2_x1_5": (232, 224, "bilinear"), "shufflenet_v2_x2_0": (232, 224, "bilinear")}


def channel_shuffle(x: jax.Array, groups: int) -> jax.Array:
    """torchvision's ``channel_shuffle`` on NHWC: channel ``g * (C / groups) + j`` moves to
    ``j * groups + g``."""
    b, h, w, c = x.shape
    return x.reshape(b, h, w, groups, c // groups).swapaxes(-1, -2).reshape(b, h, w, c)


class InvertedResidual(nnx.Module):
    """A ShuffleNet V2 unit (torchvision's ``InvertedResidual``)."""

    def __init__(self, cin: int, cout: int, stride: int, *, rngs: nnx.Rngs):
        half = cout // 2
        self.stride = stride
        # torch's branch1 is an empty nn.Sequential when stride is 1: nothing to run
        self.branch1 = None if stride == 1 else Sequential([
            conv2d(cin, cin, 3, stride=stride, groups=cin, rngs=rngs), batch_norm(cin, rngs),
            conv2d(cin, half, 1, rngs=rngs), batch_norm(half, rngs), Activation("relu")])
        self.branch2 = Sequential([
            conv2d(cin if stride > 1 else half, half, 1, rngs=rngs), batch_norm(half, rngs),
            Activation("relu"),
            conv2d(half, half, 3, stride=stride, groups=half, rngs=rngs), batch_norm(half, rngs),
            conv2d(half, half, 1, rngs=rngs), batch_norm(half, rngs), Activation("relu")])

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.stride == 1:
            kept, x = jnp.split(x, 2, axis=-1)
            out = jnp.concatenate([kept, self.branch2(x)], axis=-1)
        else:
            out = jnp.concatenate([self.branch1(x), self.branch2(x)], axis=-1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(TorchLayout, PoolingClassifier, nnx.Module):
    """torchvision's ``shufflenet_v2_*``: conv1, maxpool, stage2..4, conv5, mean, fc."""
    torchvision_head = True
    features_layer = "conv5"
    torch_renames = {"fc.": "head.classifier."}
    layer_aliases = {"fc": "head.classifier"}

    def __init__(self, arch: str, *, num_classes: int, pooling: str = "gap", rngs: nnx.Rngs):
        if arch not in CHANNELS:
            raise ValueError(f"ShuffleNet V2 must be one of {sorted(CHANNELS)}, got {arch!r}")
        self.arch, self.imagenet_eval = arch, EVAL[arch]
        stem, *stages, last = CHANNELS[arch]
        self.conv1 = Sequential([conv2d(3, stem, 3, stride=2, rngs=rngs), batch_norm(stem, rngs),
                                 Activation("relu")])
        self.maxpool = MaxPool2d(3, 2, 1)
        cin = stem
        for index, (repeats, cout) in enumerate(zip(REPEATS, stages), start=2):
            units = [InvertedResidual(cin, cout, 2, rngs=rngs)]
            units += [InvertedResidual(cout, cout, 1, rngs=rngs) for _ in range(repeats - 1)]
            setattr(self, f"stage{index}", Sequential(units))
            cin = cout
        self.conv5 = Sequential([conv2d(cin, last, 1, rngs=rngs), batch_norm(last, rngs),
                                 Activation("relu")])
        self.head = PoolingHead(last, num_classes, pooling=pooling, use_bias=True, rngs=rngs)

    def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
        x = self.maxpool(self.conv1(images))
        features = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.head(features), features


for _arch in CHANNELS:
    register(_arch)(functools.partial(ShuffleNetV2, _arch))
